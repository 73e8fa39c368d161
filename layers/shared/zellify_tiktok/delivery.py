"""One delivery core (docs/design.md §4, §7): dedupe → send within the invocation's budget → record the outcome.

Every channel delivers through it: the collector and the Stripe webhook under the `ServeRequest`
policy (one attempt; what has no answer yet goes to the RetryQueue), the RetryFunction and replay under
`Redeliver` (what has no answer stays in its message, which SQS brings back after a backoff). The two
differ only in how they park what is still pending and how much of the invocation TikTok may use.
"""

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from aws_lambda_powertools import Logger

from .answers import BUDGET_SPENT, Answer, Outcome
from .budget import Budget
from .campaign import Campaign, LastDelivery
from .health import HealthDelta, outcome_deltas
from .observability import count
from .reasons import ReasonKind
from .repositories import INFRASTRUCTURE_ERRORS
from .repositories.aws import CALL_WORST_CASE_S
from .repositories.ledger import LedgerRecord, SentRecord, ledger_key
from .repositories.queues import QueueUnavailable
from .runtime import Runtime
from .server_event import ServerEvent
from .tiktok import SendResult

if TYPE_CHECKING:  # the message models are pydantic: imported where a message is built, not at cold start
    from .messages import RetryMessage

logger = Logger(child=True)
Pending = tuple[ServerEvent, Answer]


@dataclass(slots=True)  # one per request or queued group: not frozen (cheaper to build), never changed
class Delivery:
    """Events of one campaign for one pixel + test code, and where they come from."""

    campaign: Campaign
    # The pixel the events were built for: a retry goes there even if the campaign moved on.
    pixel_id: str
    test_event_code: str | None
    events: Sequence[ServerEvent]
    source: str
    ledger_records: Sequence[LedgerRecord] = ()
    # Redelivery: the extra records of each queued message, by its events' ledger keys. A refused event's
    # dead-lettered copy carries those of the message it came from, not the whole group's.
    records_by_key: Mapping[str, tuple[LedgerRecord, ...]] = field(default_factory=dict)

    def records_for(self, event: ServerEvent) -> tuple[LedgerRecord, ...]:
        """The extra ledger records a parked copy of `event` carries: a replay that delivers it writes them."""
        own = self.records_by_key.get(ledger_key(self.pixel_id, event.name, event.event_id), ())
        return tuple(dict.fromkeys((*self.ledger_records, *own)))


@dataclass(slots=True)
class DeliveryReport:
    sent: list[ServerEvent] = field(default_factory=list)
    duplicates: list[ServerEvent] = field(default_factory=list)
    queued: list[ServerEvent] = field(default_factory=list)
    dead_lettered: list[ServerEvent] = field(default_factory=list)
    # Redelivery only: events still without an answer, left in their message for SQS to bring back.
    pending: list[Pending] = field(default_factory=list)
    answer: Answer | None = None


class Policy(Protocol):
    def tiktok_budget(self, budget: Budget, keep: float) -> Budget:
        """How much of the invocation's budget TikTok may use, keeping `keep` seconds for afterwards."""
        ...

    def park(self, core: "DeliveryCore", delivery: Delivery, pending: Sequence[Pending], kind: ReasonKind,
             report: DeliveryReport) -> None:
        """Put events without an answer somewhere they will be delivered from later."""
        ...

    def not_dead_lettered(self, core: "DeliveryCore", delivery: Delivery, refused: Sequence[Pending],
                          problem: QueueUnavailable, report: DeliveryReport) -> None:
        """What becomes of refused events the DeadLetterQueue could not take."""
        ...


class ServeRequest:
    """A function answering a request: TikTok gets at most `tiktok_seconds`; pending events are queued."""

    def __init__(self, tiktok_seconds: float):
        self.tiktok_seconds = tiktok_seconds

    def tiktok_budget(self, budget: Budget, keep: float) -> Budget:
        return budget.within(self.tiktok_seconds, keep=keep)

    def park(self, core: "DeliveryCore", delivery: Delivery, pending: Sequence[Pending], kind: ReasonKind,
             report: DeliveryReport) -> None:
        """Raises QueueUnavailable when the RetryQueue cannot take them either."""
        by_answer: dict[Answer, list[ServerEvent]] = {}
        for event, answer in pending:
            by_answer.setdefault(answer, []).append(event)
        messages = [core.message(delivery, events, kind, answer, delivery.ledger_records)
                    for answer, events in by_answer.items()]
        core.rt.retry_queue.send(messages)
        events = [event for event, _ in pending]
        report.queued.extend(events)
        core.add_health(outcome_deltas(delivery.campaign.campaign_id, events, "queued", core.clock()))
        logger.info("events queued for retry", extra={"campaign_id": delivery.campaign.campaign_id,
                                                      "reason": str(kind), "event_ids": [e.event_id for e in events]})

    def not_dead_lettered(self, core: "DeliveryCore", delivery: Delivery, refused: Sequence[Pending],
                          problem: QueueUnavailable, report: DeliveryReport) -> None:
        """The caller answers "try again" (503, or 500 to Stripe)."""
        raise problem


class Redeliver:
    """The RetryFunction and replay: TikTok may use what is left; pending events stay in their message."""

    def tiktok_budget(self, budget: Budget, keep: float) -> Budget:
        return budget.within(budget.remaining(), keep=keep)

    def park(self, core: "DeliveryCore", delivery: Delivery, pending: Sequence[Pending], kind: ReasonKind,
             report: DeliveryReport) -> None:
        report.pending.extend(pending)

    def not_dead_lettered(self, core: "DeliveryCore", delivery: Delivery, refused: Sequence[Pending],
                          problem: QueueUnavailable, report: DeliveryReport) -> None:
        """They stay in their message, as if TikTok had not answered: refused again later, dead-lettered then."""
        answer = Answer(Outcome.TRANSIENT, None, f"DeadLetterQueue unavailable: {problem}")
        report.pending.extend((event, answer) for event, _ in refused)


class DeliveryCore:
    """Deliveries within one invocation's budget: every call it makes, TikTok's and AWS's, fits in it."""

    def __init__(self, runtime: Runtime, policy: Policy, budget: Budget, clock: Callable[[], float] = time.time):
        self.rt = runtime
        self.policy = policy
        self.budget = budget
        self.clock = clock

    def deliver(self, delivery: Delivery) -> DeliveryReport:
        """Send what was not sent before; park what has no answer yet; dead-letter what TikTok refused.

        Raises QueueUnavailable (ServeRequest) only when something could not be parked or dead-lettered either.
        """
        budget = self.budget
        report = DeliveryReport()
        campaign = delivery.campaign
        unique: dict[str, ServerEvent] = {}
        for event in delivery.events:
            key = ledger_key(delivery.pixel_id, event.name, event.event_id)
            if key in unique:
                report.duplicates.append(event)
            else:
                unique[key] = event
        # Kept from TikTok's share: time to park what is left (one queue call) and record what was sent
        # (one ledger call). Not started at all without time for the two reads and the parking.
        reserve = 2 * CALL_WORST_CASE_S
        if not budget.allows(3 * CALL_WORST_CASE_S):
            self._park(delivery, [(e, BUDGET_SPENT) for e in unique.values()], ReasonKind.BUDGET_SPENT, report)
            return self._finish(delivery, report)
        try:
            already = self.rt.ledger.already_sent(list(unique))
            token = self.rt.secrets.get_token(campaign.campaign_id)
        except INFRASTRUCTURE_ERRORS as exc:
            logger.warning("infrastructure failure before send",
                           extra={"campaign_id": campaign.campaign_id, "error": type(exc).__name__})
            answer = Answer(Outcome.TRANSIENT, None, f"infrastructure: {type(exc).__name__}")
            self._park(delivery, [(e, answer) for e in unique.values()], ReasonKind.INFRASTRUCTURE, report)
            return self._finish(delivery, report)
        if already:
            report.duplicates.extend(unique[key] for key in already)
        pending = [event for key, event in unique.items() if key not in already] if already else list(unique.values())
        if not pending:
            return self._finish(delivery, report)
        if not token:
            answer = Answer(Outcome.PERMANENT, None, "campaign has no Events API access token")
            self._dead_letter(delivery, [(e, answer) for e in pending], ReasonKind.NO_TOKEN, report)
            report.answer = answer
            return self._finish(delivery, report)

        result = self.rt.tiktok.send(pixel_id=delivery.pixel_id, access_token=token, events=pending,
                                     test_event_code=delivery.test_event_code,
                                     budget=self.policy.tiktok_budget(budget, keep=reserve))
        report.sent.extend(result.sent)
        report.answer = result.last_answer
        _count_outcomes(result)
        try:
            if result.unanswered:
                spent = all(answer is BUDGET_SPENT for _, answer in result.unanswered)
                self._park(delivery, result.unanswered,
                           ReasonKind.BUDGET_SPENT if spent else ReasonKind.TRANSIENT, report)
            if result.refused:
                self._dead_letter(delivery, result.refused, ReasonKind.REFUSED, report)
        finally:
            # Even when parking failed (the caller answers 503): what TikTok took is not sent twice.
            self._record_sent(delivery, result, budget)
        if report.answer is not None and budget.allows(CALL_WORST_CASE_S):
            self._note_delivery(campaign, report.answer)
        return self._finish(delivery, report)

    def _park(self, delivery: Delivery, pending: Sequence[Pending], kind: ReasonKind,
              report: DeliveryReport) -> None:
        if pending:
            self.policy.park(self, delivery, pending, kind, report)

    def _dead_letter(self, delivery: Delivery, refused: Sequence[Pending], kind: ReasonKind,
                     report: DeliveryReport) -> None:
        try:
            self.dead_letter(delivery, refused, kind, report)
        except QueueUnavailable as problem:
            self.policy.not_dead_lettered(self, delivery, refused, problem, report)

    def message(self, delivery: Delivery, events: Sequence[ServerEvent], kind: ReasonKind, answer: Answer,
                records: Sequence[LedgerRecord] = ()) -> "RetryMessage":
        from .messages import QueueReason, RetryMessage

        return RetryMessage(campaign_id=delivery.campaign.campaign_id, pixel_id=delivery.pixel_id,
                            test_event_code=delivery.test_event_code, source=delivery.source,
                            reason=QueueReason.of(kind, answer), ledger_records=tuple(records), events=tuple(events),
                            queued_at=datetime.fromtimestamp(self.clock(), UTC))

    def dead_letter(self, delivery: Delivery, failures: Sequence[Pending], kind: ReasonKind,
                    report: DeliveryReport) -> None:
        by_answer: dict[tuple[Answer, tuple[LedgerRecord, ...]], list[ServerEvent]] = {}
        for event, answer in failures:
            by_answer.setdefault((answer, delivery.records_for(event)), []).append(event)
        messages = [self.message(delivery, events, kind, answer, records)
                    for (answer, records), events in by_answer.items()]
        self.rt.dead_letter_queue.send(messages)
        events = [event for event, _ in failures]
        report.dead_lettered.extend(events)
        self.add_health(outcome_deltas(delivery.campaign.campaign_id, events, "dead_lettered", self.clock()))
        logger.error("events dead-lettered", extra={"campaign_id": delivery.campaign.campaign_id,
                                                    "reasons": [m.reason.model_dump() for m in messages]})

    def _record_sent(self, delivery: Delivery, result: SendResult, budget: Budget) -> None:
        if not result.sent:
            return
        now = int(self.clock())
        campaign_id, pixel_id = delivery.campaign.campaign_id, delivery.pixel_id
        records = [SentRecord(ledger_key(pixel_id, e.name, e.event_id), campaign_id, e.name, e.user.match_keys(), ms,
                              *((e.value, e.currency) if e.is_payment else (None, None)))
                   for e, ms in zip(result.sent, result.sent_ms, strict=True)]
        # Sent but not recorded (no time left, or DynamoDB failing): a repeat may be sent again, and
        # TikTok's own dedup absorbs it.
        calls = int(budget.remaining() // CALL_WORST_CASE_S)
        try:
            written = self.rt.ledger.record_sent(records, now, max_calls=max(calls, 0))
            # Extra records stand for the whole delivery: only when nothing is left to retry.
            everything = written == len(records) and not result.unanswered and not result.refused
            if everything and delivery.ledger_records and budget.allows(CALL_WORST_CASE_S):
                for record in delivery.ledger_records:
                    self.rt.ledger.record_keys([record.key], now, record.ttl_s)
        except INFRASTRUCTURE_ERRORS as exc:
            logger.warning("ledger record failed", extra={"campaign_id": delivery.campaign.campaign_id,
                                                          "error": type(exc).__name__})

    def _note_delivery(self, campaign: Campaign, answer: Answer) -> None:
        """Keep TikTok's last answer on the campaign when it changed, or at most once a refresh period."""
        last = campaign.last_delivery
        now = self.clock()
        stale = last is None or now - last.at.timestamp() > self.rt.settings.last_delivery_refresh_s
        if not stale and last is not None and last.code == answer.code and last.outcome == answer.outcome:
            return
        try:
            self.rt.campaigns.record_delivery(campaign.campaign_id,
                                              LastDelivery.of(answer, datetime.fromtimestamp(now, UTC)))
        except INFRASTRUCTURE_ERRORS as exc:
            logger.warning("last_delivery not recorded", extra={"error": type(exc).__name__})

    def add_health(self, deltas: Sequence[HealthDelta]) -> None:
        """The rarer outcomes' figures: best effort, a delivery never fails on them nor answers late for them."""
        if not deltas:
            return
        calls = int(self.budget.remaining() // CALL_WORST_CASE_S)
        try:
            written = self.rt.health.add(deltas, max_calls=calls)
        except INFRASTRUCTURE_ERRORS as exc:
            logger.warning("health figures not recorded", extra={"error": type(exc).__name__})
            return
        if written < len(deltas):
            logger.warning("health figures not recorded: no time left", extra={"skipped": len(deltas) - written})

    def _finish(self, delivery: Delivery, report: DeliveryReport) -> DeliveryReport:
        if report.duplicates:
            count("EventsDeduplicated", len(report.duplicates))
            self.add_health(outcome_deltas(delivery.campaign.campaign_id, report.duplicates, "duplicates",
                                           self.clock()))
        return report


def _count_outcomes(result: SendResult) -> None:
    """The failures' counts. Sent events are counted from the ledger's stream (EventsSent, MatchKeysPerEvent,
    TikTokLatency: services/health.py), so the common case emits no metric on the request path."""
    if result.unanswered:
        count("TikTokTransientFailures", len(result.unanswered))
    if result.refused:
        count("TikTokPermanentFailures", len(result.refused))
