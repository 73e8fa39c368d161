"""Audit table: one item per change of a campaign, kept 400 days (TTL), outliving the campaign.

Key: campaign_id + `at_id` (the entry's UTC time, then a random id), so a query reads a campaign's
history in time order without a scan. The entry itself is stored as its JSON (audit.py).
"""

import time
import uuid

from ..audit import AuditEntry, iso_utc
from .aws import client

DAY_S = 86_400


class AuditRepository:
    def __init__(self, table: str, retention_days: int):
        self.table = table
        self.retention_days = retention_days

    def record(self, campaign_id: str, entry: AuditEntry) -> None:
        # Conditional: a (vanishingly unlikely) repeat of the key must not overwrite another entry.
        client("dynamodb").put_item(
            TableName=self.table,
            Item={
                "campaign_id": {"S": campaign_id},
                "at_id": {"S": f"{iso_utc(entry.at)}#{uuid.uuid4().hex}"},
                "entry": {"S": entry.to_json()},
                "expires_at": {"N": str(int(time.time()) + self.retention_days * DAY_S)},
            },
            ConditionExpression="attribute_not_exists(at_id)",
        )

    def newest(self, campaign_id: str, limit: int) -> list[AuditEntry]:
        """The campaign's `limit` newest entries, newest first."""
        answer = client("dynamodb").query(
            TableName=self.table,
            KeyConditionExpression="campaign_id = :c",
            ExpressionAttributeValues={":c": {"S": campaign_id}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [AuditEntry.from_json(item["entry"]["S"], item["at_id"]["S"]) for item in answer.get("Items", [])]
