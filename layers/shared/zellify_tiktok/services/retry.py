"""RetryFunction: drain the RetryQueue, grouped per pixel + token + test code (DESIGN §7).

Powertools' batch processor handles one record at a time, so the grouping runs first as its own step
and decides, per SQS record, whether it succeeded (delivered, duplicate, or dead-lettered with its
reason) or must come back later (transient failure: SQS redelivers it, and after maxReceiveCount the
redrive policy moves it to the DeadLetterQueue).
"""

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aws_lambda_powertools import Logger

from ..delivery import INFRA_ERRORS, MESSAGE_KIND, Deliverer
from ..repositories.ledger import ledger_key
from ..repositories.queues import RetryDelays, backoff_seconds
from ..runtime import Runtime, get_runtime

logger = Logger(child=True)
# A TikTok call may take its whole budget (3 s); leave room to report the batch before the timeout.
SAFETY_MARGIN_S = 5


@dataclass
class QueuedMessage:
    message_id: str
    receipt_handle: str
    receive_count: int
    body: dict

    @property
    def group(self) -> tuple[str, str, str | None]:
        return self.body["campaign_id"], self.body["pixel_id"], self.body.get("test_event_code")

    def keys(self) -> set[str]:
        return {ledger_key(self.body["pixel_id"], e["event"], e["event_id"]) for e in self.body["events"]}


@dataclass
class DrainResult:
    failed: list[QueuedMessage] = field(default_factory=list)
    # Not attempted: the invocation ran out of time before their group's turn.
    deferred: list[QueuedMessage] = field(default_factory=list)
    # Ids of messages parked in the DeadLetterQueue (as new messages with their reason) by this drain.
    dead_lettered: list[str] = field(default_factory=list)
    events: int = 0


def parse_record(record: dict) -> QueuedMessage | None:
    try:
        body = json.loads(record["body"])
        valid = (body.get("kind") == MESSAGE_KIND and isinstance(body.get("events"), list)
                 and all(isinstance(body.get(k), str) for k in ("campaign_id", "pixel_id")))
    except (ValueError, TypeError, AttributeError):
        valid = False
    if not valid:
        return None
    receive_count = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
    return QueuedMessage(record["messageId"], record.get("receiptHandle", ""), receive_count, body)


def retry_batch(records: list[dict], runtime: Runtime | None = None, *, time_left_s: float | None = None) -> set[str]:
    """Drain one SQS batch; the ids of the messages SQS must deliver again.

    Failed messages come back after their backoff; those the invocation had no time for come back
    at once. Groups start only while more than SAFETY_MARGIN_S of the invocation's time is left.
    """
    runtime = runtime or get_runtime()
    deadline = time.time() + time_left_s - SAFETY_MARGIN_S if time_left_s is not None else None
    result = drain(records, runtime, deadline=deadline)
    delays = RetryDelays(runtime.settings.retry_queue_url)
    base_s = runtime.settings.retry_backoff_base_s
    postponed = [(m, backoff_seconds(m.receive_count, base_s=base_s)) for m in result.failed]
    for message, seconds in [*postponed, *((m, 0) for m in result.deferred)]:
        try:
            delays.postpone(message.receipt_handle, seconds)
        except INFRA_ERRORS:
            # Best effort: without it the queue's own visibility timeout spaces the retries.
            logger.warning("backoff not applied", extra={"message_id": message.message_id})
    return {message.message_id for message in [*result.failed, *result.deferred]}


def drain(records: list[dict], runtime: Runtime, clock=time.time, deadline: float | None = None) -> DrainResult:
    result = DrainResult()
    groups: dict[tuple, list[QueuedMessage]] = {}
    malformed = []
    for record in records:
        message = parse_record(record)
        if message is None:
            malformed.append(record)
        else:
            groups.setdefault(message.group, []).append(message)
    if malformed:
        # A message we cannot read will never succeed: park it for an operator at once.
        runtime.dead_letter_queue.send([{"kind": "unreadable", "message_id": r.get("messageId"),
                                         "body": str(r.get("body"))[:4096],
                                         "reason": {"code": None, "message": "unreadable retry message",
                                                    "permanent": True}} for r in malformed])
        result.dead_lettered.extend(r.get("messageId") for r in malformed)
    deliverer = Deliverer(runtime, clock)
    for (campaign_id, pixel_id, test_code), messages in groups.items():
        if deadline is not None and clock() > deadline:
            result.deferred.extend(messages)
            continue
        _deliver_group(runtime, deliverer, campaign_id, pixel_id, test_code, messages, result, clock)
    return result


def _deliver_group(runtime, deliverer, campaign_id, pixel_id, test_code, messages, result, clock) -> None:
    events = [event for message in messages for event in message.body["events"]]
    result.events += len(events)
    try:
        campaign = runtime.campaigns.get(campaign_id)
    except INFRA_ERRORS:
        result.failed.extend(messages)
        return
    if campaign is None or not campaign.has_token:
        reason = {"code": None, "message": "campaign deleted or without token", "permanent": True}
        runtime.dead_letter_queue.send([{**m.body, "reason": reason} for m in messages])
        result.dead_lettered.extend(m.message_id for m in messages)
        return
    # Events were built for the pixel they name; send them there even if the campaign moved on.
    target = campaign if campaign.pixel_id == pixel_id else campaign.model_copy(update={"pixel_id": pixel_id})
    # A test code is only sent while it is active (DESIGN §6.4), retries included.
    if test_code and campaign.active_test_event_code(datetime.fromtimestamp(clock(), UTC)) != test_code:
        test_code = None
    report = deliverer.deliver(target, events, source="retry", test_event_code=test_code,
                               use_campaign_test_code=False, park_transient=False)
    now = int(clock())
    refused = set(report.dead_lettered)
    for message in messages:
        if message.keys() & report.failed_keys:
            result.failed.append(message)
            continue
        if any(event["event_id"] in refused for event in message.body["events"]):
            # TikTok refused some of its events for good: they were parked again with the new reason.
            result.dead_lettered.append(message.message_id)
            continue
        for record in message.body.get("ledger_records") or []:
            try:
                runtime.ledger.record([record["key"]], now, ttl_s=int(record["ttl_s"]))
            except INFRA_ERRORS:
                logger.warning("ledger record after retry not written", extra={"key": record["key"]})
    logger.info("retry group delivered", extra={
        "campaign_id": campaign_id, "messages": len(messages), "events": len(events), "sent": len(report.sent),
        "duplicates": len(report.duplicates), "dead_lettered": len(report.dead_lettered),
        "failed_messages": sum(1 for m in messages if m.keys() & report.failed_keys)})
