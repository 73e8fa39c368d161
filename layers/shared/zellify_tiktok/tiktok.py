"""TikTok Events API client (docs/design.md §7): one keep-alive pool, calls within a time budget, refusals isolated.

Retries are not made here: a request-serving function makes one attempt per batch, and what failed
transiently goes to the DeliveryQueue. Within the budget, a call refused as a whole because of one event
(40002) or partly (20001 without naming the events) is halved until every event has its own answer.
"""

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import urllib3
from aws_lambda_powertools import Logger

from .answers import BUDGET_SPENT, Answer, Outcome, classify, transport_failure
from .budget import Budget
from .observability import milliseconds, tracer
from .payload import track_json
from .server_event import ServerEvent

logger = Logger(child=True)

MAX_EVENTS_PER_CALL = 1000
# Not worth starting a call with less time than this left.
MIN_CALL_S = 0.05
TIKTOK_CURRENCIES = frozenset(
    "AED ARS AUD BDT BHD BIF BOB BRL CAD CHF CLP CNY COP CRC CZK DKK DZD EGP EUR GBP GTQ HKD HNL HUF "
    "IDR ILS INR ISK JPY KES KHR KRW KWD KZT MAD MOP MXN MYR NGN NIO NOK NZD OMR PEN PHP PKR PLN PYG "
    "QAR RON RUB SAR SEK SGD THB TRY TWD UAH USD VES VND ZAR".split()
)


@dataclass(slots=True)
class SendResult:
    sent: list[ServerEvent] = field(default_factory=list)
    # Per sent event, how long the call that took it lasted (ms): the ledger keeps it for the metrics.
    sent_ms: list[int] = field(default_factory=list)
    # Refused for good (TikTok's answer, or ours when the call could not even be made).
    refused: list[tuple[ServerEvent, Answer]] = field(default_factory=list)
    # No answer yet: a transient failure, or the budget ran out first.
    unanswered: list[tuple[ServerEvent, Answer]] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)

    @property
    def last_answer(self) -> Answer | None:
        return self.answers[-1] if self.answers else None


def check_event(event: ServerEvent) -> ServerEvent:
    """What TikTok itself limits and our types cannot: a currency outside TikTok's list.

    Such an event is not lost: it goes without value and currency, and the change is logged.
    """
    if event.currency is None or event.currency in TIKTOK_CURRENCIES:
        return event
    logger.warning("currency not accepted by TikTok; sending without value",
                   extra={"event_id": event.event_id, "currency": event.currency[:8]})
    return replace(event, value=None, currency=None)


class TikTokClient:
    def __init__(self, api_base: str, *, connect_timeout: float, total_timeout: float,
                 http: urllib3.PoolManager | None = None):
        self.url = api_base.rstrip("/") + "/event/track/"
        self.http = http or urllib3.PoolManager(num_pools=4, maxsize=8, retries=False)
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self._full_timeout = urllib3.Timeout(connect=connect_timeout, total=total_timeout)

    def send(self, *, pixel_id: str, access_token: str, events: Sequence[ServerEvent],
             test_event_code: str | None, budget: Budget) -> SendResult:
        result = SendResult()
        checked = [event if event.currency is None else check_event(event) for event in events]
        work = deque([checked] if len(checked) <= MAX_EVENTS_PER_CALL else
                     (checked[i:i + MAX_EVENTS_PER_CALL] for i in range(0, len(checked), MAX_EVENTS_PER_CALL)))
        while work:
            batch = work.popleft()
            if not budget.allows(MIN_CALL_S):
                result.unanswered.extend((event, BUDGET_SPENT) for event in batch)
                continue
            started = time.perf_counter()
            answer = self.post(pixel_id, access_token, test_event_code, batch, budget.remaining())
            took_ms = (time.perf_counter() - started) * 1000
            if answer is not BUDGET_SPENT:  # ours, not TikTok's: it says nothing of the campaign's delivery
                result.answers.append(answer)
            if answer.outcome is Outcome.SENT:
                result.sent.extend(batch)
                result.sent_ms.extend([round(took_ms)] * len(batch))
                continue
            # A confirmed call's latency reaches the metrics through the ledger (services/health.py); the
            # others' are emitted here (they are rare).
            milliseconds("TikTokLatency", took_ms)
            if answer.outcome is Outcome.TRANSIENT:
                # TikTok is struggling (or slow): what is left waits in the queue rather than pressing on.
                result.unanswered.extend((event, answer) for event in batch)
                result.unanswered.extend((event, answer) for rest in work for event in rest)
                work.clear()
            elif answer.isolates and len(batch) > 1:
                middle = len(batch) // 2
                work.appendleft(batch[middle:])
                work.appendleft(batch[:middle])
            else:
                result.refused.extend((event, answer) for event in batch)
        return result

    # The response is TikTok's answer (no secrets), but keep traces to timing and errors.
    @tracer.capture_method(capture_response=False)  # type: ignore[untyped-decorator]
    def post(self, pixel_id: str, token: str, test_code: str | None, events: Sequence[ServerEvent],
             seconds: float) -> Answer:
        body = track_json(pixel_id, events, test_code)
        timeout = self._full_timeout
        cut_short = seconds < self.total_timeout - 0.1  # the invocation's budget is shorter than one call's
        if cut_short:
            timeout = urllib3.Timeout(connect=min(self.connect_timeout, seconds), total=seconds)
        try:
            response = self.http.request(
                "POST", self.url, body=body, headers={"Access-Token": token, "Content-Type": "application/json"},
                timeout=timeout, retries=False,
            )
        except urllib3.exceptions.TimeoutError:
            # Our budget ended the call, not TikTok: its events are queued as budget_spent, not as TikTok's failure.
            if cut_short:
                return BUDGET_SPENT
            return transport_failure("TimeoutError: TikTok unreachable or too slow")
        except urllib3.exceptions.HTTPError as exc:
            return transport_failure(f"{type(exc).__name__}: TikTok unreachable or too slow")
        except (ValueError, UnicodeError) as exc:
            # A token or URL that cannot go on the wire: no retry will change that.
            return Answer(Outcome.PERMANENT, None, f"{type(exc).__name__}: request could not be sent")
        return classify(response.status, response.data)
