"""Events API payload building (reference/tiktok.md): pure functions, no I/O."""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .beacon import BeaconEvent
from .campaign import Campaign
from .events import EVENT_TABLE, tiktok_event_name

USER_KEYS = ("external_id", "email", "ttp", "ttclid", "ip", "user_agent")


def json_number(value: Decimal) -> int | float:
    """TikTok wants numbers, never strings: whole values as ints, the rest as the nearest float."""
    return int(value) if value == value.to_integral_value() else float(value)


def user_data(session: Mapping[str, Any]) -> dict:
    """Every match key the session record knows (hashes and raw ttp/ttclid/ip/user_agent)."""
    return {key: session[key] for key in USER_KEYS if session.get(key)}


def contents_properties(contents: list[dict] | None) -> dict:
    if not contents:
        return {}
    items = [
        {k: json_number(v) if isinstance(v, Decimal) else v for k, v in item.items()} for item in contents
    ]
    return {"contents": items, "content_type": "product"}


def num_items(contents: list[dict]) -> int:
    return sum(int(item.get("quantity", 1)) for item in contents)


def value_properties(value: Decimal | None, currency: str | None) -> dict:
    if value is None or not currency:
        return {}
    return {"value": json_number(value), "currency": currency}


def tiktok_event(
    *,
    name: str,
    event_id: str,
    event_time: int,
    user: Mapping[str, Any],
    limited_data_use: bool,
    properties: Mapping[str, Any] | None = None,
    page: Mapping[str, Any] | None = None,
) -> dict:
    event: dict[str, Any] = {"event": name, "event_time": event_time, "event_id": event_id, "user": dict(user)}
    # TikTok refuses a page without its url (40002), which would dead-letter the whole event:
    # a referrer alone is left out instead.
    if page and page.get("url"):
        event["page"] = dict(page)
    if properties:
        event["properties"] = dict(properties)
    event["limited_data_use"] = limited_data_use
    return event


def beacon_properties(event: BeaconEvent) -> dict:
    spec = EVENT_TABLE[event.event]
    properties: dict[str, Any] = {}
    if event.event == "page_completed" and event.step and "id" in event.step:
        properties["content_name"] = event.step["id"]
    if spec.has_value:
        properties.update(value_properties(event.value, event.currency))
        properties.update(contents_properties(event.contents))
    return properties


def beacon_tiktok_event(event: BeaconEvent, campaign: Campaign, user: Mapping[str, Any]) -> dict:
    return tiktok_event(
        name=tiktok_event_name(event.event, campaign.event_names),
        event_id=event.event_id,
        event_time=event.time_s,
        user=user,
        limited_data_use=campaign.limited_data_use,
        properties=beacon_properties(event),
        page=event.page,
    )


def track_body(pixel_id: str, events: list[dict], test_event_code: str | None = None) -> dict:
    body: dict[str, Any] = {"event_source": "web", "event_source_id": pixel_id}
    if test_event_code:
        body["test_event_code"] = test_event_code
    body["data"] = events
    return body
