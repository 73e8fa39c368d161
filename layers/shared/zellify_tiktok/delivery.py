"""Delivering built TikTok events for one campaign: ledger, token, one call, queue what failed.

Shared by the collector, the Stripe webhook and the retry function, so every channel deduplicates,
records and parks failures the same way (DESIGN §4, §7).
"""

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from .campaign import Campaign
from .observability import average, count
from .repositories.campaigns import delivery_record
from .repositories.ledger import ledger_key
from .repositories.queues import split_for_queue
from .repositories.secrets import SecretUnavailable
from .runtime import Runtime
from .tiktok import Answer, DeliveryResult, Outcome

logger = Logger(child=True)

# Failures of our own infrastructure (DynamoDB, Secrets Manager): queue and carry on.
INFRA_ERRORS = (BotoCoreError, ClientError, SecretUnavailable)
MESSAGE_KIND = "tiktok_events"


@dataclass(frozen=True)
class LedgerRecord:
    """An extra ledger record written once the events are confirmed (e.g. first-payment:{sub})."""

    key: str
    ttl_s: int


@dataclass
class DeliveryReport:
    sent: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    queued: list[str] = field(default_factory=list)
    dead_lettered: list[str] = field(default_factory=list)
    # Ledger keys of events that failed transiently and were not parked (the caller retries them).
    failed_keys: set[str] = field(default_factory=set)
    answer: Answer | None = None

    @property
    def status(self) -> str:
        """One word for the whole delivery, most telling first."""
        for name in ("sent", "queued", "dead_lettered", "duplicates"):
            if getattr(self, name):
                return {"duplicates": "duplicate"}.get(name, name)
        return "ignored"


def retry_message(campaign: Campaign, events: list[dict], *, test_event_code: str | None, source: str,
                  reason: dict, records: list[LedgerRecord] = ()) -> dict:
    return {
        "kind": MESSAGE_KIND,
        "message_id": str(uuid.uuid4()),
        "campaign_id": campaign.campaign_id,
        "pixel_id": campaign.pixel_id,
        "test_event_code": test_event_code,
        "source": source,
        "reason": reason,
        "queued_at": datetime.now(UTC).isoformat(),
        "ledger_records": [{"key": r.key, "ttl_s": r.ttl_s} for r in records],
        "events": events,
    }


class Deliverer:
    def __init__(self, runtime: Runtime, clock=time.time):
        self.rt = runtime
        self.clock = clock

    def deliver(self, campaign: Campaign, events: list[dict], *, source: str,
                records: list[LedgerRecord] = (), test_event_code: str | None = None,
                use_campaign_test_code: bool = True, park_transient: bool = True) -> DeliveryReport:
        """Send what was not sent before; queue transient failures; dead-letter permanent ones.

        With park_transient=False (the retry function) transient failures are not queued again but
        reported in failed_keys, so SQS redelivers the message and counts its receives.
        Raises QueueUnavailable only when a failure could not be parked either.
        """
        report = DeliveryReport()
        if not campaign.has_token:
            return report  # pixel only: nothing goes server-side
        now = self.clock()
        if use_campaign_test_code:
            test_event_code = campaign.active_test_event_code(datetime.fromtimestamp(now, UTC))
        by_key: dict[str, dict] = {}
        for event in events:
            key = ledger_key(campaign.pixel_id, event["event"], event["event_id"])
            if key in by_key:
                report.duplicates.append(event["event_id"])
            else:
                by_key[key] = event
        try:
            already = self.rt.ledger.already_sent(list(by_key))
            token = self.rt.secrets.get_token(campaign.campaign_id)
        except INFRA_ERRORS as exc:
            logger.warning("infrastructure failure before send",
                           extra={"campaign_id": campaign.campaign_id, "error": type(exc).__name__})
            self._transient(report, campaign, list(by_key.values()), test_event_code, source, records,
                            {"code": None, "message": f"infrastructure: {type(exc).__name__}"}, park_transient)
            return report
        report.duplicates.extend(by_key[k]["event_id"] for k in already)
        count("EventsDeduplicated", len(report.duplicates))
        pending = [e for k, e in by_key.items() if k not in already]
        if not pending:
            return report
        if not token:
            answer = Answer(Outcome.PERMANENT, None, "campaign has no Events API access token")
            self._dead_letter(campaign, [(e, answer) for e in pending], test_event_code, source)
            report.dead_lettered.extend(e["event_id"] for e in pending)
            report.answer = answer
            return report

        result = self.rt.tiktok.track(pixel_id=campaign.pixel_id, access_token=token, events=pending,
                                      test_event_code=test_event_code)
        self._record_sent(campaign, result, records, now)
        report.sent.extend(e["event_id"] for e in result.sent)
        _count_outcomes(result)
        if result.transient:
            answer = result.transient_answer
            self._transient(report, campaign, result.transient, test_event_code, source, records,
                            {"code": answer.code, "message": answer.message, "http_status": answer.http_status},
                            park_transient)
        if result.permanent:
            self._dead_letter(campaign, result.permanent, test_event_code, source)
            report.dead_lettered.extend(e["event_id"] for e, _ in result.permanent)
        report.answer = result.last_answer
        self._note_delivery(campaign, result)
        return report

    def _record_sent(self, campaign: Campaign, result: DeliveryResult, records, now: float) -> None:
        if not result.sent:
            return
        keys = [ledger_key(campaign.pixel_id, e["event"], e["event_id"]) for e in result.sent]
        try:
            self.rt.ledger.record(keys, int(now))
            # Extra records stand for the whole delivery: only when nothing is left to retry.
            if not result.transient and not result.permanent:
                for record in records:
                    self.rt.ledger.record([record.key], int(now), ttl_s=record.ttl_s)
        except INFRA_ERRORS as exc:
            # Sent but not recorded: a repeat may be sent again, and TikTok's own dedup absorbs it.
            logger.warning("ledger record failed", extra={"campaign_id": campaign.campaign_id,
                                                          "error": type(exc).__name__})

    def _transient(self, report, campaign, events, test_event_code, source, records, reason, park) -> None:
        if park:
            self._queue(campaign, events, test_event_code, source, records, reason)
            report.queued.extend(e["event_id"] for e in events)
        else:
            report.failed_keys.update(ledger_key(campaign.pixel_id, e["event"], e["event_id"]) for e in events)

    def _queue(self, campaign, events, test_event_code, source, records, reason) -> None:
        message = retry_message(campaign, events, test_event_code=test_event_code, source=source,
                                reason=reason, records=records)
        self.rt.retry_queue.send(split_for_queue(message))
        logger.info("events queued for retry", extra={"campaign_id": campaign.campaign_id,
                                                      "event_ids": [e["event_id"] for e in events]})

    def _dead_letter(self, campaign, failures: list[tuple[dict, Answer]], test_event_code, source) -> None:
        by_answer: dict[Answer, list[dict]] = {}
        for event, answer in failures:
            by_answer.setdefault(answer, []).append(event)
        messages = []
        for answer, events in by_answer.items():
            reason = {"code": answer.code, "message": answer.message, "http_status": answer.http_status,
                      "permanent": True}
            messages.extend(split_for_queue(retry_message(campaign, events, test_event_code=test_event_code,
                                                          source=source, reason=reason)))
        self.rt.dead_letter_queue.send(messages)
        logger.error("events dead-lettered", extra={"campaign_id": campaign.campaign_id,
                                                    "reasons": [m["reason"] for m in messages]})

    def _note_delivery(self, campaign: Campaign, result: DeliveryResult) -> None:
        answer = result.last_answer
        if answer is None:
            return
        last = campaign.last_delivery or {}
        now = self.clock()
        stale = now - iso_epoch(last.get("at")) > self.rt.settings.last_delivery_refresh_s
        if not stale and last.get("code") == answer.code and last.get("outcome") == str(answer.outcome):
            return
        try:
            self.rt.campaigns.record_delivery(campaign, delivery_record(answer.to_dict(),
                                                                        datetime.fromtimestamp(now, UTC)))
        except INFRA_ERRORS as exc:
            logger.warning("last_delivery not recorded", extra={"error": type(exc).__name__})


def _count_outcomes(result: DeliveryResult) -> None:
    count("EventsSent", len(result.sent))
    count("TikTokTransientFailures", len(result.transient))
    count("TikTokPermanentFailures", len(result.permanent))
    average("MatchKeysPerEvent", [len(event.get("user") or {}) for event in result.sent])


def iso_epoch(iso: str | None) -> float:
    """Seconds since the epoch of an ISO 8601 time; 0 for a missing or unreadable one."""
    if not iso:
        return 0.0
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return 0.0
