"""Sessions table: what is known about one visitor of one campaign (DESIGN §5).

Only hashes of emails are stored. A later beacon never erases a known value with an empty one:
only non-empty values are SET.
"""

import contextlib
from dataclasses import dataclass
from decimal import Decimal

from .aws import client
from .items import from_item, to_attr


@dataclass(frozen=True)
class SessionUpdate:
    external_id: str | None = None
    email: str | None = None  # SHA-256 hex, never the raw address
    ttp: str | None = None
    ttclid: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    consent: bool | None = None
    last_checkout: dict | None = None


class SessionsRepository:
    def __init__(self, table: str, ttl_days: int):
        self.table = table
        self.ttl_s = ttl_days * 86400

    def _key(self, campaign_id: str, session_id: str) -> dict:
        return {"campaign_id": {"S": campaign_id}, "session_id": {"S": session_id}}

    def upsert(self, campaign_id: str, session_id: str, update: SessionUpdate, now_s: int) -> dict:
        """Merge what this request knows into the record; returns the whole record after the merge."""
        fields = {name: value for name, value in vars(update).items() if value not in (None, "")}
        fields |= {"last_seen": now_s, "expires_at": now_s + self.ttl_s}
        assignments = [f"#{name} = :{name}" for name in fields]
        assignments.append("#first_seen = if_not_exists(#first_seen, :last_seen)")
        response = client("dynamodb").update_item(
            TableName=self.table,
            Key=self._key(campaign_id, session_id),
            UpdateExpression="SET " + ", ".join(assignments),
            # Names are aliased: several (e.g. "ttl"-like words) collide with DynamoDB reserved words.
            ExpressionAttributeNames={f"#{name}": name for name in [*fields, "first_seen"]},
            ExpressionAttributeValues={f":{name}": to_attr(value) for name, value in fields.items()},
            ReturnValues="ALL_NEW",
        )
        return from_item(response["Attributes"])

    def withdraw_consent(self, campaign_id: str, session_id: str) -> None:
        """Record a refusal on a session we already hold; a new visitor who refuses is not stored at all."""
        dynamodb = client("dynamodb")
        with contextlib.suppress(dynamodb.exceptions.ConditionalCheckFailedException):
            dynamodb.update_item(
                TableName=self.table, Key=self._key(campaign_id, session_id),
                UpdateExpression="SET consent = :no", ConditionExpression="attribute_exists(session_id)",
                ExpressionAttributeValues={":no": {"BOOL": False}},
            )

    def get(self, campaign_id: str, session_id: str) -> dict | None:
        response = client("dynamodb").get_item(TableName=self.table, Key=self._key(campaign_id, session_id))
        item = response.get("Item")
        return from_item(item) if item else None

    def delete(self, campaign_id: str, session_id: str) -> bool:
        response = client("dynamodb").delete_item(
            TableName=self.table, Key=self._key(campaign_id, session_id), ReturnValues="ALL_OLD"
        )
        return "Attributes" in response

    def find_by_email_hash(self, campaign_id: str, email_hash: str) -> list[str]:
        """Session ids of one campaign whose record holds this email hash (for erasure requests).

        A Query of the campaign's partition with a filter reads the whole partition: fine for a rare
        operator action, and no index has to copy email hashes around. Consistent, so a session
        written moments ago is not missed.
        """
        pages = client("dynamodb").get_paginator("query").paginate(
            TableName=self.table,
            KeyConditionExpression="campaign_id = :campaign",
            FilterExpression="#email = :email",
            ProjectionExpression="session_id",
            ExpressionAttributeNames={"#email": "email"},
            ExpressionAttributeValues={":campaign": {"S": campaign_id}, ":email": {"S": email_hash}},
            ConsistentRead=True,
        )
        return [item["session_id"]["S"] for page in pages for item in page.get("Items", [])]


def checkout_record(value: Decimal, currency: str, contents: list[dict] | None) -> dict:
    return {"value": value, "currency": currency, "contents": contents or []}
