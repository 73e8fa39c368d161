"""SentEvents ledger (docs/design.md §4): key pixel + event name + event_id, TTL 48 h.

Checked before a send (one BatchGetItem per request), written after TikTok confirms
(BatchWriteItem, 25 items a call). A failed send writes nothing, so its retry is never blocked.

A sent event's item also carries what the campaign's health figures count (campaign, event name,
match keys, revenue): the table's stream feeds them (docs/design.md §9), so keeping the figures costs
the request path no call of its own.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .aws import client

BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25
_RETRIES = 5


def ledger_key(pixel_id: str, event_name: str, event_id: str) -> str:
    return f"{pixel_id}#{event_name}#{event_id}"


@dataclass(frozen=True, slots=True)
class LedgerRecord:
    """An extra record written once a delivery's events are all confirmed (e.g. first-payment:{sub})."""

    key: str
    ttl_s: int


@dataclass(slots=True)  # one per sent event: not frozen (cheaper to build), never changed
class SentRecord:
    """One event TikTok confirmed, as the ledger keeps it."""

    key: str
    campaign_id: str
    event: str
    match_keys: tuple[str, ...]
    # How long the TikTok call that took the event lasted.
    tiktok_ms: int
    value: Decimal | None = None
    currency: str | None = None

    def attributes(self) -> dict[str, Any]:
        item: dict[str, Any] = {"campaign_id": {"S": self.campaign_id}, "event": {"S": self.event},
                                "match_keys": {"L": [{"S": key} for key in self.match_keys]},
                                "tiktok_ms": {"N": str(self.tiktok_ms)}}
        if self.value is not None and self.currency:
            item["value"] = {"N": str(self.value)}
            item["currency"] = {"S": self.currency}
        return item


class SentEventsLedger:
    def __init__(self, table: str, ttl_hours: int):
        self.table = table
        self.ttl_s = ttl_hours * 3600

    def already_sent(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), BATCH_GET_LIMIT):
            request: dict[str, Any] = {self.table: {
                "Keys": [{"pk": {"S": k}} for k in unique[start:start + BATCH_GET_LIMIT]],
                "ProjectionExpression": "pk"}}
            for attempt in range(_RETRIES):
                response = client("dynamodb").batch_get_item(RequestItems=request)
                found.update(item["pk"]["S"] for item in response.get("Responses", {}).get(self.table, []))
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(0.02 * 2**attempt)
        return found

    def record_sent(self, records: Sequence[SentRecord], now_s: int, *, max_calls: int | None = None) -> int:
        """Write the records (25 a call, at most `max_calls` calls); how many were written."""
        items = {r.key: r.attributes() for r in records}
        return self._write(items, now_s, self.ttl_s, max_calls)

    def record_keys(self, keys: Sequence[str], now_s: int, ttl_s: int) -> None:
        """Records that stand for a fact, not a sent event (e.g. first-payment:{subscription})."""
        self._write({key: {} for key in keys}, now_s, ttl_s, None)

    def _write(self, items: dict[str, dict[str, Any]], now_s: int, ttl_s: int, max_calls: int | None) -> int:
        keys = list(items)
        written = 0
        for call, start in enumerate(range(0, len(keys), BATCH_WRITE_LIMIT)):
            if max_calls is not None and call >= max_calls:
                break
            chunk = keys[start:start + BATCH_WRITE_LIMIT]
            request: dict[str, Any] = {self.table: [
                {"PutRequest": {"Item": {"pk": {"S": k}, "sent_at": {"N": str(now_s)},
                                         "expires_at": {"N": str(now_s + ttl_s)}, **items[k]}}}
                for k in chunk
            ]}
            for attempt in range(_RETRIES):
                response = client("dynamodb").batch_write_item(RequestItems=request)
                request = response.get("UnprocessedItems") or {}
                if not request:
                    break
                time.sleep(0.02 * 2**attempt)
            written += len(chunk)
        return written
