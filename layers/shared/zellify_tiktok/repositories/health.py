"""Health table (docs/design.md §9): one item per campaign, hour and TikTok event name, counters added to.

Key: `campaign_id` + `bucket` ("{hour start, 10 digits}#{event name}", so a range of hours is one
Query). Counters are DynamoDB `ADD`s, so writers never read first; items expire 35 days on.
"""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from ..health import HealthBucket, HealthDelta
from .aws import client

RETENTION_S = 35 * 86400
_REVENUE, _PAYMENTS = "rev_", "pay_"


def bucket_key(hour: int, event: str) -> str:
    return f"{hour:010d}#{event}"


class HealthRepository:
    def __init__(self, table: str):
        self.table = table

    def add(self, deltas: Sequence[HealthDelta], *, max_calls: int | None = None) -> int:
        """One UpdateItem per delta, at most `max_calls` of them; how many deltas were written."""
        dynamodb = client("dynamodb")
        calls = 0
        for written, delta in enumerate(deltas):
            if max_calls is not None and calls >= max_calls:
                return written
            increments: dict[str, Decimal | int] = {**delta.counts}
            increments |= {f"{_REVENUE}{c}": v for c, v in delta.revenue.items()}
            increments |= {f"{_PAYMENTS}{c}": n for c, n in delta.payments.items()}
            increments = {name: n for name, n in increments.items() if n}
            if not increments:
                continue
            names = {f"#a{i}": name for i, name in enumerate(increments)}
            values: dict[str, Any] = {f":a{i}": {"N": str(n)} for i, n in enumerate(increments.values())}
            values[":expires"] = {"N": str(delta.hour + RETENTION_S)}
            dynamodb.update_item(
                TableName=self.table,
                Key={"campaign_id": {"S": delta.campaign_id}, "bucket": {"S": bucket_key(delta.hour, delta.event)}},
                UpdateExpression="ADD " + ", ".join(f"{alias} :{alias[1:]}" for alias in names)
                                 + " SET expires_at = :expires",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
            calls += 1
        return len(deltas)

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
