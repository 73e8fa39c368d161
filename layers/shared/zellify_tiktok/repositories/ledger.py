"""SentEvents ledger (docs/design.md §4): key pixel + event name + event_id, TTL 48 h.

Read before a send (BatchGetItem, 100 keys a call), written after TikTok confirms (BatchWriteItem, 25
items a call). A failed send writes nothing, so its retry is never blocked.

A sent event's item also carries what the campaign's health figures count (campaign, event name,
match keys, revenue): the table's stream feeds them (docs/design.md §9).
"""

import time
from collections.abc import Callable, Sequence
from typing import Any

from ..records import LedgerRecord, SentRecord, ledger_key
from .aws import CALL_WORST_CASE_S, client

__all__ = ["LedgerRecord", "SentEventsLedger", "SentRecord", "ledger_key"]

BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25
_RETRIES = 5
# Seconds still available to the caller: a retry (its sleep and its call) is made only when it fits.
Remaining = Callable[[], float]


def _unlimited() -> float:
    return float("inf")


def _attributes(record: SentRecord) -> dict[str, Any]:
    item: dict[str, Any] = {"campaign_id": {"S": record.campaign_id}, "event": {"S": record.event},
                            "match_keys": {"L": [{"S": key} for key in record.match_keys]},
                            "tiktok_ms": {"N": str(record.tiktok_ms)}}
    if record.value is not None and record.currency:
        item["value"] = {"N": str(record.value)}
        item["currency"] = {"S": record.currency}
    return item


class SentEventsLedger:
    def __init__(self, table: str, ttl_hours: int):
        self.table = table
        self.ttl_s = ttl_hours * 3600

    def already_sent(self, keys: Sequence[str], remaining: Remaining = _unlimited) -> set[str]:
        """The keys the ledger holds. Keys DynamoDB left unprocessed once the time is up count as not held
        (the event is sent again, and TikTok's own dedup drops it)."""
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
                if not request or not _may_retry(attempt, remaining):
                    break
        return found

    def record(self, sent: Sequence[SentRecord], extra: Sequence[LedgerRecord], now_s: int,
               remaining: Remaining = _unlimited) -> set[str]:
        """Write the sent events and their extra records; the keys DynamoDB confirmed, and only those."""
        items: dict[str, tuple[dict[str, Any], int]] = {r.key: (_attributes(r), self.ttl_s) for r in sent}
        items |= {r.key: ({}, r.ttl_s) for r in extra}
        return self._write(items, now_s, remaining)

    def _write(self, items: dict[str, tuple[dict[str, Any], int]], now_s: int, remaining: Remaining) -> set[str]:
        keys = list(items)
        written: set[str] = set()
        for start in range(0, len(keys), BATCH_WRITE_LIMIT):
            if remaining() < CALL_WORST_CASE_S:
                break  # not started without time for the call: what is left counts as not written
            chunk = keys[start:start + BATCH_WRITE_LIMIT]
            request: dict[str, Any] = {self.table: [
                {"PutRequest": {"Item": {"pk": {"S": k}, "sent_at": {"N": str(now_s)},
                                         "expires_at": {"N": str(now_s + items[k][1])}, **items[k][0]}}}
                for k in chunk
            ]}
            for attempt in range(_RETRIES):
                response = client("dynamodb").batch_write_item(RequestItems=request)
                request = response.get("UnprocessedItems") or {}
                if not request or not _may_retry(attempt, remaining):
                    break
            unprocessed = {put["PutRequest"]["Item"]["pk"]["S"] for put in request.get(self.table, [])}
            written.update(k for k in chunk if k not in unprocessed)
        return written


def _may_retry(attempt: int, remaining: Remaining) -> bool:
    """Sleep before retrying what DynamoDB left unprocessed, when the sleep and the call fit the time left."""
    if attempt == _RETRIES - 1:
        return False
    pause = 0.02 * 2**attempt
    if remaining() < pause + CALL_WORST_CASE_S:
        return False
    time.sleep(pause)
    return True
