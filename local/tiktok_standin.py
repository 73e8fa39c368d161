"""TikTok Events API stand-in: checks /event/track/ payloads as TikTok does, records them, injects faults.

The checks follow reference/tiktok.md, written from TikTok's side and kept apart from the shared
layer's own checks on purpose: the stand-in is there to catch what the layer gets wrong.
"""

import json
import re
import socket
import struct
import threading
import time
import uuid
from collections import deque
from http import HTTPStatus
from typing import Any

from werkzeug.wrappers import Request, Response

from .http_util import RecordLog, json_response, utc_now_iso

# Mounted under /_dev/tiktok: TIKTOK_API_BASE is {base}/_dev/tiktok/open_api/v1.3.
API_PATH = "/open_api/v1.3"
TRACK_PATH = f"{API_PATH}/event/track/"

OK = 0
INVALID_PARAMETER = 40002
ACCESS_TOKEN_INVALID = 40105
MESSAGES = {
    0: "OK",
    20001: "Partial success",
    40001: "No permission to operate",
    40002: "Invalid parameter",
    40100: "Too many requests",
    40105: "Access token is missing or invalid",
}
TIKTOK_CURRENCIES = frozenset(
    "AED ARS AUD BDT BHD BIF BOB BRL CAD CHF CLP CNY COP CRC CZK DKK DZD EGP EUR GBP GTQ HKD HNL HUF "
    "IDR ILS INR ISK JPY KES KHR KRW KWD KZT MAD MOP MXN MYR NGN NIO NOK NZD OMR PEN PHP PKR PLN PYG "
    "QAR RON RUB SAR SEK SGD THB TRY TWD UAH USD VES VND ZAR".split()
)
MAX_EVENTS = 1000
MAX_FUTURE_S = 24 * 3600
# event_time values above this are milliseconds (in seconds it would be the year 5138).
MILLISECONDS_FROM = 100_000_000_000
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_FAULT_FIELDS = {"code", "http_status", "delay_ms", "reset", "times", "message"}
_ERROR_STATUSES = {status.value for status in HTTPStatus if status >= 400}


class ConnectionResetFault(ConnectionResetError):
    """Raised out of the WSGI app: werkzeug then drops the connection without writing an answer."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _strings_problem(obj: dict, keys: tuple[str, ...], where: str) -> str | None:
    for key in keys:
        if key in obj and not isinstance(obj[key], str):
            return f"{where}.{key} must be a string"
    return None


def _user_problem(user: Any, where: str) -> str | None:
    if not isinstance(user, dict):
        return f"{where} must be an object"
    for key in ("email", "phone", "external_id"):
        if key not in user:
            continue
        values = user[key] if isinstance(user[key], list) else [user[key]]
        if not values or not all(isinstance(v, str) and _SHA256_HEX.fullmatch(v) for v in values):
            return f"{where}.{key} must be a SHA-256 hash (64 lower-case hex characters) or a list of them"
    return _strings_problem(user, ("ttp", "ttclid", "ip", "user_agent", "locale"), where)


def _contents_problem(contents: Any, where: str) -> str | None:
    if not isinstance(contents, list):
        return f"{where} must be a list"
    for index, item in enumerate(contents):
        at = f"{where}[{index}]"
        if not isinstance(item, dict):
            return f"{at} must be an object"
        if "content_id" in item and not isinstance(item["content_id"], str):
            return f"{at}.content_id must be a string"
        if "quantity" in item and not _is_int(item["quantity"]):
            return f"{at}.quantity must be an integer"
        if "price" in item and not _is_number(item["price"]):
            return f"{at}.price must be a number"
        problem = _strings_problem(item, ("content_name", "content_category", "brand"), at)
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
    return _strings_problem(properties, ("content_type", "order_id", "query", "description"), where)


def _page_problem(page: Any, where: str) -> str | None:
    if not isinstance(page, dict):
        return f"{where} must be an object"
    if not isinstance(page.get("url"), str):
        return f"{where}.url must be a string"
    return _strings_problem(page, ("referrer",), where)


def _event_problem(event: Any, where: str, now: float) -> str | None:
    if not isinstance(event, dict):
        return f"{where} must be an object"
    if not _is_text(event.get("event")):
        return f"{where}.event must be a non-empty string"
    event_time = event.get("event_time")
    if not _is_int(event_time) or event_time <= 0:
        return f"{where}.event_time must be a positive integer (Unix seconds)"
    if event_time >= MILLISECONDS_FROM:
        return f"{where}.event_time must be in Unix seconds, not milliseconds"
    if event_time > now + MAX_FUTURE_S:
        return f"{where}.event_time must not be in the future"
    if not isinstance(event.get("event_id"), str):
        return f"{where}.event_id must be a string"
    problem = _user_problem(event.get("user"), f"{where}.user")
    if not problem and "properties" in event:
        problem = _properties_problem(event["properties"], f"{where}.properties")
    if not problem and "page" in event:
        problem = _page_problem(event["page"], f"{where}.page")
    if not problem and "limited_data_use" in event and not isinstance(event["limited_data_use"], bool):
        problem = f"{where}.limited_data_use must be a boolean"
    return problem


def track_problem(body: Any, now: float) -> str | None:
    """What TikTok would name in a 40002 for this /event/track/ body, or None when it is valid."""
    if not isinstance(body, dict):
        return "the request body must be a JSON object"
    if body.get("event_source") != "web":
        return 'event_source must be "web"'
    if not _is_text(body.get("event_source_id")):
        return "event_source_id must be a non-empty string"
    if "test_event_code" in body and not isinstance(body["test_event_code"], str):
        return "test_event_code must be a string"
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


def tiktok_answer(code: int, message: str | None = None) -> dict:
    return {"code": code, "message": message or MESSAGES.get(code, "Error"), "request_id": str(uuid.uuid4()),
            "data": {}}


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
    }
    for field, check in checks.items():
        if field in fault and not check(fault[field]):
            raise ValueError(f"invalid fault field {field}: {fault[field]!r}")
    return fault


class TikTokStandIn:
    def __init__(self) -> None:
        self.log = RecordLog()
        self._faults: deque[dict] = deque()
        self._faults_lock = threading.Lock()

    def records(self) -> list[dict]:
        return self.log.snapshot()

    def faults(self) -> list[dict]:
        with self._faults_lock:
            return [dict(fault) for fault in self._faults]

    def _next_fault(self) -> dict | None:
        """Use the oldest queued fault once; it leaves the queue when its `times` are spent."""
        with self._faults_lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            fault["times"] -= 1
            if fault["times"] == 0:
                self._faults.popleft()
            return dict(fault)

    # WSGI endpoints (the server maps paths and methods to them).

    def track(self, request: Request) -> Response:
        raw = request.get_data()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", errors="replace")
        record = {"received_at": utc_now_iso(), "headers": dict(request.headers), "body": body, "response": None}
        self.log.append(record)
        fault = self._next_fault()
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
            answer = {"http_status": status, "message": fault.get("message") or HTTPStatus(status).phrase}
            if "code" in fault:
                answer["code"] = fault["code"]
            return status, answer
        if fault and "code" in fault:
            return 200, tiktok_answer(fault["code"], fault.get("message"))
        if not request.headers.get("Access-Token", "").strip():
            return 200, tiktok_answer(ACCESS_TOKEN_INVALID)
        problem = track_problem(body, time.time())
        if problem:
            return 200, tiktok_answer(INVALID_PARAMETER, f"Invalid parameter: {problem}")
        return 200, tiktok_answer(OK)

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
                return json_response({"error": {"code": "invalid_fault", "message": str(exc)}}, 400)
            with self._faults_lock:
                self._faults.extend(new)
        elif request.method == "DELETE":
            with self._faults_lock:
                self._faults.clear()
        return json_response(self.faults())
