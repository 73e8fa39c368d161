"""TikTok Events API stand-in: checks /event/track/ calls as TikTok does, records them, injects faults.

Our best picture of TikTok's side of the wire (docs/tiktok.md says where each rule comes from). It is
kept apart from the shared layer's own checks on purpose: it is there to catch what the layer gets wrong.
`refusal()` is the one checking function; tests/tiktok_fake.py reuses it.

Endpoints (docs/design.md §8), mounted under /_dev/tiktok:

- `POST /open_api/v1.3/event/track/` answers HTTP 200 with TikTok's shape
  `{"code", "message", "request_id", "data"}`, checked in this order:
  1. a queued fault that applies to the call (below);
  2. the `Access-Token` header: missing or blank → 40104; a token marked expired → 40102; one that cannot
     be a TikTok token (not 8–1024 printable ASCII characters without spaces) or that is marked revoked
     → 40105. Any other token is valid: the stand-in cannot know which tokens TikTok issued, and the demo
     and the console must work with readable ones;
  3. the body (`track_problem`): 40002 naming the first bad field, `Invalid parameter: data[3].event ...`;
  4. otherwise code 0.
- `GET /requests` lists every call, oldest first: `{"received_at", "headers", "body", "response"}`;
  `DELETE /requests` clears it.
- `POST /faults` queues faults (one object or a list); `GET` lists the queue; `DELETE` clears it. A fault
  has one or more of `code` (answered with HTTP 200 and TikTok's message for it, or `message`),
  `http_status` (an HTTP error, 4xx or 5xx; with `code` too if given), `delay_ms` (answer late),
  `reset: true` (drop the connection without an answer); plus `times` (default 1) and `message`.
  `event_ids` targets it: `{"code": 20001, "event_ids": ["e7"], "times": 3}` applies only to calls
  carrying at least one of those event ids; other calls pass it by and do not use it up. Each call
  uses the oldest queued fault that applies to it, once; a fault leaves the queue when its `times` are
  spent. So a fault without `event_ids` behaves as before: first in, first out, for every call.
  A targeted 40002 without `message` names the first matching event (`data[2]`), as TikTok names the
  field; a 20001 names no events (`data: {}`), the case docs/design.md §7 plans for.
- `POST /tokens` marks a token: `{"token": "...", "state": "revoked" | "expired"}` (40105 | 40102 from
  then on); `GET` lists the marks by the token's last four characters, never the token; `DELETE`
  clears them.

Answers to HTTP-status faults keep TikTok's four keys (`code` null unless the fault has one) and add
`http_status`, which the Test Events page shows; a reset is recorded as `{"connection_reset": true}`.
"""

import json
import math
import re
import socket
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from werkzeug.wrappers import Request, Response

from .http_util import RecordLog, json_response, utc_now_iso
from .tiktok_codes import message as tiktok_message

# Mounted under /_dev/tiktok: TIKTOK_API_BASE is {base}/_dev/tiktok/open_api/v1.3.
API_PATH = "/open_api/v1.3"
TRACK_PATH = f"{API_PATH}/event/track/"

OK = 0
PARTIAL_SUCCESS = 20001
INVALID_PARAMETER = 40002
ACCESS_TOKEN_EXPIRED = 40102
ACCESS_TOKEN_EMPTY = 40104
ACCESS_TOKEN_INVALID = 40105
TOKEN_STATES = {"revoked": ACCESS_TOKEN_INVALID, "expired": ACCESS_TOKEN_EXPIRED}
TIKTOK_CURRENCIES = frozenset(
    "AED ARS AUD BDT BHD BIF BOB BRL CAD CHF CLP CNY COP CRC CZK DKK DZD EGP EUR GBP GTQ HKD HNL HUF "
    "IDR ILS INR ISK JPY KES KHR KRW KWD KZT MAD MOP MXN MYR NGN NIO NOK NZD OMR PEN PHP PKR PLN PYG "
    "QAR RON RUB SAR SEK SGD THB TRY TWD UAH USD VES VND ZAR".split()
)
MAX_EVENTS = 1000
MAX_FUTURE_S = 24 * 3600
# event_time values above this are milliseconds (in seconds it would be the year 5138).
MILLISECONDS_FROM = 100_000_000_000
# TikTok's own GTM template and Stape's tag pass any 64 hex digits through as a hash, either case.
_SHA256_HEX = re.compile(r"[0-9A-Fa-f]{64}")
# TikTok's rule for custom event names; its standard names (Purchase, CompletePayment...) fit it too.
_EVENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,49}")
_TOKEN = re.compile(r"[\x21-\x7e]{8,1024}")
EVENT_SOURCES = frozenset({"web"})
_FAULT_FIELDS = {"code", "http_status", "delay_ms", "reset", "times", "message", "event_ids"}
_ERROR_STATUSES = {status.value for status in HTTPStatus if status >= 400}

_HASHED_USER_KEYS = ("email", "phone", "external_id")
_STRING_USER_KEYS = ("ttp", "ttclid", "ip", "user_agent", "locale", "lead_id", "first_name", "last_name", "city",
                     "state", "country", "zip_code", "idfa", "idfv", "gaid", "att_status")
_STRING_PROPERTIES = ("content_type", "content_name", "content_category", "order_id", "shop_id", "query",
                      "search_string", "description", "delivery_category")
_STRING_CONTENT_KEYS = ("content_id", "content_type", "content_name", "content_category", "brand")
_OBJECT_EVENT_KEYS = ("lead", "app", "ad", "device")


class ConnectionResetFault(ConnectionResetError):
    """Raised out of the WSGI app: werkzeug then drops the connection without writing an answer."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _strings_problem(obj: dict, keys: tuple[str, ...], where: str) -> str | None:
    for key in keys:
        if key in obj and not isinstance(obj[key], str):
            return f"{where}.{key} must be a string"
    return None


def _string_list_problem(obj: dict, key: str, where: str) -> str | None:
    if key in obj and not (isinstance(obj[key], list) and all(isinstance(v, str) for v in obj[key])):
        return f"{where}.{key} must be a list of strings"
    return None


def _user_problem(user: Any, where: str) -> str | None:
    if not isinstance(user, dict):
        return f"{where} must be an object"
    for key in _HASHED_USER_KEYS:
        if key not in user:
            continue
        # One hash or a list of them; Segment sends empty lists for what it does not know.
        values = user[key] if isinstance(user[key], list) else [user[key]]
        if not all(isinstance(v, str) and _SHA256_HEX.fullmatch(v) for v in values):
            return f"{where}.{key} must be a SHA-256 hash (64 hex digits) or a list of them"
    return _strings_problem(user, _STRING_USER_KEYS, where)


def _contents_problem(contents: Any, where: str) -> str | None:
    if not isinstance(contents, list):
        return f"{where} must be a list"
    for index, item in enumerate(contents):
        at = f"{where}[{index}]"
        if not isinstance(item, dict):
            return f"{at} must be an object"
        if "quantity" in item and not _is_int(item["quantity"]):
            return f"{at}.quantity must be an integer"
        if "price" in item and not _is_number(item["price"]):
            return f"{at}.price must be a number"
        problem = _strings_problem(item, _STRING_CONTENT_KEYS, at)
        if problem:
            return problem
    return None


def _properties_problem(properties: Any, where: str) -> str | None:
    if not isinstance(properties, dict):
        return f"{where} must be an object"
    if "value" in properties and not _is_number(properties["value"]):
        return f"{where}.value must be a number"
    if "currency" in properties and properties["currency"] not in TIKTOK_CURRENCIES:
        return f"{where}.currency must be one of the ISO 4217 codes TikTok accepts"
    if "contents" in properties:
        problem = _contents_problem(properties["contents"], f"{where}.contents")
        if problem:
            return problem
    if "num_items" in properties and not _is_int(properties["num_items"]):
        return f"{where}.num_items must be an integer"
    if "predicted_ltv" in properties and not _is_number(properties["predicted_ltv"]):
        return f"{where}.predicted_ltv must be a number"
    # RudderStack spells it contents_ids; both are lists of ids, strings like content_id.
    for key in ("content_ids", "contents_ids"):
        problem = _string_list_problem(properties, key, where)
        if problem:
            return problem
    return _strings_problem(properties, _STRING_PROPERTIES, where)


def _page_problem(page: Any, where: str) -> str | None:
    # TikTok's GTM template sends `page: {}` when it knows no URL; Segment a referrer alone.
    if not isinstance(page, dict):
        return f"{where} must be an object"
    return _strings_problem(page, ("url", "referrer"), where)


def _event_problem(event: Any, where: str, now: float) -> str | None:
    if not isinstance(event, dict):
        return f"{where} must be an object"
    name = event.get("event")
    if not _is_text(name):
        return f"{where}.event must be a non-empty string"
    if not _EVENT_NAME.fullmatch(name):
        return f"{where}.event must be at most 50 letters, digits, _ or -, starting with a letter"
    event_time = event.get("event_time")
    if not _is_int(event_time) or event_time <= 0:
        return f"{where}.event_time must be a positive integer (Unix seconds)"
    if event_time >= MILLISECONDS_FROM:
        return f"{where}.event_time must be in Unix seconds, not milliseconds"
    if event_time > now + MAX_FUTURE_S:
        return f"{where}.event_time must not be in the future"
    if "event_id" in event and not isinstance(event["event_id"], str):
        return f"{where}.event_id must be a string"
    problem = _user_problem(event.get("user"), f"{where}.user")
    if not problem and "properties" in event:
        problem = _properties_problem(event["properties"], f"{where}.properties")
    if not problem and "page" in event:
        problem = _page_problem(event["page"], f"{where}.page")
    if not problem and "limited_data_use" in event and not isinstance(event["limited_data_use"], bool):
        problem = f"{where}.limited_data_use must be a boolean"
    for key in _OBJECT_EVENT_KEYS:
        if not problem and key in event and not isinstance(event[key], dict):
            problem = f"{where}.{key} must be an object"
    return problem


def track_problem(body: Any, now: float) -> str | None:
    """What TikTok would name in a 40002 for this /event/track/ body, or None when it is valid."""
    if not isinstance(body, dict):
        return "the request body must be a JSON object"
    if body.get("event_source") not in EVENT_SOURCES:
        return 'event_source must be "web"'
    if not _is_text(body.get("event_source_id")):
        return "event_source_id must be a non-empty string"
    problem = _strings_problem(body, ("test_event_code", "partner_name"), "body")
    if problem:
        return problem.removeprefix("body.")
    data = body.get("data")
    if not isinstance(data, list) or not data:
        return "data must be a non-empty list"
    if len(data) > MAX_EVENTS:
        return f"data must hold at most {MAX_EVENTS} events"
    for index, event in enumerate(data):
        problem = _event_problem(event, f"data[{index}]", now)
        if problem:
            return problem
    return None


def token_problem(token: str | None, token_states: Mapping[str, str] | None = None) -> int | None:
    """TikTok's code for an Access-Token it would refuse (40104, 40102, 40105), or None for a valid one."""
    if token is None or not token.strip():
        return ACCESS_TOKEN_EMPTY
    state = (token_states or {}).get(token)
    if state is not None:
        return TOKEN_STATES[state]
    return None if _TOKEN.fullmatch(token) else ACCESS_TOKEN_INVALID


def refusal(token: str | None, body: Any, now: float,
            token_states: Mapping[str, str] | None = None) -> tuple[int, str] | None:
    """TikTok's (code, message) refusing this call, or None when TikTok would take it.

    `token` is the Access-Token header (None when absent), `body` the parsed JSON (anything else when
    it did not parse), `now` Unix seconds, `token_states` the tokens marked revoked or expired.
    """
    code = token_problem(token, token_states)
    if code is not None:
        return code, tiktok_message(code)
    problem = track_problem(body, now)
    if problem:
        return INVALID_PARAMETER, f"Invalid parameter: {problem}"
    return None


def tiktok_answer(code: int, message: str | None = None) -> dict:
    return {"code": code, "message": message or tiktok_message(code), "request_id": str(uuid.uuid4()),
            "data": {}}


def parse_body(raw: bytes) -> Any:
    """The JSON body, or its text when it is no JSON (NaN and Infinity are no JSON either)."""
    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    try:
        return json.loads(raw, parse_constant=no_constants)
    except ValueError:
        return raw.decode("utf-8", errors="replace")


def _is_event_id_list(value: Any) -> bool:
    return (isinstance(value, list) and 0 < len(value) <= MAX_EVENTS
            and all(_is_text(item) for item in value))


def parse_fault(raw: Any) -> dict:
    """A fault as queued, `times` filled in; ValueError names what is wrong with it."""
    if not isinstance(raw, dict):
        raise ValueError("a fault must be an object")
    unknown = set(raw) - _FAULT_FIELDS
    if unknown:
        raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
    if not {"code", "http_status", "delay_ms", "reset"} & set(raw):
        raise ValueError("a fault needs code, http_status, delay_ms or reset")
    fault = {"times": 1, **raw}
    checks = {
        "code": _is_int,
        "http_status": lambda v: _is_int(v) and v in _ERROR_STATUSES,
        "delay_ms": lambda v: _is_number(v) and v >= 0,
        "reset": lambda v: isinstance(v, bool),
        "times": lambda v: _is_int(v) and v >= 1,
        "message": lambda v: isinstance(v, str),
        "event_ids": _is_event_id_list,
    }
    for field, check in checks.items():
        if field in fault and not check(fault[field]):
            raise ValueError(f"invalid fault field {field}: {fault[field]!r}")
    return fault


def _event_ids(body: Any) -> list[Any]:
    data = body.get("data") if isinstance(body, dict) else None
    return [event.get("event_id") for event in data if isinstance(event, dict)] if isinstance(data, list) else []


def fault_applies(fault: dict, body: Any) -> bool:
    """A fault without event_ids applies to every call; a targeted one to calls carrying one of its ids."""
    if "event_ids" not in fault:
        return True
    return bool(set(fault["event_ids"]) & {i for i in _event_ids(body) if isinstance(i, str)})


def _fault_message(fault: dict, body: Any) -> str | None:
    if "message" in fault or fault.get("code") != INVALID_PARAMETER or "event_ids" not in fault:
        return fault.get("message")
    index, event_id = next((i, e) for i, e in enumerate(_event_ids(body)) if e in fault["event_ids"])
    return f"Invalid parameter: data[{index}] is refused (stand-in fault for event_id {event_id})"


def _error(code: str, message: str) -> Response:
    return json_response({"error": {"code": code, "message": message, "details": []}}, 400)


def parse_token_mark(raw: Any) -> tuple[str, str]:
    """(token, state) of a POST /tokens body; ValueError names what is wrong with it."""
    if not isinstance(raw, dict) or set(raw) - {"token", "state"}:
        raise ValueError('a token mark is {"token": "...", "state": "revoked" | "expired"}')
    token, state = raw.get("token"), raw.get("state", "revoked")
    if not _is_text(token):
        raise ValueError("token must be a non-empty string")
    if state not in TOKEN_STATES:
        raise ValueError('state must be "revoked" or "expired"')
    return token, state


class TikTokStandIn:
    def __init__(self) -> None:
        self.log = RecordLog()
        self._faults: deque[dict] = deque()
        self._faults_lock = threading.Lock()
        self._token_states: dict[str, str] = {}

    def records(self) -> list[dict]:
        return self.log.snapshot()

    def faults(self) -> list[dict]:
        with self._faults_lock:
            return [dict(fault) for fault in self._faults]

    def _next_fault(self, body: Any) -> dict | None:
        """Use the oldest queued fault that applies to this call once; it leaves when its `times` are spent."""
        with self._faults_lock:
            fault = next((f for f in self._faults if fault_applies(f, body)), None)
            if fault is None:
                return None
            fault["times"] -= 1
            if fault["times"] == 0:
                self._faults.remove(fault)
            return dict(fault)

    def _token_list(self) -> list[dict]:
        with self._faults_lock:
            return [{"token_last4": token[-4:], "state": state} for token, state in self._token_states.items()]

    # WSGI endpoints (the server maps paths and methods to them).

    def track(self, request: Request) -> Response:
        body = parse_body(request.get_data())
        record = {"received_at": utc_now_iso(), "headers": dict(request.headers), "body": body, "response": None}
        self.log.append(record)
        fault = self._next_fault(body)
        if fault and fault.get("delay_ms"):
            time.sleep(fault["delay_ms"] / 1000)
        if fault and fault.get("reset"):
            self.log.update(record, response={"connection_reset": True, "message": "fault: connection reset"})
            self._reset(request)
        status, answer = self._answer(request, body, fault)
        self.log.update(record, response=answer)
        return json_response(answer, status)

    def _answer(self, request: Request, body: Any, fault: dict | None) -> tuple[int, dict]:
        if fault and "http_status" in fault:
            status = fault["http_status"]
            answer = {"code": fault.get("code"), "message": fault.get("message") or HTTPStatus(status).phrase,
                      "request_id": str(uuid.uuid4()), "data": {}, "http_status": status}
            return status, answer
        if fault and "code" in fault:
            return 200, tiktok_answer(fault["code"], _fault_message(fault, body))
        with self._faults_lock:
            token_states = dict(self._token_states)
        refused = refusal(request.headers.get("Access-Token"), body, time.time(), token_states)
        return 200, tiktok_answer(*refused) if refused else tiktok_answer(OK)

    @staticmethod
    def _reset(request: Request) -> None:
        connection = request.environ.get("werkzeug.socket")
        if connection is not None:
            # SO_LINGER 0: the final close sends a TCP reset. The shutdown ends the keep-alive
            # connection, or werkzeug would wait on it for a next request while the client waits
            # for an answer.
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.shutdown(socket.SHUT_RDWR)
        raise ConnectionResetFault("fault: connection reset without an answer")

    def requests_endpoint(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.log.clear()
            return Response(status=204)
        return json_response(self.records())

    def faults_endpoint(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                raw = json.loads(request.get_data())
                new = [parse_fault(item) for item in (raw if isinstance(raw, list) else [raw])]
            except ValueError as exc:
                return _error("invalid_fault", str(exc))
            with self._faults_lock:
                self._faults.extend(new)
        elif request.method == "DELETE":
            with self._faults_lock:
                self._faults.clear()
        return json_response(self.faults())

    def tokens_endpoint(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                token, state = parse_token_mark(json.loads(request.get_data()))
            except ValueError as exc:
                return _error("invalid_token_mark", str(exc))
            with self._faults_lock:
                self._token_states[token] = state
        elif request.method == "DELETE":
            with self._faults_lock:
                self._token_states.clear()
        return json_response({"tokens": self._token_list()})
