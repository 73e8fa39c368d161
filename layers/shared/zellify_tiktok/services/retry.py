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

A message some of whose events were answered (sent, or refused and dead-lettered) while others were not is
*narrowed* to the unanswered ones: what comes back never sends or dead-letters an answered event again. A
narrowed FAILED message is queued anew, delayed by its backoff (SQS delays at most 15 minutes), and the
record let go.

The RetryFunction (`redeliver`) and replay (services/replay.py) turn these into what SQS must do.
"""

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from aws_lambda_powertools import Logger

from ..answers import BUDGET_SPENT, Answer
from ..answers import Outcome as AnswerOutcome
from ..budget import Budget
from ..campaign import test_code_to_send
from ..delivery import Delivery, DeliveryCore, DeliveryReport, Redeliver
from ..health import HealthDelta, added_up, outcome_deltas
from ..messages import MessageError, QueueReason, RetryMessage, UnreadableMessage, parse_message
from ..reasons import ReasonKind
from ..repositories import INFRASTRUCTURE_ERRORS
from ..repositories.ledger import LedgerRecord, ledger_key
from ..repositories.queues import MAX_DELAY_S, QueueUnavailable
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
    # The message lost its answered events: the record's body is stale, `message` must take its place.
    narrowed: bool = False


def backoff_seconds(failed_deliveries: int, *, base_s: int, cap_s: int) -> int:
    """30 s, 60 s, 120 s … doubling per failed delivery, capped (SQS visibility allows up to 12 h)."""
    return int(min(cap_s, base_s * 2 ** max(0, failed_deliveries - 1)))


class Redelivery:
    """One drain of queued messages: each record's outcome, with the deliveries and dead-letters done."""

    def __init__(self, runtime: Runtime, budget: Budget, *, clock: Clock = time.time, leaving: str = "queued",
                 max_deliveries: int | None = None):
        self.rt = runtime
        self.budget = budget
        self.clock = clock
        # The health figure a message stops counting in once it leaves its queue: "queued" for the
        # RetryQueue, "dead_lettered" when replay drains the DeadLetterQueue.
        self.leaving = leaving
        # Failed deliveries after which a message is dead-lettered (RETRIES_EXHAUSTED); None: never (replay,
        # whose messages are dead-lettered already).
        self.max_deliveries = max_deliveries
        self.core = DeliveryCore(runtime, Redeliver(), budget, clock)
        # The health figures of the group's messages (leaving their queue, dead-lettered as they were), written
        # once per group and bucket: after an outage every message leaves, and a write per message would not fit
        # in the budget (docs/design.md §9).
        self._figures: list[HealthDelta] = []

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
                self.core.add_health(added_up(self._figures))
                self._figures.clear()
            else:
                outcomes |= {q.record.record_id: Outcome(Settled.DEFERRED, q.message) for q in group}
        return outcomes

    def _deliver_group(self, group: list[Queued]) -> dict[str, Outcome]:
        first = group[0].message
        try:
            campaign = self.rt.campaigns.get(first.campaign_id)
        except INFRASTRUCTURE_ERRORS as exc:
            why = f"campaign could not be read: {type(exc).__name__}"
            answer = Answer(AnswerOutcome.TRANSIENT, None, why)
            return {q.record.record_id: self._not_yet(q, [answer]) for q in group}
        if campaign is None or not campaign.has_token:
            reason = QueueReason(kind=ReasonKind.NO_TOKEN, message="campaign deleted or without token")
            return self._dead_letter_as_is(group, reason)
        delivery = Delivery(campaign=campaign, pixel_id=first.pixel_id,
                            events=[event for queued in group for event in queued.message.events], source="retry",
                            records_by_key=_records_by_key(group),
                            test_event_code=test_code_to_send(campaign, self.clock(), queued=first.test_event_code,
                                                              retrying=True))
        return self._settle(group, self.core.deliver(delivery))

    def _settle(self, group: list[Queued], report: DeliveryReport) -> dict[str, Outcome]:
        pixel_id = group[0].message.pixel_id

        def key(event: ServerEvent) -> str:
            return ledger_key(pixel_id, event.name, event.event_id)

        pending: dict[str, Answer] = {key(e): a for e, a in report.pending}
        refused = {key(e) for e in report.dead_lettered}
        outcomes: dict[str, Outcome] = {}
        for queued in group:
            own = {key(e) for e in queued.message.events}
            answers = [pending[k] for k in own if k in pending]
            record_id = queued.record.record_id
            if not answers:
                # Every event answered; those TikTok refused are dead-lettered anew by the core.
                self._delivered(queued, complete=not own & refused)
                settled = Settled.DEAD_LETTERED if own & refused else Settled.DELIVERED
                outcomes[record_id] = Outcome(settled, queued.message)
                continue
            narrowed = len(answers) < len(own)
            if narrowed:
                queued = self._narrow(queued, pending.keys(), some_refused=bool(own & refused), key=key)
            outcomes[record_id] = self._not_yet(queued, answers, narrowed=narrowed)
        return outcomes

    def _not_yet(self, queued: Queued, answers: Sequence[Answer], *, narrowed: bool = False) -> Outcome:
        """A message with events still unanswered: deferred, dead-lettered for good, or failed for now."""
        if all(answer is BUDGET_SPENT for answer in answers):
            return Outcome(Settled.DEFERRED, queued.message, narrowed=narrowed)
        if self.max_deliveries is not None and queued.failed_deliveries >= self.max_deliveries:
            reason = QueueReason.of(ReasonKind.RETRIES_EXHAUSTED, answers[0])
            parked = self._dead_letter_as_is([queued], reason)[queued.record.record_id]
            return replace(parked, narrowed=narrowed) if parked.settled is Settled.FAILED else parked
        return Outcome(Settled.FAILED, queued.message, answers[0].message, queued.failed_deliveries,
                       narrowed=narrowed)

    def _narrow(self, queued: Queued, unanswered: Collection[str], *, some_refused: bool,
                key: Callable[[ServerEvent], str]) -> Queued:
        """The message with only its unanswered events; the answered ones stop counting in its queue.

        Its extra ledger records stand for the whole delivery: when an event was refused they went with the
        dead-lettered copy, and the narrowed message no longer holds them.
        """
        message = queued.message
        answered = [e for e in message.events if key(e) not in unanswered]
        self._figures.extend(outcome_deltas(message.campaign_id, answered, self.leaving,
                                            message.queued_at.timestamp(), sign=-1))
        update: dict[str, object] = {"events": tuple(e for e in message.events if key(e) in unanswered)}
        if some_refused:
            update["ledger_records"] = ()
        return replace(queued, message=message.model_copy(update=update))

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
        self._figures.extend(outcome_deltas(message.campaign_id, message.events, self.leaving,
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
            self._figures.extend(outcome_deltas(message.campaign_id, message.events, "dead_lettered",
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


def _records_by_key(group: Sequence[Queued]) -> dict[str, tuple[LedgerRecord, ...]]:
    """Each event's extra ledger records: those of the messages that hold it (docs/design.md §4)."""
    records: dict[str, tuple[LedgerRecord, ...]] = {}
    for queued in group:
        message = queued.message
        for event in message.events if message.ledger_records else ():
            key = ledger_key(message.pixel_id, event.name, event.event_id)
            records[key] = tuple(dict.fromkeys((*records.get(key, ()), *message.ledger_records)))
    return records


def redeliver(records: Sequence[QueuedRecord], budget: Budget, runtime: Runtime | None = None, *,
              clock: Clock = time.time) -> Mapping[str, Exception]:
    """The RetryFunction's batch: the records SQS must deliver again, each with why (backoff applied)."""
    runtime = runtime or get_runtime()
    settings = runtime.settings
    outcomes = Redelivery(runtime, budget, clock=clock, max_deliveries=settings.retry_max_receives).run(records)
    by_id = {record.record_id: record for record in records}
    failures: dict[str, Exception] = {}
    # Receipt handle → seconds until the record shows again; set in one pass at the end.
    postponed: dict[str, int] = {}
    deferred = [(by_id[i], o.message) for i, o in outcomes.items() if o.settled is Settled.DEFERRED and o.message]
    if deferred:
        # A copy keeps the failed deliveries of the original (this receive did not attempt it).
        copies = [m.model_copy(update={"attempts": m.attempts + r.receive_count - 1}) for r, m in deferred]
        try:
            runtime.retry_queue.send(copies)
            logger.info("messages deferred to a later invocation", extra={"messages": len(copies)})
        except QueueUnavailable:
            for record, _ in deferred:
                postponed[record.receipt_handle] = 0
                failures[record.record_id] = DeliveryPending("deferred; no copy could be queued")
    for record_id, outcome in outcomes.items():
        if outcome.settled is not Settled.FAILED:
            continue
        backoff = backoff_seconds(outcome.failed_deliveries, base_s=settings.retry_backoff_base_s,
                                  cap_s=settings.retry_backoff_cap_s)
        if outcome.narrowed and outcome.message and _requeue(runtime, outcome, backoff):
            continue
        postponed[by_id[record_id].receipt_handle] = backoff
        failures[record_id] = DeliveryPending(outcome.why)
    if postponed and (unchanged := runtime.retry_queue.postpone(postponed)):
        # Without it the queue's own visibility timeout spaces their retries.
        logger.warning("backoff not applied", extra={"records": unchanged})
    return failures


def _requeue(runtime: Runtime, outcome: Outcome, backoff_s: int) -> bool:
    """A narrowed message queued anew in place of its record, which SQS then deletes."""
    assert outcome.message is not None
    copy = outcome.message.model_copy(update={"attempts": outcome.failed_deliveries})
    try:
        runtime.retry_queue.send([copy], delay_s=min(backoff_s, MAX_DELAY_S))
    except QueueUnavailable:
        return False  # the record comes back whole; its answered events are found in the ledger or refused again
    return True
