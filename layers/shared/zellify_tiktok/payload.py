"""TikTok's Events API JSON (docs/tiktok.md): the one place our values become TikTok's wire format. Pure."""

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from .server_event import ServerEvent


def json_number(value: Decimal) -> int | float:
    """TikTok wants numbers, never strings: whole values as ints, the rest as the nearest float."""
    return int(value) if value == value.to_integral_value() else float(value)


def tiktok_event(event: ServerEvent, user: dict[str, str] | None = None) -> dict[str, Any]:
    """TikTok's JSON for one event; `user` is the visitor's `user` object when the caller has it already."""
    body: dict[str, Any] = {"event": event.name, "event_time": event.event_time, "event_id": event.event_id,
                            "user": event.user.present() if user is None else user}
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


_ENCODER = json.JSONEncoder(separators=(",", ":"))


def track_json(pixel_id: str, events: Sequence[ServerEvent], test_event_code: str | None = None) -> bytes:
    """The /event/track/ request body, as bytes on the wire."""
    return _ENCODER.encode(track_body(pixel_id, events, test_event_code)).encode()


def track_body(pixel_id: str, events: Sequence[ServerEvent], test_event_code: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"event_source": "web", "event_source_id": pixel_id}
    if test_event_code:
        body["test_event_code"] = test_event_code
    # The events of a beacon share one visitor: their `user` object is made once.
    users: dict[int, dict[str, str]] = {}
    body["data"] = [tiktok_event(event, users.get(id(event.user)) or users.setdefault(id(event.user),
                                                                                    event.user.present()))
                    for event in events]
    return body
