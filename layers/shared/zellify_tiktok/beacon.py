"""Parsing and validation of a browser beacon (docs/design.md §6.1). Pure functions, no I/O.

Envelope problems raise (400/413); each event is validated on its own, and a bad one becomes a
rejection that names its code, so a good event in the same beacon is never lost.
"""

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import jiter

from .campaign import is_campaign_id
from .errors import BadRequest, PayloadTooLarge
from .events import EVENT_TABLE
from .hashing import encodable, hash_email, hash_phone, is_valid_email
from .server_event import Content, Naming, ServerEvent, UserData, server_event
from .url_scrub import scrub_url

MAX_BEACON_BYTES = 64 * 1024
MAX_EVENTS = 50
FUTURE_TOLERANCE_MS = 10 * 60 * 1000
MAX_AGE_MS = 7 * 24 * 3600 * 1000
MAX_VALUE = Decimal("1000000000")

EVENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
SESSION_ID = EVENT_ID
CURRENCY = re.compile(r"[A-Z]{3}")
# Money is kept to this many decimal places: enough for any currency, and always storable in
# DynamoDB (38 significant digits, exponent >= -130), where 1e-200 or 40 digits would fail.
MONEY_QUANTUM = Decimal("0.000001")
MAX_TEXT = 2048
MAX_CONTENTS = 50
REJECTION_CODES = frozenset({"unknown_event", "server_only_event", "invalid_event_id", "invalid_email",
                             "invalid_phone", "invalid_value", "invalid_currency", "too_old", "invalid_field"})


@dataclass(frozen=True, slots=True)
class Rejection:
    event_id: str | None
    code: str
    message: str

    def to_dict(self) -> dict[str, str | None]:
        return {"event_id": self.event_id, "code": self.code, "message": self.message}


@dataclass(slots=True)  # per event on the request path: not frozen (cheaper to build), never changed
class BeaconEvent:
    """A validated funnel event; email and phone already hashed, never kept raw."""

    event: str
    event_id: str
    time_s: int
    page_url: str | None = None
    page_referrer: str | None = None
    step_index: int | None = None
    step_id: str | None = None
    email_hash: str | None = None
    phone_hash: str | None = None
    value: Decimal | None = None
    currency: str | None = None
    contents: tuple[Content, ...] = ()

    def server_event(self, naming: Naming, user: UserData) -> ServerEvent:
        """The conversion this event stands for, with the visitor's match keys."""
        return server_event(self.event, naming, event_id=self.event_id, event_time=self.time_s, user=user,
                            value=self.value, currency=self.currency, contents=self.contents, step_id=self.step_id,
                            page_url=self.page_url, page_referrer=self.page_referrer)


@dataclass(slots=True)
class Beacon:
    campaign_id: str
    session_id: str
    ttp: str | None
    ttclid: str | None
    consent: bool | None
    events: list[BeaconEvent] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def withdraws_consent(self) -> bool:
        """A consent-only beacon: tracker.js sends it when the visitor takes consent back."""
        return self.consent is False and not self.events and not self.rejected


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


# Exact money (floats as Decimal) and no NaN/Infinity; made once, not per request.
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)


def decode_json_object(body: bytes, limit: int) -> dict[str, Any]:
    """The body as a JSON object, or the 413/400 that names what is wrong with it.

    jiter (pydantic's JSON parser, numbers with a fraction as exact Decimals) reads it in a quarter of the
    standard library's time. What jiter refuses is read again by the standard library, whose answer stands:
    a lone surrogate escape (`"\\udfff"`) parses there, to be refused as the field it is in, and its errors
    are the messages the 400s have always given.
    """
    if len(body) > limit:
        raise PayloadTooLarge(f"body is {len(body)} bytes; the limit is {limit}")
    try:
        parsed = jiter.from_json(body, allow_inf_nan=False, cache_mode="keys", float_mode="decimal")
    except ValueError:
        parsed = _decode_strictly(body)
    if not isinstance(parsed, dict):
        raise BadRequest("body must be a JSON object", code="invalid_json")
    return parsed


def _decode_strictly(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("body is not valid UTF-8", code="invalid_encoding") from exc
    try:
        return _DECODER.decode(text)
    except (json.JSONDecodeError, ValueError) as exc:
        raise BadRequest(f"body is not JSON: {exc}", code="invalid_json") from exc
    except ArithmeticError:  # a number Decimal cannot hold (an exponent beyond its range)
        raise BadRequest("body is not JSON we accept: a number out of range", code="invalid_json") from None
    except RecursionError:
        raise BadRequest("body is not JSON we accept: nested too deeply", code="invalid_json") from None


def _field_error(name: str, message: str) -> BadRequest:
    return BadRequest(f"{name}: {message}", code="invalid_field", details=[{"field": name, "message": message}])


def _optional_text(obj: dict[str, Any], name: str, limit: int) -> str | None:
    value = obj.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise _field_error(name, f"must be a string of at most {limit} characters")
    if not value.isascii() and not encodable(value):  # ASCII, the common case, always is
        raise _field_error(name, "holds a lone surrogate (an escape like \\udfff): no text to store or send")
    return value


def parse_beacon(body: bytes, now_ms: int) -> Beacon:
    obj = decode_json_object(body, MAX_BEACON_BYTES)
    campaign_id = obj.get("campaign_id")
    if not isinstance(campaign_id, str) or not is_campaign_id(campaign_id):
        raise _field_error("campaign_id", "required: 1-128 characters of A-Z a-z 0-9 _ -")
    session_id = obj.get("session_id")
    if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
        raise _field_error("session_id", "required: 1-128 characters of A-Z a-z 0-9 . _ : -")
    consent = obj.get("consent")
    if consent is not None and not isinstance(consent, bool):
        raise _field_error("consent", "must be true or false")
    events = obj.get("events")
    if not isinstance(events, list):
        raise _field_error("events", "required: a list of 1 to 50 events")
    # No events is a consent withdrawal, and only that (docs/design.md §6.2).
    if len(events) > MAX_EVENTS or (not events and consent is not False):
        raise _field_error("events", f"has {len(events)} events; 1 to {MAX_EVENTS} are allowed "
                                     "(0 only with consent: false, to withdraw consent)")
    beacon = Beacon(
        campaign_id=campaign_id,
        session_id=session_id,
        ttp=_optional_text(obj, "ttp", 256),
        ttclid=_optional_text(obj, "ttclid", 1024),
        consent=consent,
    )
    for raw in events:
        result = validate_event(raw, now_ms)
        if isinstance(result, Rejection):
            beacon.rejected.append(result)
        else:
            beacon.events.append(result)
    return beacon


class InvalidEvent(Exception):
    """An event (or a part of it) that cannot be sent; `code` is one of REJECTION_CODES."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def validate_event(raw: Any, now_ms: int) -> BeaconEvent | Rejection:
    try:
        if not isinstance(raw, dict):
            raise InvalidEvent("invalid_field", "an event must be a JSON object")
        name = raw.get("event")
        spec = EVENT_TABLE.get(name) if isinstance(name, str) else None
        if spec is None or not isinstance(name, str):
            shown = repr(name[:64]) if isinstance(name, str) and encodable(name) else "of that kind"
            raise InvalidEvent("unknown_event", f"unknown event {shown}; known: {', '.join(EVENT_TABLE)}")
        if not spec.beacon:
            raise InvalidEvent("server_only_event", f"{name} reaches the Events API only from Stripe (pixel only)")
        event_id = raw.get("event_id")
        if not isinstance(event_id, str) or not EVENT_ID.fullmatch(event_id):
            raise InvalidEvent("invalid_event_id", "event_id: required, 1-128 characters of A-Z a-z 0-9 . _ : -")
        time_s = _event_time(raw.get("time"), now_ms)
        page_url, page_referrer = _page(raw.get("page"))
        step = raw.get("step")
        step_index, step_id = _step(step) if step is not None else (None, None)
        captured = name == "email_captured"
        value, currency = _value(raw) if spec.has_value else (None, None)
        return BeaconEvent(
            event=name,
            event_id=event_id,
            time_s=time_s,
            page_url=page_url,
            page_referrer=page_referrer,
            step_index=step_index,
            step_id=step_id,
            email_hash=_email(raw.get("email")) if captured else None,
            phone_hash=_phone(raw.get("phone")) if captured else None,
            value=value,
            currency=currency,
            contents=_contents(raw.get("contents")) if spec.has_value else (),
        )
    except InvalidEvent as exc:
        event_id = raw.get("event_id") if isinstance(raw, dict) else None
        # The id as given (so the page can tell which event), when it can be shown at all.
        shown_id = event_id if isinstance(event_id, str) and len(event_id) <= 128 and encodable(event_id) else None
        return Rejection(shown_id, exc.code, exc.message)


def _event_time(value: Any, now_ms: int) -> int:
    if value is None:
        return now_ms // 1000
    if type(value) is not int and (not isinstance(value, Decimal) or not value.is_finite()):  # bool is no int here
        raise InvalidEvent("invalid_field", "time: must be epoch milliseconds (a number)")
    # Compared before int(): int(Decimal("1e999999999")) would compute for minutes.
    if value > now_ms + FUTURE_TOLERANCE_MS:
        return now_ms // 1000
    if value < now_ms - MAX_AGE_MS:
        raise InvalidEvent("too_old", "time: events older than 7 days are not accepted")
    return int(value) // 1000


def _number(value: Any, what: str, code: str, part: str = "") -> Decimal:
    """A non-negative Decimal; `what` + `part` names the field (joined only for an error message)."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise InvalidEvent(code, f"{what}{part}: must be a non-negative number")
    number = Decimal(value)
    if not number.is_finite() or number < 0 or number > MAX_VALUE:
        raise InvalidEvent(code, f"{what}{part}: must be a non-negative number below {MAX_VALUE}")
    return number.quantize(MONEY_QUANTUM)


def _value(raw: dict[str, Any]) -> tuple[Decimal | None, str | None]:
    if raw.get("value") is None:
        return None, None
    value = _number(raw["value"], "value", "invalid_value")
    currency = raw.get("currency")
    if not isinstance(currency, str) or not CURRENCY.fullmatch(currency.upper()):
        raise InvalidEvent("invalid_currency", "currency: an ISO 4217 code (e.g. USD) must come with a value")
    return value, currency.upper()


def _text(value: Any, where: str, limit: int = MAX_TEXT, part: str = "") -> str:
    """A string within limits; `where` + `part` names the field (joined only for an error message)."""
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidEvent("invalid_field", f"{where}{part}: must be a string of at most {limit} characters")
    if not value.isascii() and not encodable(value):  # ASCII, the common case, always is
        raise InvalidEvent("invalid_field", f"{where}{part}: holds a lone surrogate (an escape like \\udfff)")
    return value


def _page(value: Any) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise InvalidEvent("invalid_field", "page: must be an object with url and referrer")
    url, referrer = value.get("url"), value.get("referrer")
    # docs/design.md §5: emails and phone numbers in the URLs go here, before anything stores or sends them.
    return (scrub_url(_text(url, "page.url")) if url not in (None, "") else None,
            scrub_url(_text(referrer, "page.referrer")) if referrer not in (None, "") else None)


def _step(value: Any) -> tuple[int | None, str | None]:
    if not isinstance(value, dict):
        raise InvalidEvent("invalid_field", "step: must be an object with index and id")
    index = value.get("index")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < 10_000):
        raise InvalidEvent("invalid_field", "step.index: must be a non-negative integer")
    step_id = value.get("id")
    if step_id is not None:
        if isinstance(step_id, bool) or not isinstance(step_id, str | int):
            raise InvalidEvent("invalid_field", "step.id: must be a string of at most 128 characters")
        step_id = _text(str(step_id), "step.id", 128)
    return index, step_id


def _email(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not is_valid_email(value):
        raise InvalidEvent("invalid_email", "email: not a valid email address")
    return hash_email(value)


def _phone(value: Any) -> str | None:
    if value is None or value == "":
        return None
    hashed = hash_phone(value) if isinstance(value, str) and len(value) <= 64 and encodable(value) else None
    if hashed is None:
        raise InvalidEvent("invalid_phone", "phone: not a phone number in international form (+ and 7-15 digits)")
    return hashed


def _contents(value: Any) -> tuple[Content, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_CONTENTS:
        raise InvalidEvent("invalid_field", f"contents: must be a list of at most {MAX_CONTENTS} items")
    return tuple(content_item(item, "contents", i) for i, item in enumerate(value))


def content_item(item: Any, where: str, index: int | None = None) -> Content:
    """One item of `contents`, as TikTok takes it (also used for Stripe's zellify_contents)."""
    at = where if index is None else f"{where}[{index}]"
    if not isinstance(item, dict):
        raise InvalidEvent("invalid_field", f"{at}: must be an object")
    content_id = item.get("content_id")
    if content_id is not None:
        # TikTok rejects a numeric content_id (40002): send it as the string it means.
        if isinstance(content_id, bool) or not isinstance(content_id, str | int | Decimal):
            raise InvalidEvent("invalid_field", f"{at}.content_id: must be a string")
        content_id = _text(str(content_id)[:256], at, part=".content_id")
    name = item.get("content_name")
    if name is not None:
        name = _text(name[:256] if isinstance(name, str) else name, at, part=".content_name")
    quantity = item.get("quantity")
    if quantity is not None and (isinstance(quantity, bool) or not isinstance(quantity, int)
                                 or not 0 <= quantity <= 1_000_000):
        raise InvalidEvent("invalid_field", f"{at}.quantity: must be a non-negative integer")
    price = item.get("price")
    return Content(content_id=content_id, content_name=name, quantity=quantity,
                   price=_number(price, at, "invalid_field", ".price") if price is not None else None)
