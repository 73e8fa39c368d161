"""Replay dead-lettered events (issue: reliability): deliver them again now, report what failed again.

Messages are received from the DeadLetterQueue (hidden meanwhile), filtered, and delivered through
the retry path (ledger check, token, grouped TikTok calls). A delivered message is deleted; one that
fails transiently stays in the DeadLetterQueue; one TikTok refuses again is parked anew with the new
reason and the old copy deleted. Nothing is lost on the way: a message is only deleted once its
outcome is durable.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..delivery import MESSAGE_KIND, iso_epoch
from ..runtime import Runtime, get_runtime
from .retry import drain

# Long enough to finish a replay run before SQS shows the messages to anyone else.
RECEIVE_VISIBILITY_S = 600


@dataclass(frozen=True)
class ReplayFilter:
    campaign_id: str | None = None
    code: int | None = None
    older_than_s: float | None = None
    newer_than_s: float | None = None

    def matches(self, body: dict, now: float) -> bool:
        if body.get("kind") != MESSAGE_KIND:
            return False
        if self.campaign_id and body.get("campaign_id") != self.campaign_id:
            return False
        reason = body.get("reason") or {}
        if self.code is not None and self.code not in (reason.get("code"), reason.get("http_status")):
            return False
        age = now - iso_epoch(body.get("queued_at"))
        if self.older_than_s is not None and age < self.older_than_s:
            return False
        return not (self.newer_than_s is not None and age > self.newer_than_s)


@dataclass(frozen=True)
class ReplayItem:
    message_id: str
    campaign_id: str | None
    events: int
    reason: dict
    outcome: str  # replayed | failed_again | refused_again | would_replay | skipped


def replay_dead_letters(selection: ReplayFilter, *, dry_run: bool = False, limit: int | None = None,
                        runtime: Runtime | None = None, on_progress: Callable[[int], None] = lambda n: None,
                        clock=time.time) -> list[ReplayItem]:
    runtime = runtime or get_runtime()
    queue = runtime.dead_letter_queue
    received = _receive_all(queue, limit)
    now = clock()
    chosen, others = [], []
    for message in received:
        body = _body(message)
        (chosen if body is not None and selection.matches(body, now) else others).append((message, body))
    for message, _ in others:
        queue.release(message["ReceiptHandle"])
    items = [_item(m, b, "skipped") for m, b in others]
    if dry_run or not chosen:
        for message, _ in chosen:
            queue.release(message["ReceiptHandle"])
        return items + [_item(m, b, "would_replay") for m, b in chosen]
    records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": "1"}} for m, _ in chosen]
    result = drain(records, runtime, clock)
    failed = {message.message_id for message in result.failed}
    refused = set(result.dead_lettered)
    for message, body in chosen:
        if message["MessageId"] in failed:
            queue.release(message["ReceiptHandle"])
            items.append(_item(message, body, "failed_again"))
        else:
            queue.delete(message["ReceiptHandle"])
            items.append(_item(message, body, "refused_again" if message["MessageId"] in refused else "replayed"))
        on_progress(1)
    return items


def _receive_all(queue, limit: int | None) -> list[dict]:
    messages: list[dict] = []
    while limit is None or len(messages) < limit:
        batch = queue.receive(10 if limit is None else min(10, limit - len(messages)), RECEIVE_VISIBILITY_S)
        if not batch:
            break
        messages.extend(batch)
    return messages


def _body(message: dict) -> dict | None:
    try:
        body = json.loads(message["Body"])
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _item(message: dict, body: dict | None, outcome: str) -> ReplayItem:
    body = body or {}
    return ReplayItem(message_id=message["MessageId"], campaign_id=body.get("campaign_id"),
                      events=len(body.get("events") or []), reason=body.get("reason") or {}, outcome=outcome)
