"""Redelivering queued events, grouped per campaign + pixel + test code (docs/design.md §7, §11).

Each SQS record is parsed on its own into a RetryMessage (one that does not parse is dead-lettered
with its reason, never dropped). Messages of one group go to TikTok together, through the delivery
core's `Redeliver` policy, within what is left of the invocation. Each record ends as one `Settled`:

- DELIVERED: every event sent, or found already sent;
- DEAD_LETTERED: TikTok refused some of its events for good (dead-lettered anew with its answer), or the
  message was parked as it was — the campaign lost its token, or it failed on its last allowed try;
- FAILED: TikTok gave no answer yet; the RetryFunction shows it again after a backoff of 30 s doubling
  per failed delivery, capped at an hour, so a message keeps trying for more than a day;
- DEFERRED: never attempted, the invocation ran out of time first; the RetryFunction queues a copy at
  once and lets the record go, so a backlog never spends receives it did not use;
- UNREADABLE: not a message we can read; dead-lettered with its reason.

The RetryFunction (`redeliver`) and replay (services/replay.py) turn these into what SQS must do.
"""

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from aws_lambda_powertools import Logger

from ..answers import BUDGET_SPENT, Answer
from ..budget import Budget
from ..campaign import test_code_to_send
from ..delivery import Delivery, DeliveryCore, DeliveryReport, Redeliver
from ..health import outcome_deltas
from ..messages import MessageError, QueueReason, RetryMessage, UnreadableMessage, parse_message
from ..reasons import ReasonKind
from ..repositories import INFRASTRUCTURE_ERRORS
from ..repositories.ledger import ledger_key
from ..repositories.queues import QueueUnavailable
from ..runtime import Runtime, get_runtime
from ..server_event import ServerEvent

logger = Logger(child=True)
Clock = Callable[[], float]
# Below this much time left, a group is not started: its messages are deferred.
MIN_GROUP_S = 0.5


class Settled(StrEnum):
    DELIVERED = "delivered"
    DEAD_LETTERED = "dead_lettered"
    FAILED = "failed"
    DEFERRED = "deferred"
    UNREADABLE = "unreadable"


class DeliveryPending(Exception):
    """The record must come back: SQS delivers it again (after its backoff)."""


@dataclass(frozen=True)
class QueuedRecord:
    """One SQS record as the batch processor (or replay's receive) hands it over."""

    record_id: str
    receipt_handle: str
    receive_count: int
    body: str


@dataclass(frozen=True)
class Queued:
    record: QueuedRecord
    message: RetryMessage

    @property
    def group(self) -> tuple[str, str, str | None]:
        return self.message.campaign_id, self.message.pixel_id, self.message.test_event_code

    @property
    def failed_deliveries(self) -> int:
        """Deliveries that failed so far, this one included (copies carry earlier ones in `attempts`)."""
        return self.message.attempts + self.record.receive_count


@dataclass(frozen=True)
class Outcome:
    settled: Settled
    # The message as it now stands (the dead-lettered copy for DEAD_LETTERED); None when unreadable.
    message: RetryMessage | None
    why: str = ""
    failed_deliveries: int = 0


def backoff_seconds(failed_deliveries: int, *, base_s: int, cap_s: int) -> int:
    """30 s, 60 s, 120 s … doubling per failed delivery, capped (SQS visibility allows up to 12 h)."""
    return int(min(cap_s, base_s * 2 ** max(0, failed_deliveries - 1)))


class Redelivery:
    """One drain of queued messages: each record's outcome, with the deliveries and dead-letters done."""

    def __init__(self, runtime: Runtime, budget: Budget, *, clock: Clock = time.time, leaving: str = "queued"):
        self.rt = runtime
        self.budget = budget
        self.clock = clock
        # The health figure a message stops counting in once it leaves its queue: "queued" for the
        # RetryQueue, "dead_lettered" when replay drains the DeadLetterQueue.
        self.leaving = leaving
        self.core = DeliveryCore(runtime, Redeliver(), clock)

    def run(self, records: Sequence[QueuedRecord]) -> dict[str, Outcome]:
        outcomes: dict[str, Outcome] = {}
        groups: dict[tuple[str, str, str | None], list[Queued]] = {}
        for record in records:
            try:
                queued = Queued(record, parse_message(record.body))
            except MessageError as problem:
                outcomes[record.record_id] = self._park_unreadable(record, str(problem))
                continue
            groups.setdefault(queued.group, []).append(queued)
        for group in groups.values():
            if self.budget.allows(MIN_GROUP_S):
                outcomes |= self._deliver_group(group)
            else:
                outcomes |= {q.record.record_id: Outcome(Settled.DEFERRED, q.message) for q in group}
        return outcomes

    def _deliver_group(self, group: list[Queued]) -> dict[str, Outcome]:
        first = group[0].message
        try:
            campaign = self.rt.campaigns.get(first.campaign_id)
        except INFRASTRUCTURE_ERRORS as exc:
            why = f"campaign could not be read: {type(exc).__name__}"
            return {q.record.record_id: Outcome(Settled.FAILED, q.message, why, q.failed_deliveries) for q in group}
        if campaign is None or not campaign.has_token:
            reason = QueueReason(kind=ReasonKind.NO_TOKEN, message="campaign deleted or without token")
            return self._dead_letter_as_is(group, reason)
        delivery = Delivery(campaign=campaign, pixel_id=first.pixel_id,
                            events=[event for queued in group for event in queued.message.events], source="retry",
                            test_event_code=test_code_to_send(campaign, self.clock(), queued=first.test_event_code,
                                                              retrying=True))
        return self._settle(group, self.core.deliver(delivery, self.budget))

    def _settle(self, group: list[Queued], report: DeliveryReport) -> dict[str, Outcome]:
        pixel_id = group[0].message.pixel_id

        def keys(events: Sequence[ServerEvent]) -> set[str]:
            return {ledger_key(pixel_id, e.name, e.event_id) for e in events}

        pending: dict[str, Answer] = {ledger_key(pixel_id, e.name, e.event_id): a for e, a in report.pending}
        refused = keys(report.dead_lettered)
        outcomes: dict[str, Outcome] = {}
        for queued in group:
            own = keys(queued.message.events)
            answers = [pending[k] for k in own if k in pending]
            record_id = queued.record.record_id
            if not answers:
                # Every event answered; those TikTok refused are dead-lettered anew by the core.
                self._delivered(queued, complete=not own & refused)
                settled = Settled.DEAD_LETTERED if own & refused else Settled.DELIVERED
                outcomes[record_id] = Outcome(settled, queued.message)
            elif all(answer is BUDGET_SPENT for answer in answers):
                outcomes[record_id] = Outcome(Settled.DEFERRED, queued.message)
            elif queued.failed_deliveries >= self.rt.settings.retry_max_receives:
                reason = QueueReason.of(ReasonKind.RETRIES_EXHAUSTED, answers[0])
                outcomes |= self._dead_letter_as_is([queued], reason)
            else:
                outcomes[record_id] = Outcome(Settled.FAILED, queued.message, answers[0].message,
                                              queued.failed_deliveries)
        return outcomes

    def _delivered(self, queued: Queued, *, complete: bool) -> None:
        """Every event answered; the message's extra ledger records only when none was refused."""
        now = int(self.clock())
        for record in queued.message.ledger_records if complete else ():
            try:
                self.rt.ledger.record_keys([record.key], now, record.ttl_s)
            except INFRASTRUCTURE_ERRORS:
                logger.warning("ledger record after retry not written", extra={"key": record.key})
        self._leave(queued.message)

    def _leave(self, message: RetryMessage) -> None:
        """The message leaves its queue: its events stop counting there in the health figures."""
        self.core.add_health(outcome_deltas(message.campaign_id, message.events, self.leaving,
                                            message.queued_at.timestamp(), sign=-1))

    def _dead_letter_as_is(self, group: Sequence[Queued], reason: QueueReason) -> dict[str, Outcome]:
        now = datetime.fromtimestamp(self.clock(), UTC)
        parked = [q.message.model_copy(update={"reason": reason, "queued_at": now}) for q in group]
        try:
            self.rt.dead_letter_queue.send(parked)
        except QueueUnavailable as exc:
            why = f"DeadLetterQueue unavailable: {exc}"
            return {q.record.record_id: Outcome(Settled.FAILED, q.message, why, q.failed_deliveries) for q in group}
        for queued, message in zip(group, parked, strict=True):
            self._leave(queued.message)
            self.core.add_health(outcome_deltas(message.campaign_id, message.events, "dead_lettered",
                                                message.queued_at.timestamp()))
        logger.error("queued events dead-lettered", extra={"reason": reason.model_dump(),
                                                           "messages": [q.message.message_id for q in group]})
        return {q.record.record_id: Outcome(Settled.DEAD_LETTERED, m, reason.message)
                for q, m in zip(group, parked, strict=True)}

    def _park_unreadable(self, record: QueuedRecord, problem: str) -> Outcome:
        parked = UnreadableMessage(message_id=record.record_id, body=record.body[:4096],
                                   reason=QueueReason(kind=ReasonKind.UNREADABLE, message=problem))
        try:
            self.rt.dead_letter_queue.send([parked])
        except QueueUnavailable:
            return Outcome(Settled.FAILED, None, "unreadable, and the DeadLetterQueue is unavailable",
                           record.receive_count)
        logger.error("unreadable queue message dead-lettered", extra={"message_id": record.record_id,
                                                                      "problem": problem})
        return Outcome(Settled.UNREADABLE, None, problem)


def redeliver(records: Sequence[QueuedRecord], budget: Budget, runtime: Runtime | None = None, *,
              clock: Clock = time.time) -> Mapping[str, Exception]:
    """The RetryFunction's batch: the records SQS must deliver again, each with why (backoff applied)."""
    runtime = runtime or get_runtime()
    outcomes = Redelivery(runtime, budget, clock=clock).run(records)
    by_id = {record.record_id: record for record in records}
    settings = runtime.settings
    failures: dict[str, Exception] = {}
    deferred = [(by_id[i], o.message) for i, o in outcomes.items() if o.settled is Settled.DEFERRED and o.message]
    if deferred:
        # A copy keeps the failed deliveries of the original (this receive did not attempt it).
        copies = [m.model_copy(update={"attempts": m.attempts + r.receive_count - 1}) for r, m in deferred]
        try:
            runtime.retry_queue.send(copies)
            logger.info("messages deferred to a later invocation", extra={"messages": len(copies)})
        except QueueUnavailable:
            for record, _ in deferred:
                _postpone(runtime, record, 0)
                failures[record.record_id] = DeliveryPending("deferred; no copy could be queued")
    for record_id, outcome in outcomes.items():
        if outcome.settled is Settled.FAILED:
            _postpone(runtime, by_id[record_id], backoff_seconds(outcome.failed_deliveries,
                                                                 base_s=settings.retry_backoff_base_s,
                                                                 cap_s=settings.retry_backoff_cap_s))
            failures[record_id] = DeliveryPending(outcome.why)
    return failures


def _postpone(runtime: Runtime, record: QueuedRecord, seconds: int) -> None:
    try:
        runtime.retry_queue.postpone(record.receipt_handle, seconds)
    except INFRASTRUCTURE_ERRORS:
        # Best effort: without it the queue's own visibility timeout spaces the retries.
        logger.warning("backoff not applied", extra={"message_id": record.record_id})
