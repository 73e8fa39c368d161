"""DynamoDB attribute marshalling for the low-level client (lighter than boto3 resources)."""

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def to_attr(value: Any) -> dict[str, Any]:
    attribute: dict[str, Any] = _serializer.serialize(_plain(value))  # type: ignore[assignment, unused-ignore]
    return attribute


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    return {k: to_attr(v) for k, v in data.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}
