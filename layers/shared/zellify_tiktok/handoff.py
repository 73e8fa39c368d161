"""The request path's handoff to the DeliveryQueue (docs/design.md §7): the built events, one SendMessage.

The body is the DeliveryMessage format (messages.py), written here with the standard library: the
collector and the Stripe function only write this message, and importing pydantic and building the model
would cost their cold start about 100 ms (the bench's cold_start_ratio). The DeliveryFunction reads it with
the model; tests/unit/test_handoff.py holds the two to one format.
"""

import json
import uuid
from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from .records import LedgerRecord
from .repositories.queues import MessageQueue
from .server_event import MATCH_KEYS, ServerEvent

# The event's own fields, read once: `dataclasses.asdict` deep-copies every value recursively, several times
# the cost of building the events (the bench's warm_ratio_to_floor).
_EVENT_FIELDS = tuple(f.name for f in fields(ServerEvent) if f.name not in ("user", "contents"))

MESSAGE_KIND = "tiktok_events"
MESSAGE_VERSION = 2


def message_body(*, campaign_id: str, pixel_id: str, test_event_code: str | None, events: Sequence[ServerEvent],
                 source: str, ledger_records: Sequence[LedgerRecord] = (), now: float) -> str:
    message: dict[str, object] = {
        "kind": MESSAGE_KIND, "version": MESSAGE_VERSION, "message_id": str(uuid.uuid4()),
        "campaign_id": campaign_id, "pixel_id": pixel_id, "source": source,
        # As the model writes it (its copies keep it): ISO 8601, UTC as Z.
        "queued_at": datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z"), "attempts": 0,
        "ledger_records": [{"key": record.key, "ttl_s": record.ttl_s} for record in ledger_records],
        "events": [_event(event) for event in events],
    }
    if test_event_code is not None:
        message["test_event_code"] = test_event_code
    # Decimals (values, prices) as their exact text, which the model reads back as the same Decimal.
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=str)


def _event(event: ServerEvent) -> dict[str, Any]:
    """The event as the model reads it; fields without a value left out, as the model writes it."""
    item = {name: value for name in _EVENT_FIELDS if (value := getattr(event, name)) is not None}
    user = event.user
    item["user"] = {key: value for key in MATCH_KEYS if (value := getattr(user, key)) is not None}
    if event.contents:
        item["contents"] = [content.as_dict() for content in event.contents]
    return item


def submit(queue: MessageQueue, *, campaign_id: str, pixel_id: str, test_event_code: str | None,
           events: Sequence[ServerEvent], source: str, ledger_records: Sequence[LedgerRecord] = (),
           now: float) -> None:
    """Raises QueueUnavailable when SQS does not take the message: the request answers "try again"."""
    queue.send_body(message_body(campaign_id=campaign_id, pixel_id=pixel_id, test_event_code=test_event_code,
                                 events=events, source=source, ledger_records=ledger_records, now=now))
