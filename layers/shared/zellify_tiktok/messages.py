"""The queue message (docs/design.md §7, §11): one format for the DeliveryQueue and the DeadLetterQueue.

Written by the request path (`submit`) and by the DeliveryFunction (narrowed copies, dead letters), parsed
once where SQS hands it over (the DeliveryFunction's batch processor), read again by replay and the CLI. A
message carries built events — hashes, never a token or a raw email — and the extra ledger records its
events write once TikTok confirmed them.
"""

import json
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .answers import Answer
from .reasons import ReasonKind
from .records import LedgerRecord
from .server_event import ServerEvent

MESSAGE_KIND = "tiktok_events"
MESSAGE_VERSION = 2


class QueueReason(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ReasonKind
    message: str
    code: int | None = None
    http_status: int | None = None

    @classmethod
    def of(cls, kind: ReasonKind, answer: Answer) -> "QueueReason":
        return cls(kind=kind, message=answer.message, code=answer.code, http_status=answer.http_status)


class DeliveryMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["tiktok_events"] = "tiktok_events"
    version: Literal[2] = 2
    message_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    campaign_id: str
    pixel_id: str
    test_event_code: str | None = None
    source: str
    # Why the events wait: none on a first delivery; TikTok's answer (or what stood for it) after a failure.
    reason: QueueReason | None = None
    # When these events were first queued: health counts them in that hour, and age filters use it.
    queued_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    # Deliveries that failed under earlier copies of this message (a copy starts SQS's count again).
    attempts: int = 0
    # Written with the message's events once TikTok confirmed them (a subscription's first-payment record).
    ledger_records: tuple[LedgerRecord, ...] = ()
    events: tuple[ServerEvent, ...]

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)


class UnreadableMessage(BaseModel):
    """A message that did not parse as a DeliveryMessage, dead-lettered with its reason and its text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["unreadable"] = "unreadable"
    version: Literal[2] = 2
    message_id: str
    reason: QueueReason
    body: str

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)


class MessageError(ValueError):
    """The body is no DeliveryMessage we can read (unknown kind or version, missing fields)."""


def parse_message(body: str) -> DeliveryMessage:
    try:
        return DeliveryMessage.model_validate_json(body)
    except ValidationError as exc:
        raise MessageError(_explain(body, exc)) from None


def _explain(body: str, exc: ValidationError) -> str:
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        return "not JSON"
    if isinstance(parsed, dict) and parsed.get("kind") == MESSAGE_KIND and parsed.get("version") != MESSAGE_VERSION:
        return f"unknown message version {str(parsed.get('version'))[:16]!r} (this code reads {MESSAGE_VERSION})"
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                         for e in exc.errors(include_url=False, include_input=False)[:3])
    return f"not a {MESSAGE_KIND} message: {problems}"
