"""TikTok's Events API JSON (docs/tiktok.md): the one place our values become TikTok's wire format. Pure."""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson

from .server_event import ServerEvent


def json_number(value: Decimal) -> int | float:
    """TikTok wants numbers, never strings: whole values as ints, the rest as the nearest float."""
    return int(value) if value == value.to_integral_value() else float(value)


def tiktok_event(event: ServerEvent) -> dict[str, Any]:
    """TikTok's JSON for one event (its `user` object is the visitor's, shared by the events of a beacon)."""
    body: dict[str, Any] = {"event": event.name, "event_time": event.event_time, "event_id": event.event_id,
                            "user": event.user.present()}
    if event.page_url:
        page = {"url": event.page_url}
        if event.page_referrer:
            page["referrer"] = event.page_referrer
        body["page"] = page
    properties: dict[str, Any] = {}
    if event.value is not None and event.currency:
        properties["value"] = json_number(event.value)
        properties["currency"] = event.currency
    if event.contents:
        properties["contents"] = [
            {**item.as_dict(), **({"price": json_number(item.price)} if item.price is not None else {})}
            for item in event.contents
        ]
    if event.content_type:
        properties["content_type"] = event.content_type
    if event.num_items is not None:
        properties["num_items"] = event.num_items
    if event.content_name:
        properties["content_name"] = event.content_name
    if properties:
        body["properties"] = properties
    body["limited_data_use"] = event.limited_data_use
    return body


def track_json(pixel_id: str, events: Sequence[ServerEvent], test_event_code: str | None = None) -> bytes:
    """The /event/track/ request body, as bytes on the wire (orjson: compact UTF-8)."""
    return orjson.dumps(track_body(pixel_id, events, test_event_code))


def track_body(pixel_id: str, events: Sequence[ServerEvent], test_event_code: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"event_source": "web", "event_source_id": pixel_id}
    if test_event_code:
        body["test_event_code"] = test_event_code
    body["data"] = [tiktok_event(event) for event in events]
    return body
