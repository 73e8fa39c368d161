"""Replay dead-lettered events (docs/design.md §11): deliver them again now, report what failed again.

Messages are received from the DeadLetterQueue (hidden meanwhile), filtered, and delivered through
the DeliveryFunction's own code (services/delivery.py: ledger check, token, grouped TikTok calls). A delivered
message is deleted; one that fails again stays in the DeadLetterQueue; one TikTok refuses again is
parked anew with the new reason and the old copy deleted; one whose events were only partly answered is
kept as a copy of its unanswered events. A message is only deleted once its outcome is durable. Replay never
gives up on a message for its number of deliveries: it is dead-lettered already.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..budget import Budget
from ..messages import DeliveryMessage, MessageError, parse_message
from ..runtime import Runtime
from .delivery import Drain, QueuedRecord, Settled

# Long enough to finish a replay run before SQS shows the messages to anyone else.
RECEIVE_VISIBILITY_S = 600
# An operator's replay may use most of that time for TikTok.
REPLAY_BUDGET_S = RECEIVE_VISIBILITY_S - 60
_OUTCOME_NAMES = {Settled.DELIVERED: "replayed", Settled.DEAD_LETTERED: "refused_again",
                  Settled.REQUEUED: "failed_again", Settled.RETRY: "failed_again", Settled.REPEATED: "repeated"}


@dataclass(frozen=True)
class ReplayFilter:
    campaign_id: str | None = None
    code: int | None = None
    older_than_s: float | None = None
    newer_than_s: float | None = None

    def matches(self, message: DeliveryMessage, now: float) -> bool:
        if self.campaign_id and message.campaign_id != self.campaign_id:
            return False
        reason = message.reason
        if self.code is not None and (reason is None or self.code not in (reason.code, reason.http_status)):
            return False
        age = now - message.queued_at.timestamp()
        if self.older_than_s is not None and age < self.older_than_s:
            return False
        return not (self.newer_than_s is not None and age > self.newer_than_s)


@dataclass(frozen=True)
class ReplayItem:
    message_id: str
    campaign_id: str | None
    events: int
    reason: dict[str, Any]
    outcome: str  # replayed | failed_again | refused_again | would_replay | skipped


def replay_dead_letters(selection: ReplayFilter, runtime: Runtime, *, dry_run: bool = False,
                        limit: int | None = None, on_progress: Callable[[int], None] = lambda n: None,
                        clock: Callable[[], float] = time.time) -> list[ReplayItem]:
    queue = runtime.dead_letter_queue
    received = _receive_all(queue, limit)
    now = clock()
    chosen: list[tuple[dict[str, Any], DeliveryMessage]] = []
    items: list[ReplayItem] = []
    # What stays dead-lettered is shown again at once, in one pass at the end.
    kept: dict[str, int] = {}
    for raw in received:
        message = _message(raw)
        if message is not None and selection.matches(message, now):
            chosen.append((raw, message))
        else:
            kept[raw["ReceiptHandle"]] = 0
            items.append(_item(raw, message, "skipped"))
    if dry_run or not chosen:
        for raw, message in chosen:
            kept[raw["ReceiptHandle"]] = 0
            items.append(_item(raw, message, "would_replay"))
        queue.postpone(kept)
        return items
    records = [QueuedRecord(raw["MessageId"], raw["ReceiptHandle"], 1, raw["Body"]) for raw, _ in chosen]
    # What still has no answer stays dead-lettered: a narrowed copy goes back to the DeadLetterQueue.
    drain = Drain(runtime, Budget(REPLAY_BUDGET_S), queue, waiting="dead_lettered", clock=clock)
    settled = drain.run(records)
    for raw, message in chosen:
        settlement = settled[raw["MessageId"]]
        outcome = _OUTCOME_NAMES[settlement.settled]
        if settlement.settled is Settled.RETRY:
            kept[raw["ReceiptHandle"]] = 0
        else:
            queue.delete(raw["ReceiptHandle"])
        items.append(_item(raw, message, outcome))
        on_progress(1)
    queue.postpone(kept)
    return items


def _receive_all(queue: Any, limit: int | None) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while limit is None or len(messages) < limit:
        batch = queue.receive(10 if limit is None else min(10, limit - len(messages)), RECEIVE_VISIBILITY_S)
        if not batch:
            break
        messages.extend(batch)
    return messages


def _message(raw: dict[str, Any]) -> DeliveryMessage | None:
    try:
        return parse_message(raw["Body"])
    except MessageError:
        return None  # an unreadable message stays for an operator to read


def _item(raw: dict[str, Any], message: DeliveryMessage | None, outcome: str) -> ReplayItem:
    return ReplayItem(message_id=raw["MessageId"], campaign_id=message.campaign_id if message else None,
                      events=len(message.events) if message else 0,
                      reason=message.reason.model_dump(mode="json") if message and message.reason else {},
                      outcome=outcome)
