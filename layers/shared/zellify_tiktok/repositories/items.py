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


def to_attr(value: Any) -> dict:
    return _serializer.serialize(_plain(value))


def to_item(data: dict) -> dict:
    return {k: to_attr(v) for k, v in data.items() if v is not None}


def from_item(item: dict) -> dict:
    return {k: _native(_deserializer.deserialize(v)) for k, v in item.items()}


def _native(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, dict):
        return {k: _native(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_native(v) for v in value]
    if isinstance(value, set):
        return [_native(v) for v in value]
    return value
