"""The DeliveryFunction's batch (docs/design.md §7): queue messages → TikTok → ledger, each message settled.

The request path only queues (handoff.py `submit`): every event reaches TikTok here, on its first try as
on its last.
Each SQS record is parsed on its own into a DeliveryMessage (one that does not parse is dead-lettered with
its reason, never dropped). The events of one campaign + pixel + test code, whatever message holds them, go
through the delivery core together (delivery.py: ledger check, grouped TikTok calls, ledger record) within
what is left of the invocation. Then each message is settled on its own, from its events' outcomes:

- DELIVERED: every event sent, or found already sent;
- DEAD_LETTERED: its events refused by TikTok (or retried for more than a day) are in the DeadLetterQueue,
  with TikTok's code and message; the others were delivered;
- REQUEUED: some events still have no answer: a copy holding only those is queued, delayed by its backoff,
  with its failed deliveries in its body (`attempts`), so what comes back never sends or dead-letters an
  answered event again; copies of one group that would come back together travel as one message, so an
  outage grows the queue by a message per group and delivery, not per beacon; also a message the
  invocation had no time for (a copy, so a backlog spends no receive). A first delivery that failed
  always leaves as such a copy: its body then says that its events wait for a retry (health's `queued`),
  which SQS's receive count could not;
- RETRY: a copy that failed again with no event answered: SQS shows the record again after its backoff
  (30 s doubling per failed delivery, capped at an hour; dead-lettered after `max_deliveries`, more than a
  day in all);
- UNREADABLE: not a message we can read; dead-lettered with its reason;
- REPEATED: the very same message (same body) earlier in the batch, as SQS may deliver it: settled by that
  one.

Replay (services/replay.py) drains the DeadLetterQueue through the same class.
"""

import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from aws_lambda_powertools import Logger

from ..answers import BUDGET_SPENT, Answer
from ..answers import Outcome as AnswerOutcome
from ..budget import Budget
from ..campaign import test_code_to_send
from ..delivery import Delivery, DeliveryCore, DeliveryReport, Fate, Outgoing
from ..health_figures import HealthDelta, added_up, hour_of, outcome_deltas
from ..messages import DeliveryMessage, MessageError, QueueReason, UnreadableMessage, parse_message
from ..observability import count
from ..reasons import ReasonKind
from ..repositories import INFRASTRUCTURE_ERRORS
from ..repositories.aws import CALL_WORST_CASE_S
from ..repositories.queues import MAX_DELAY_S, MessageQueue, QueueUnavailable
from ..runtime import Runtime
from ..server_event import ServerEvent

logger = Logger(child=True)
Clock = Callable[[], float]
# Below this much time left, a group is not started: its messages are requeued as they are.
MIN_GROUP_S = 0.5
# Tries of one health figures write (each within the budget).
FIGURE_ATTEMPTS = 3


class Settled(StrEnum):
    DELIVERED = "delivered"
    DEAD_LETTERED = "dead_lettered"
    REQUEUED = "requeued"
    RETRY = "retry"
    UNREADABLE = "unreadable"
    REPEATED = "repeated"


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
    message: DeliveryMessage

    @property
    def group(self) -> tuple[str, str, str | None]:
        return self.message.campaign_id, self.message.pixel_id, self.message.test_event_code

    @property
    def earlier_failures(self) -> int:
        """Deliveries of this message that failed before this one (copies carry theirs in `attempts`)."""
        return self.message.attempts + self.record.receive_count - 1


@dataclass(frozen=True)
class Settlement:
    settled: Settled
    why: str = ""
    # RETRY: seconds until SQS shows the record again.
    retry_in_s: int = 0


# One message's events as the delivery left them: the message, its refused events by reason, its unanswered ones.
Verdict = tuple[Queued, dict[QueueReason, list[ServerEvent]], list[tuple[ServerEvent, Answer]]]


@dataclass
class Plan:
    """How one message will be settled, made before its narrowed copy (if any) is queued."""

    queued: Queued
    refused: dict[QueueReason, list[ServerEvent]]
    # Its events that counted as waiting before this delivery.
    before: list[ServerEvent]
    backoff: int
    why: str = ""
    # Nothing answered and already counted as waiting: the record itself comes back.
    retry_whole: bool = False
    # The copy holding its unanswered events, queued `delay_s` later.
    copy: DeliveryMessage | None = None
    delay_s: int = 0
    deferred: bool = False
    copy_failed: bool = False


def _merge_key(copy: DeliveryMessage, delay_s: int) -> tuple[object, ...] | None:
    """Copies with the same key can travel as one message; None: this one travels alone (its extra ledger
    records belong to its own events)."""
    if copy.ledger_records:
        return None
    return (copy.campaign_id, copy.pixel_id, copy.test_event_code, copy.source, copy.reason, copy.attempts,
            hour_of(copy.queued_at.timestamp()), delay_s)


def _merged(copies: Sequence[DeliveryMessage]) -> list[DeliveryMessage]:
    """Copies alike as one message: the earliest's envelope (the same health hour), every copy's events. The
    queue splits it again where it would not fit in one SQS message."""
    if len(copies) == 1:
        return list(copies)
    earliest = min(copies, key=lambda copy: copy.queued_at)
    return [earliest.model_copy(update={"events": tuple(event for copy in copies for event in copy.events)})]


def backoff_seconds(failed_deliveries: int, *, base_s: int, cap_s: int) -> int:
    """30 s, 60 s, 120 s … doubling per failed delivery, capped (SQS visibility allows up to 12 h)."""
    return int(min(cap_s, base_s * 2 ** max(0, failed_deliveries - 1)))


@dataclass
class Drain:
    """One batch of queued messages delivered and settled, message by message."""

    runtime: Runtime
    budget: Budget
    # Where copies of messages with unanswered events go: the DeliveryQueue; the DeadLetterQueue for replay.
    requeue: MessageQueue
    # The health figure a message's events count in while they wait: "queued" in the DeliveryQueue (after a
    # failed delivery), "dead_lettered" for replay (from the start).
    waiting: str = "queued"
    # Failed deliveries after which the unanswered events are dead-lettered; None: never (replay).
    max_deliveries: int | None = None
    clock: Clock = time.time
    core: DeliveryCore = field(init=False)
    # Health figures of the group, written once per group and bucket (docs/design.md §9).
    _figures: list[HealthDelta] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.core = DeliveryCore(self.runtime, self.clock)

    def run(self, records: Sequence[QueuedRecord]) -> dict[str, Settlement]:
        settled: dict[str, Settlement] = {}
        groups: dict[tuple[str, str, str | None], list[Queued]] = {}
        bodies: set[str] = set()
        for record in records:
            if record.body in bodies:
                # SQS delivers at least once, and a SendMessage tried again after a timeout SQS had in fact
                # taken queues a message twice: the second copy is settled by the first, its events neither
                # sent again nor counted as the funnel's repeats.
                settled[record.record_id] = Settlement(Settled.REPEATED, "the same message earlier in this batch")
                continue
            bodies.add(record.body)
            try:
                queued = Queued(record, parse_message(record.body))
            except MessageError as problem:
                settled[record.record_id] = self._park_unreadable(record, str(problem))
                continue
            groups.setdefault(queued.group, []).append(queued)
        late: list[Queued] = []
        for group in groups.values():
            if self.budget.allows(MIN_GROUP_S):
                settled |= self._deliver_group(group)
                self._write_figures()
            else:
                late += group
        if late:
            settled |= self._defer(late)
        return settled

    def _defer(self, late: Sequence[Queued]) -> dict[str, Settlement]:
        """Messages the invocation had no time for: copies at once, ten a SendMessageBatch, so a backlog spends
        no receive it did not use. Each keeps its failures (and so whether its events count as waiting)."""
        copies = [q.message.model_copy(update={"attempts": q.earlier_failures if q.message.attempts else 0})
                  for q in late]
        try:
            self.requeue.send(copies)
        except QueueUnavailable:
            return {q.record.record_id: Settlement(Settled.RETRY, "deferred; no copy could be queued") for q in late}
        logger.info("messages deferred to a later invocation", extra={"messages": len(copies)})
        return {q.record.record_id: Settlement(Settled.REQUEUED, BUDGET_SPENT.message) for q in late}

    def _counted(self, queued: Queued) -> bool:
        """Whether the message's events count in the `waiting` figure already: a copy made after a failed
        delivery says so in its body (`attempts`), which SQS's receive count (crashes, duplicate receives) could
        not; in the DeadLetterQueue (replay) they always do."""
        return self.max_deliveries is None or queued.message.attempts > 0

    def _deliver_group(self, group: list[Queued]) -> dict[str, Settlement]:
        first = group[0].message
        try:
            campaign = self.runtime.campaigns.get(first.campaign_id)
        except INFRASTRUCTURE_ERRORS as exc:
            answer = Answer(AnswerOutcome.TRANSIENT, None, f"campaign could not be read: {type(exc).__name__}")
            return self._settle([(q, {}, [(e, answer) for e in q.message.events]) for q in group])
        if campaign is None or not campaign.has_token:
            reason = QueueReason(kind=ReasonKind.NO_TOKEN, message="campaign deleted or without token")
            return self._settle([(q, {reason: list(q.message.events)}, []) for q in group])
        delivery = Delivery(campaign=campaign, pixel_id=first.pixel_id,
                            test_event_code=test_code_to_send(campaign, self.clock(), queued=first.test_event_code,
                                                              retrying=True),
                            items=[Outgoing(event, queued.message.ledger_records)
                                   for queued in group for event in queued.message.events])
        report = self.core.deliver(delivery, self.budget)
        self._count_duplicates(group, delivery, report)
        fates = Counter(outcome.fate for outcome in report.outcomes.values())
        # A routine line (sampled in Lambda): what this group's call(s) did, with the first event ids to find it by.
        logger.info("events delivered", extra={"campaign_id": campaign.campaign_id,
                                               **{str(fate): fates[fate] for fate in Fate},
                                               "event_ids": [item.event.event_id for item in delivery.items[:20]]})
        verdicts: list[Verdict] = []
        for queued in group:
            refused: dict[QueueReason, list[ServerEvent]] = {}
            unanswered: list[tuple[ServerEvent, Answer]] = []
            for event in queued.message.events:
                outcome = report.outcomes[delivery.key(event)]
                if outcome.fate is Fate.REFUSED and outcome.answer is not None:
                    refused.setdefault(QueueReason.of(ReasonKind.REFUSED, outcome.answer), []).append(event)
                elif outcome.fate is Fate.UNANSWERED and outcome.answer is not None:
                    unanswered.append((event, outcome.answer))
            verdicts.append((queued, refused, unanswered))
        return self._settle(verdicts)

    def _count_duplicates(self, group: Sequence[Queued], delivery: Delivery, report: DeliveryReport) -> None:
        """Repeats the ledger dropped, and repeats inside the batch of an event sent once. Only on a message's
        first delivery: a retry finding what its own earlier delivery sent is no repeat of the funnel's."""
        first = [q for q in group if self.max_deliveries is not None and q.earlier_failures == 0]
        dropped = [event for q in first for event in q.message.events
                   if report.outcomes[delivery.key(event)].fate is Fate.DUPLICATE]
        dropped += [event for event in report.repeats if report.outcomes[delivery.key(event)].fate is Fate.SENT]
        if dropped:
            count("EventsDeduplicated", len(dropped))
            self._figures.extend(outcome_deltas(delivery.campaign.campaign_id, dropped, "duplicates", self.clock()))

    def _settle(self, verdicts: Sequence[Verdict]) -> dict[str, Settlement]:
        """Settle each message of a group from its events' outcomes. The narrowed copies are queued together
        first: copies that would come back at the same time for the same campaign, pixel, test code and hour
        go in one message, so an outage does not grow the queue by one message per beacon (a copy holding
        extra ledger records stays alone: those records belong to its own events)."""
        plans = [self._plan(verdict) for verdict in verdicts]
        alike: dict[object, list[Plan]] = {}
        for plan in plans:
            if plan.copy is not None:
                alike.setdefault(_merge_key(plan.copy, plan.delay_s) or id(plan), []).append(plan)
        for same in alike.values():
            try:
                self.requeue.send(_merged([plan.copy for plan in same if plan.copy is not None]),
                                  delay_s=same[0].delay_s)
            except QueueUnavailable:
                for plan in same:
                    plan.copy_failed = True
        return {plan.queued.record.record_id: self._finish(plan) for plan in plans}

    def _plan(self, verdict: Verdict) -> Plan:
        queued, refused, unanswered = verdict
        message = queued.message
        failed = queued.earlier_failures + 1
        deferred = bool(unanswered) and all(answer is BUDGET_SPENT for _, answer in unanswered)
        if unanswered and not deferred and self.max_deliveries is not None and failed >= self.max_deliveries:
            reason = QueueReason.of(ReasonKind.RETRIES_EXHAUSTED, unanswered[0][1])
            refused = {**refused, reason: [*refused.get(reason, []), *(event for event, _ in unanswered)]}
            unanswered = []
        backoff = backoff_seconds(failed, base_s=self.runtime.config.retry_backoff_base_s,
                                  cap_s=self.runtime.config.retry_backoff_cap_s)
        plan = Plan(queued, refused, list(message.events) if self._counted(queued) else [], backoff,
                    why=unanswered[0][1].message if unanswered else "")
        if not unanswered:
            return plan
        if len(unanswered) == len(message.events) and not deferred and self._counted(queued):
            # Nothing of it answered, and its body already counts as waiting: the record itself comes back
            # after its backoff.
            plan.retry_whole = True
            return plan
        # A copy takes the record's place: its unanswered events only, and its failed deliveries in its body.
        kind = ReasonKind.BUDGET_SPENT if deferred else ReasonKind.TRANSIENT
        update: dict[str, object] = {"events": tuple(event for event, _ in unanswered)}
        if self.max_deliveries is not None:  # replay keeps a dead letter's reason and count as they were
            update |= {"reason": QueueReason.of(kind, unanswered[0][1]),
                       # A copy the invocation had no time for keeps the failures of the original, not this
                       # receive (and one of a first delivery stays one: its events do not wait for a retry).
                       "attempts": (queued.earlier_failures if message.attempts else 0) if deferred else failed}
        plan.copy = message.model_copy(update=update)
        plan.deferred = deferred
        plan.delay_s = 0 if deferred or self.max_deliveries is None else min(backoff, MAX_DELAY_S)
        return plan

    def _finish(self, plan: Plan) -> Settlement:
        message, before = plan.queued.message, plan.before
        if plan.retry_whole:
            self._figure(message, before, list(message.events))
            return Settlement(Settled.RETRY, plan.why, plan.backoff)
        if plan.copy_failed:
            # The record comes back whole; its answered events are then found in the ledger (or refused
            # again, and dead-lettered then, once).
            self._figure(message, before, before)
            return Settlement(Settled.RETRY, f"{plan.why}; no copy could be queued",
                              0 if plan.deferred else plan.backoff)
        waiting: list[ServerEvent] = []
        settlement = Settlement(Settled.DEAD_LETTERED if plan.refused else Settled.DELIVERED)
        if plan.copy is not None:
            if self.max_deliveries is None or plan.copy.attempts > 0:
                waiting = list(plan.copy.events)
            settlement = Settlement(Settled.REQUEUED, plan.why)
        if plan.refused:
            try:
                self._dead_letter(message, plan.refused)
            except QueueUnavailable:
                # Comes back whole: refused again then. A narrowed copy already queued finds its events sent
                # or sends them once (the ledger).
                self._figure(message, before, waiting + before)
                return Settlement(Settled.RETRY, "DeadLetterQueue unavailable", plan.backoff)
        self._figure(message, before, waiting)
        return settlement

    def _figure(self, message: DeliveryMessage, before: Sequence[ServerEvent], after: Sequence[ServerEvent]) -> None:
        """The message's events waiting before and after this delivery, in the hour it was first queued."""
        at = message.queued_at.timestamp()
        self._figures.extend(outcome_deltas(message.campaign_id, before, self.waiting, at, sign=-1))
        self._figures.extend(outcome_deltas(message.campaign_id, after, self.waiting, at))

    def _dead_letter(self, message: DeliveryMessage, refused: Mapping[QueueReason, Sequence[ServerEvent]]) -> None:
        now = self.clock()
        copies = [message.model_copy(update={
            "message_id": message.message_id if len(refused) == 1 else f"{message.message_id}-{index}",
            "events": tuple(events), "reason": reason, "queued_at": datetime.fromtimestamp(now, UTC)})
            for index, (reason, events) in enumerate(refused.items())]
        self.runtime.dead_letter_queue.send(copies)
        for copy in copies:
            self._figures.extend(outcome_deltas(copy.campaign_id, copy.events, "dead_lettered", now))
        logger.error("events dead-lettered", extra={"campaign_id": message.campaign_id,
                                                    "reasons": [c.reason.model_dump() for c in copies if c.reason],
                                                    "event_ids": [e.event_id for c in copies for e in c.events]})

    def _park_unreadable(self, record: QueuedRecord, problem: str) -> Settlement:
        parked = UnreadableMessage(message_id=record.record_id, body=record.body[:4096],
                                   reason=QueueReason(kind=ReasonKind.UNREADABLE, message=problem))
        try:
            self.runtime.dead_letter_queue.send([parked])
        except QueueUnavailable:
            return Settlement(Settled.RETRY, "unreadable, and the DeadLetterQueue is unavailable")
        logger.error("unreadable queue message dead-lettered", extra={"message_id": record.record_id,
                                                                      "problem": problem})
        return Settlement(Settled.UNREADABLE, problem)

    def _write_figures(self) -> None:
        """The rarer outcomes' figures: best effort, within the budget. A write that timed out is made again:
        `add_once`'s marker item makes that safe when DynamoDB had in fact applied it (a lost subtraction
        would leave events counted as `queued` for good; a doubled addition would too)."""
        deltas = added_up(self._figures)
        self._figures.clear()
        if not deltas:
            return
        write = f"delivery-{uuid.uuid4()}"
        failure = "no time left"
        for _ in range(FIGURE_ATTEMPTS):
            if not self.budget.allows(CALL_WORST_CASE_S):
                break
            try:
                self.runtime.health.add_once(deltas, write, int(self.clock()))
                return
            except INFRASTRUCTURE_ERRORS as exc:
                failure = type(exc).__name__
        logger.warning("health figures not recorded", extra={"error": failure, "skipped": len(deltas)})


def deliver_batch(records: Sequence[QueuedRecord], runtime: Runtime, budget: Budget, *,
                  clock: Clock = time.time) -> Mapping[str, Exception]:
    """The DeliveryFunction's batch: the records SQS must deliver again, each with why (backoff applied)."""
    drain = Drain(runtime, budget, runtime.delivery_queue, max_deliveries=runtime.config.retry_max_receives,
                  clock=clock)
    settled = drain.run(records)
    by_id = {record.record_id: record for record in records}
    failures: dict[str, Exception] = {}
    # Receipt handle → seconds until the record shows again; set in one pass at the end.
    postponed: dict[str, int] = {}
    for record_id, settlement in settled.items():
        if settlement.settled is Settled.RETRY:
            postponed[by_id[record_id].receipt_handle] = settlement.retry_in_s
            failures[record_id] = DeliveryPending(settlement.why)
    if postponed and (unchanged := runtime.delivery_queue.postpone(postponed)):
        # Without it the queue's own visibility timeout spaces their retries.
        logger.warning("backoff not applied", extra={"records": unchanged})
    return failures

