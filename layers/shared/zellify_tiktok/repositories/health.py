"""Health table (docs/design.md §9): one item per campaign, hour and TikTok event name, counters added to.

Key: `campaign_id` + `bucket` ("{hour start, 10 digits}#{event name}", so a range of hours is one
Query). Counters are DynamoDB `ADD`s, so writers never read first; items expire 35 days on. The
HealthFunction's adds are made idempotent per stream batch by marker items (`add_once`).
"""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from ..health_figures import HealthBucket, HealthDelta
from .aws import client

RETENTION_S = 35 * 86400
# A stream batch is offered again for at most the stream's retention (24 h); its markers outlive that.
MARKER_RETENTION_S = 2 * 86400
TRANSACTION_LIMIT = 100
# The partition of the batch markers: no campaign id can take it (campaign ids are [A-Za-z0-9_-]).
BATCH_MARKERS = "#batches"
_REVENUE, _PAYMENTS = "rev_", "pay_"


def bucket_key(hour: int, event: str) -> str:
    return f"{hour:010d}#{event}"


class HealthRepository:
    def __init__(self, table: str):
        self.table = table

    def add_once(self, deltas: Sequence[HealthDelta], batch_id: str, now: int) -> None:
        """The deltas of one stream batch, added once however often the batch is handed over.

        Each transaction (at most 100 writes) puts a marker item named after the batch and the
        transaction's place in it, on condition it is new: a batch offered again finds its applied parts'
        markers, and those parts are cancelled whole, not added twice. Deltas are sorted, so a batch is cut
        into the same parts every time.
        """
        dynamodb = client("dynamodb")
        updates = [{"Update": update} for delta in sorted(deltas, key=lambda d: (d.campaign_id, d.hour, d.event))
                   if (update := self._update(delta)) is not None]
        per_part = TRANSACTION_LIMIT - 1
        for part, start in enumerate(range(0, len(updates), per_part)):
            marker = {"Put": {
                "TableName": self.table,
                "Item": {"campaign_id": {"S": BATCH_MARKERS}, "bucket": {"S": f"{batch_id}#{part}"},
                         "expires_at": {"N": str(now + MARKER_RETENTION_S)}},
                "ConditionExpression": "attribute_not_exists(campaign_id)",
            }}
            try:
                dynamodb.transact_write_items(TransactItems=[marker, *updates[start:start + per_part]])
            except dynamodb.exceptions.TransactionCanceledException as exc:
                reasons = exc.response.get("CancellationReasons") or [{}]
                if reasons[0].get("Code") != "ConditionalCheckFailed":
                    raise  # a conflict with another writer, or throttling: the batch is offered again
                # This part was added by an earlier delivery of the batch.

    def _update(self, delta: HealthDelta) -> dict[str, Any] | None:
        """The UpdateItem request that adds the delta's counters; None when they are all zero."""
        increments: dict[str, Decimal | int] = {**delta.counts}
        increments |= {f"{_REVENUE}{c}": v for c, v in delta.revenue.items()}
        increments |= {f"{_PAYMENTS}{c}": n for c, n in delta.payments.items()}
        increments = {name: n for name, n in increments.items() if n}
        if not increments:
            return None
        names = {f"#a{i}": name for i, name in enumerate(increments)}
        values: dict[str, Any] = {f":a{i}": {"N": str(n)} for i, n in enumerate(increments.values())}
        values[":expires"] = {"N": str(delta.hour + RETENTION_S)}
        return {
            "TableName": self.table,
            "Key": {"campaign_id": {"S": delta.campaign_id}, "bucket": {"S": bucket_key(delta.hour, delta.event)}},
            "UpdateExpression": "ADD " + ", ".join(f"{alias} :{alias[1:]}" for alias in names)
                                + " SET expires_at = :expires",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def read(self, campaign_id: str, from_hour: int, to_hour: int) -> list[HealthBucket]:
        """Buckets of hours from_hour ≤ hour < to_hour."""
        pages = client("dynamodb").get_paginator("query").paginate(
            TableName=self.table,
            KeyConditionExpression="campaign_id = :c AND #b BETWEEN :from AND :to",
            ExpressionAttributeNames={"#b": "bucket"},
            ExpressionAttributeValues={":c": {"S": campaign_id}, ":from": {"S": f"{from_hour:010d}#"},
                                       ":to": {"S": f"{to_hour - 1:010d}#\uffff"}},
        )
        return [_bucket(item) for page in pages for item in page.get("Items", [])]


def _bucket(item: dict[str, Any]) -> HealthBucket:
    hour, event = item["bucket"]["S"].split("#", 1)
    counts: dict[str, int] = {}
    revenue: dict[str, Decimal] = {}
    payments: dict[str, int] = {}
    for name, attribute in item.items():
        if "N" not in attribute or name == "expires_at":
            continue
        if name.startswith(_REVENUE):
            revenue[name[len(_REVENUE):]] = Decimal(attribute["N"])
        elif name.startswith(_PAYMENTS):
            payments[name[len(_PAYMENTS):]] = int(attribute["N"])
        else:
            counts[name] = int(attribute["N"])
    return HealthBucket(int(hour), event, counts, revenue, payments)
