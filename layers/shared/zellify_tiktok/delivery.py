"""The delivery core (docs/design.md §4, §7): ledger check → TikTok → ledger record, one outcome per event.

The DeliveryFunction (services/delivery.py) hands it the events of one pixel + token + test code, taken
from any number of queue messages; replay hands it dead-lettered ones the same way. It answers, per event
(by ledger key), what became of it: sent, duplicate (the ledger held it), unanswered (no answer yet: retried
later) or refused (TikTok's permanent answer), each with the answer that decided it. It parks nothing and
settles no message: that is the caller's work, message by message.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from aws_lambda_powertools import Logger

from .answers import Answer, Outcome
from .budget import Budget
from .campaign import CampaignSettings, LastDelivery
from .observability import count
from .records import LedgerRecord, SentRecord, ledger_key
from .repositories import INFRASTRUCTURE_ERRORS
from .repositories.aws import CALL_WORST_CASE_S
from .runtime import Runtime
from .server_event import ServerEvent

logger = Logger(child=True)

# Kept from TikTok's share of the budget: time to record what it confirmed (one ledger call) and to note
# its answer on the campaign.
RECORD_RESERVE_S = 2 * CALL_WORST_CASE_S


class Fate(StrEnum):
    SENT = "sent"
    DUPLICATE = "duplicate"
    UNANSWERED = "unanswered"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class EventOutcome:
    fate: Fate
    # TikTok's answer, or what stood for it (our budget, an infrastructure failure); None for a duplicate.
    answer: Answer | None = None


DUPLICATE = EventOutcome(Fate.DUPLICATE)


@dataclass(slots=True)
class Outgoing:
    """One event on its way, with the extra ledger records it writes once TikTok confirmed it."""

    event: ServerEvent
    records: tuple[LedgerRecord, ...] = ()


@dataclass(slots=True)
class Delivery:
    """Events of one campaign for one pixel + test code."""

    campaign: CampaignSettings
    # The pixel the events were built for: a retry goes there even if the campaign moved on.
    pixel_id: str
    test_event_code: str | None
    items: Sequence[Outgoing]

    def key(self, event: ServerEvent) -> str:
        return ledger_key(self.pixel_id, event.name, event.event_id)


@dataclass(slots=True)
class DeliveryReport:
    # Per ledger key: what became of the event.
    outcomes: dict[str, EventOutcome] = field(default_factory=dict)
    # Events repeated inside the delivery (sent once; they share their first copy's outcome).
    repeats: list[ServerEvent] = field(default_factory=list)
    # TikTok's last answer, if it was called.
    answer: Answer | None = None

    def events(self, delivery: Delivery, fate: Fate) -> list[ServerEvent]:
        return [item.event for item in delivery.items if self.outcomes[delivery.key(item.event)].fate is fate]


def _infrastructure(exc: Exception) -> EventOutcome:
    return EventOutcome(Fate.UNANSWERED, Answer(Outcome.TRANSIENT, None, f"infrastructure: {type(exc).__name__}"))


class DeliveryCore:
    def __init__(self, runtime: Runtime, clock: Callable[[], float] = time.time):
        self.rt = runtime
        self.clock = clock

    def deliver(self, delivery: Delivery, budget: Budget) -> DeliveryReport:
        report = DeliveryReport()
        unique: dict[str, Outgoing] = {}
        for item in delivery.items:
            key = delivery.key(item.event)
            if key in unique:
                report.repeats.append(item.event)
                # The repeat's own extra records go with the first copy.
                first = unique[key]
                first.records = tuple(dict.fromkeys((*first.records, *item.records)))
            else:
                unique[key] = Outgoing(item.event, item.records)
        try:
            keys = [*unique, *(record.key for item in unique.values() for record in item.records)]
            held = self.rt.ledger.already_sent(keys, budget.remaining)
            token = self.rt.secrets.get_token(delivery.campaign.campaign_id)
        except INFRASTRUCTURE_ERRORS as exc:
            logger.warning("infrastructure failure before send",
                           extra={"campaign_id": delivery.campaign.campaign_id, "error": type(exc).__name__})
            report.outcomes = dict.fromkeys(unique, _infrastructure(exc))
            return report
        report.outcomes = self._complete({key: unique[key] for key in unique if key in held}, held, budget)
        pending = [item for key, item in unique.items() if key not in held]
        if not pending:
            return report
        if not token:
            no_token = Answer(Outcome.PERMANENT, None, "campaign has no Events API access token")
            refused = EventOutcome(Fate.REFUSED, no_token)
            report.outcomes |= {delivery.key(item.event): refused for item in pending}
            return report
        result = self.rt.tiktok.send(pixel_id=delivery.pixel_id, access_token=token,
                                     events=[item.event for item in pending],
                                     test_event_code=delivery.test_event_code,
                                     budget=budget.within(budget.remaining(), keep=RECORD_RESERVE_S))
        report.answer = result.last_answer
        report.outcomes |= {delivery.key(e): EventOutcome(Fate.UNANSWERED, a) for e, a in result.unanswered}
        report.outcomes |= {delivery.key(e): EventOutcome(Fate.REFUSED, a) for e, a in result.refused}
        if result.unanswered:
            count("TikTokTransientFailures", len(result.unanswered))
        if result.refused:
            count("TikTokPermanentFailures", len(result.refused))
        if result.sent:
            report.outcomes |= self._record(delivery, unique, result.sent, result.sent_ms, budget)
        if report.answer is not None and budget.allows(CALL_WORST_CASE_S):
            self._note_delivery(delivery.campaign, report.answer)
        return report

    def _complete(self, found: dict[str, Outgoing], held: set[str], budget: Budget) -> dict[str, EventOutcome]:
        """Events the ledger holds are duplicates once their extra records are there too: a send confirmed
        earlier whose extra records were not written gets them now, without a second TikTok call."""
        missing = [record for item in found.values() for record in item.records if record.key not in held]
        written: set[str] = set()
        if missing:
            try:
                written = self.rt.ledger.record([], missing, int(self.clock()), budget.remaining)
            except INFRASTRUCTURE_ERRORS as exc:
                logger.warning("ledger record failed", extra={"error": type(exc).__name__})
        unrecorded = EventOutcome(Fate.UNANSWERED, Answer(Outcome.TRANSIENT, None, "ledger record not written"))
        return {key: DUPLICATE if all(r.key in held or r.key in written for r in item.records) else unrecorded
                for key, item in found.items()}

    def _record(self, delivery: Delivery, unique: dict[str, Outgoing], sent: Sequence[ServerEvent],
                sent_ms: Sequence[int], budget: Budget) -> dict[str, EventOutcome]:
        """The confirmed events and their extra records in the ledger. An event whose records were not all
        written stays unanswered: it is sent again later (TikTok drops the repeat), and recorded then."""
        campaign_id = delivery.campaign.campaign_id
        records = [SentRecord(delivery.key(e), campaign_id, e.name, e.user.match_keys(), ms,
                              *((e.value, e.currency) if e.is_payment else (None, None)))
                   for e, ms in zip(sent, sent_ms, strict=True)]
        extra = [record for r in records for record in unique[r.key].records]
        try:
            written = self.rt.ledger.record(records, extra, int(self.clock()), budget.remaining)
        except INFRASTRUCTURE_ERRORS as exc:
            logger.warning("ledger record failed", extra={"campaign_id": campaign_id, "error": type(exc).__name__})
            written = set()
        outcomes: dict[str, EventOutcome] = {}
        unrecorded = Answer(Outcome.TRANSIENT, None, "sent, but the ledger record was not written")
        for record in records:
            needed = (record.key, *(extra_record.key for extra_record in unique[record.key].records))
            recorded = all(key in written for key in needed)
            outcomes[record.key] = EventOutcome(Fate.SENT) if recorded else EventOutcome(Fate.UNANSWERED, unrecorded)
        return outcomes

    def _note_delivery(self, campaign: CampaignSettings, answer: Answer) -> None:
        """Keep TikTok's last answer on the campaign when it changed, or at most once a refresh period."""
        last = campaign.last_delivery
        now = self.clock()
        stale = last is None or now - last.at.timestamp() > self.rt.config.last_delivery_refresh_s
        if not stale and last is not None and last.code == answer.code and last.outcome == answer.outcome:
            return
        try:
            self.rt.campaigns.record_delivery(campaign.campaign_id,
                                              LastDelivery.of(answer, datetime.fromtimestamp(now, UTC)))
        except INFRASTRUCTURE_ERRORS as exc:
            logger.warning("last_delivery not recorded", extra={"error": type(exc).__name__})
