"""Replay dead-lettered events (docs/design.md §11): deliver them again now, report what failed again.

Messages are received from the DeadLetterQueue (hidden meanwhile), filtered, and delivered through
the same redelivery as the RetryFunction (ledger check, token, grouped TikTok calls). A delivered
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
from ..messages import MessageError, RetryMessage, parse_message
from ..repositories.queues import QueueUnavailable
from ..runtime import Runtime, get_runtime
from .retry import Outcome, QueuedRecord, Redelivery, Settled

# Long enough to finish a replay run before SQS shows the messages to anyone else.
RECEIVE_VISIBILITY_S = 600
# An operator's replay may use most of that time for TikTok.
REPLAY_BUDGET_S = RECEIVE_VISIBILITY_S - 60
_OUTCOME_NAMES = {Settled.DELIVERED: "replayed", Settled.DEAD_LETTERED: "refused_again",
                  Settled.FAILED: "failed_again", Settled.DEFERRED: "failed_again"}


@dataclass(frozen=True)
class ReplayFilter:
    campaign_id: str | None = None
    code: int | None = None
    older_than_s: float | None = None
    newer_than_s: float | None = None

    def matches(self, message: RetryMessage, now: float) -> bool:
        if self.campaign_id and message.campaign_id != self.campaign_id:
            return False
        reason = message.reason
        if self.code is not None and self.code not in (reason.code, reason.http_status):
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


def replay_dead_letters(selection: ReplayFilter, *, dry_run: bool = False, limit: int | None = None,
                        runtime: Runtime | None = None, on_progress: Callable[[int], None] = lambda n: None,
                        clock: Callable[[], float] = time.time) -> list[ReplayItem]:
    runtime = runtime or get_runtime()
    queue = runtime.dead_letter_queue
    received = _receive_all(queue, limit)
    now = clock()
    chosen: list[tuple[dict[str, Any], RetryMessage]] = []
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
    outcomes = Redelivery(runtime, Budget(REPLAY_BUDGET_S), clock=clock, leaving="dead_lettered").run(records)
    for raw, message in chosen:
        settled = outcomes[raw["MessageId"]]
        outcome = _OUTCOME_NAMES[settled.settled]
        if outcome == "failed_again" and not _narrowed_in_place(queue, settled):
            kept[raw["ReceiptHandle"]] = 0
        else:
            queue.delete(raw["ReceiptHandle"])
        items.append(_item(raw, message, outcome))
        on_progress(1)
    queue.postpone(kept)
    return items


def _narrowed_in_place(queue: Any, outcome: Outcome) -> bool:
    """A message that lost its answered events stays dead-lettered as its narrowed copy."""
    if not outcome.narrowed or outcome.message is None:
        return False
    try:
        queue.send([outcome.message])
    except QueueUnavailable:
        return False
    return True


def _receive_all(queue: Any, limit: int | None) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while limit is None or len(messages) < limit:
        batch = queue.receive(10 if limit is None else min(10, limit - len(messages)), RECEIVE_VISIBILITY_S)
        if not batch:
            break
        messages.extend(batch)
    return messages


def _message(raw: dict[str, Any]) -> RetryMessage | None:
    try:
        return parse_message(raw["Body"])
    except MessageError:
        return None  # an unreadable message stays for an operator to read


def _item(raw: dict[str, Any], message: RetryMessage | None, outcome: str) -> ReplayItem:
    return ReplayItem(message_id=raw["MessageId"], campaign_id=message.campaign_id if message else None,
                      events=len(message.events) if message else 0,
                      reason=message.reason.model_dump(mode="json") if message else {}, outcome=outcome)
