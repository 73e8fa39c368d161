"""TikTok Events API client (DESIGN §7): validate, batch, one attempt under a time budget, split on 40002."""

import json
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import urllib3
from aws_lambda_powertools import Logger

from .observability import milliseconds, tracer
from .payload import track_body

logger = Logger(child=True)

MAX_EVENTS_PER_CALL = 1000
TIKTOK_CURRENCIES = frozenset(
    "AED ARS AUD BDT BHD BIF BOB BRL CAD CHF CLP CNY COP CRC CZK DKK DZD EGP EUR GBP GTQ HKD HNL HUF "
    "IDR ILS INR ISK JPY KES KHR KRW KWD KZT MAD MOP MXN MYR NGN NIO NOK NZD OMR PEN PHP PKR PLN PYG "
    "QAR RON RUB SAR SEK SGD THB TRY TWD UAH USD VES VND ZAR".split()
)
OK = 0
PARTIAL_SUCCESS = 20001
INVALID_PARAMETER = 40002
TOO_MANY_REQUESTS = 40100
TRANSIENT_CODES = frozenset({TOO_MANY_REQUESTS})


class Outcome(StrEnum):
    SENT = "sent"
    TRANSIENT = "transient_failure"
    PERMANENT = "permanent_failure"


@dataclass(frozen=True)
class Answer:
    """TikTok's answer to one call (or what stood for it: a timeout, a reset, an HTTP error)."""

    outcome: Outcome
    code: int | None
    message: str
    http_status: int | None = None

    def to_dict(self) -> dict:
        return {"outcome": str(self.outcome), "code": self.code, "message": self.message,
                "http_status": self.http_status}


@dataclass
class DeliveryResult:
    sent: list[dict] = field(default_factory=list)
    transient: list[dict] = field(default_factory=list)
    permanent: list[tuple[dict, Answer]] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    transient_answer: Answer | None = None

    @property
    def last_answer(self) -> Answer | None:
        return self.answers[-1] if self.answers else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_event(event: dict) -> tuple[dict, str | None]:
    """An event fit to join a batch, or the reason it cannot (a local permanent failure).

    A currency TikTok does not accept is no reason to lose the event: it goes without value and
    currency, and the change is logged.
    """
    for key, kind in (("event", str), ("event_id", str), ("event_time", int), ("user", dict)):
        if not isinstance(event.get(key), kind) or isinstance(event.get(key), bool) or event.get(key) == "":
            return event, f"{key} missing or not a {kind.__name__}"
    properties = event.get("properties")
    if properties is None:
        return event, None
    if not isinstance(properties, dict):
        return event, "properties is not an object"
    currency = properties.get("currency")
    if currency is not None and currency not in TIKTOK_CURRENCIES:
        logger.warning("currency not accepted by TikTok; sending without value",
                       extra={"event_id": event["event_id"], "currency": str(currency)[:8]})
        properties = {k: v for k, v in properties.items() if k not in ("value", "currency")}
        event = {**event, "properties": properties}
    if "value" in properties and not _is_number(properties["value"]):
        return event, "properties.value is not a number"
    for i, item in enumerate(properties.get("contents") or []):
        if not isinstance(item, dict) or not isinstance(item.get("content_id", ""), str):
            return event, f"properties.contents[{i}].content_id is not a string"
        if "price" in item and not _is_number(item["price"]):
            return event, f"properties.contents[{i}].price is not a number"
    return event, None


class TikTokClient:
    """One keep-alive connection pool per container; one attempt per call (retries are the queue's)."""

    def __init__(self, api_base: str, *, connect_timeout: float, total_timeout: float,
                 http: urllib3.PoolManager | None = None):
        self.url = api_base.rstrip("/") + "/event/track/"
        self.http = http or urllib3.PoolManager(num_pools=4, maxsize=8, retries=False)
        self.timeout = urllib3.Timeout(connect=connect_timeout, read=total_timeout, total=total_timeout)

    def track(self, *, pixel_id: str, access_token: str, events: list[dict],
              test_event_code: str | None = None) -> DeliveryResult:
        result = DeliveryResult()
        batch = []
        for event in events:
            checked, problem = check_event(event)
            if problem:
                result.permanent.append((checked, Answer(Outcome.PERMANENT, INVALID_PARAMETER, problem)))
            else:
                batch.append(checked)
        for start in range(0, len(batch), MAX_EVENTS_PER_CALL):
            chunk = batch[start:start + MAX_EVENTS_PER_CALL]
            self._send(pixel_id, access_token, test_event_code, chunk, result)
        return result

    def _send(self, pixel_id: str, token: str, test_code: str | None, events: list[dict],
              result: DeliveryResult) -> None:
        answer = self.post(pixel_id, token, test_code, events)
        result.answers.append(answer)
        if answer.outcome is Outcome.SENT:
            result.sent.extend(events)
        elif answer.outcome is Outcome.TRANSIENT:
            result.transient.extend(events)
            result.transient_answer = answer
        elif answer.code == INVALID_PARAMETER and len(events) > 1:
            # One bad event fails the whole call: halve until it stands alone.
            middle = len(events) // 2
            self._send(pixel_id, token, test_code, events[:middle], result)
            self._send(pixel_id, token, test_code, events[middle:], result)
        else:
            result.permanent.extend((event, answer) for event in events)

    # The response is TikTok's answer (no secrets), but keep traces to timing and errors.
    @tracer.capture_method(capture_response=False)
    def post(self, pixel_id: str, token: str, test_code: str | None, events: list[dict]) -> Answer:
        body = track_body(pixel_id, events, test_code)
        started = time.perf_counter()
        try:
            response = self.http.request(
                "POST", self.url, body=json.dumps(body, separators=(",", ":")).encode(),
                headers={"Access-Token": token, "Content-Type": "application/json"},
                timeout=self.timeout, retries=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            return Answer(Outcome.TRANSIENT, None, f"{type(exc).__name__}: TikTok unreachable or too slow")
        except (ValueError, UnicodeError) as exc:
            # A token or URL that cannot go on the wire: no retry will change that.
            return Answer(Outcome.PERMANENT, None, f"{type(exc).__name__}: request could not be sent")
        finally:
            milliseconds("TikTokLatency", (time.perf_counter() - started) * 1000)
        return classify(response.status, response.data)


def classify(http_status: int, data: bytes) -> Answer:
    """DESIGN §7: code 0/20001 sent; 40100, HTTP 429, HTTP 5xx transient; anything else permanent."""
    if http_status == 429 or http_status >= 500:
        return Answer(Outcome.TRANSIENT, None, f"HTTP {http_status}", http_status)
    try:
        parsed = json.loads(data)
        code = int(parsed["code"])
        message = str(parsed.get("message", ""))[:500]
    except (ValueError, KeyError, TypeError):
        return Answer(Outcome.PERMANENT, None, f"HTTP {http_status} without a TikTok answer", http_status)
    if code in TRANSIENT_CODES:
        return Answer(Outcome.TRANSIENT, code, message, http_status)
    if http_status != 200:
        return Answer(Outcome.PERMANENT, code, message, http_status)
    if code == PARTIAL_SUCCESS:
        logger.warning("TikTok partial success", extra={"tiktok_message": message})
    if code in (OK, PARTIAL_SUCCESS):
        return Answer(Outcome.SENT, code, message, http_status)
    return Answer(Outcome.PERMANENT, code, message, http_status)
