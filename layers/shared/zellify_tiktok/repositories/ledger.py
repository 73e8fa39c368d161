"""SentEvents ledger (DESIGN §4): key pixel + event name + event_id, TTL 48 h.

Checked before a send (one BatchGetItem per request), written after TikTok confirms
(BatchWriteItem, 25 items a call). A failed send writes nothing, so its retry is never blocked.
"""

import time

from .aws import client

BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25
_RETRIES = 5


def ledger_key(pixel_id: str, event_name: str, event_id: str) -> str:
    return f"{pixel_id}#{event_name}#{event_id}"


class SentEventsLedger:
    def __init__(self, table: str, ttl_hours: int):
        self.table = table
        self.ttl_s = ttl_hours * 3600

    def already_sent(self, keys: list[str]) -> set[str]:
        found: set[str] = set()
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), BATCH_GET_LIMIT):
            request = {self.table: {"Keys": [{"pk": {"S": k}} for k in unique[start:start + BATCH_GET_LIMIT]],
                                    "ProjectionExpression": "pk"}}
            for attempt in range(_RETRIES):
                response = client("dynamodb").batch_get_item(RequestItems=request)
                found.update(item["pk"]["S"] for item in response.get("Responses", {}).get(self.table, []))
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(0.02 * 2**attempt)
        return found

    def record(self, keys: list[str], now_s: int, ttl_s: int | None = None) -> None:
        expires = now_s + (ttl_s or self.ttl_s)
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), BATCH_WRITE_LIMIT):
            request = {self.table: [
                {"PutRequest": {"Item": {"pk": {"S": k}, "sent_at": {"N": str(now_s)},
                                         "expires_at": {"N": str(expires)}}}}
                for k in unique[start:start + BATCH_WRITE_LIMIT]
            ]}
            for attempt in range(_RETRIES):
                response = client("dynamodb").batch_write_item(RequestItems=request)
                request = response.get("UnprocessedItems") or {}
                if not request:
                    break
                time.sleep(0.02 * 2**attempt)
