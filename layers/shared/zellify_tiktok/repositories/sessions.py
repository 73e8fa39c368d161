"""Sessions table: what is known about one visitor of one campaign (docs/design.md §5).

Only hashes of emails and phones are stored. A later beacon never erases a known value with an empty
one: only non-empty values are SET. A withdrawn consent stands until a beacon gives it again: a beacon
silent on consent stores nothing on such a session.
"""

import contextlib
from decimal import Decimal
from typing import Any

from ..records import Checkout, SessionRecord
from ..server_event import MATCH_KEYS, Content, UserData
from .aws import client
from .items import from_item, to_attr

__all__ = ["SessionRecord", "SessionsRepository", "session_record"]


def _checkout_attr(checkout: Checkout) -> dict[str, Any]:
    return {"value": checkout.value, "currency": checkout.currency,
            "contents": [item.as_dict() for item in checkout.contents]}


def _checkout(value: Any) -> Checkout | None:
    if not isinstance(value, dict) or "value" not in value or not value.get("currency"):
        return None
    contents = tuple(
        Content(content_id=c.get("content_id"), content_name=c.get("content_name"),
                quantity=int(c["quantity"]) if c.get("quantity") is not None else None,
                price=c.get("price"))
        for c in value.get("contents") or [] if isinstance(c, dict)
    )
    return Checkout(Decimal(value["value"]), str(value["currency"]), contents)


def session_record(item: dict[str, Any]) -> SessionRecord:
    data = from_item(item)
    user = UserData(**{key: data[key] for key in MATCH_KEYS if isinstance(data.get(key), str) and data[key]})
    consent = data.get("consent")
    return SessionRecord(user=user, consent=consent if isinstance(consent, bool) else None,
                         last_checkout=_checkout(data.get("last_checkout")))


class SessionsRepository:
    def __init__(self, table: str, ttl_days: int):
        self.table = table
        self.ttl_s = ttl_days * 86400

    def _key(self, campaign_id: str, session_id: str) -> dict[str, Any]:
        return {"campaign_id": {"S": campaign_id}, "session_id": {"S": session_id}}

    def upsert(self, campaign_id: str, session_id: str, update: SessionRecord, now_s: int) -> SessionRecord:
        """Merge what this request knows into the record; returns the whole record after the merge."""
        values: dict[str, Any] = dict(update.user.present())
        if update.consent is not None:
            values["consent"] = update.consent
        if update.last_checkout is not None:
            values["last_checkout"] = _checkout_attr(update.last_checkout)
        values |= {"last_seen": now_s, "expires_at": now_s + self.ttl_s}
        assignments = [f"#{name} = :{name}" for name in values]
        assignments.append("#first_seen = if_not_exists(#first_seen, :last_seen)")
        names = {f"#{name}": name for name in [*values, "first_seen"]}
        attribute_values = {f":{name}": to_attr(value) for name, value in values.items()}
        request: dict[str, Any] = {}
        if update.consent is None:
            # A beacon that says nothing of consent adds nothing to a session that withdrew it.
            request["ConditionExpression"] = "attribute_not_exists(#consent_) OR #consent_ <> :refused"
            names["#consent_"] = "consent"
            attribute_values[":refused"] = {"BOOL": False}
        dynamodb = client("dynamodb")
        try:
            response = dynamodb.update_item(
                TableName=self.table,
                Key=self._key(campaign_id, session_id),
                UpdateExpression="SET " + ", ".join(assignments),
                # Names are aliased: several (e.g. "ttl"-like words) collide with DynamoDB reserved words.
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attribute_values,
                ReturnValues="ALL_NEW",
                **request,
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            return SessionRecord(user=UserData(), consent=False)
        return session_record(response["Attributes"])

    def withdraw_consent(self, campaign_id: str, session_id: str) -> None:
        """Record a refusal on a session we already hold; a new visitor who refuses is not stored at all."""
        dynamodb = client("dynamodb")
        with contextlib.suppress(dynamodb.exceptions.ConditionalCheckFailedException):
            dynamodb.update_item(
                TableName=self.table, Key=self._key(campaign_id, session_id),
                UpdateExpression="SET consent = :no", ConditionExpression="attribute_exists(session_id)",
                ExpressionAttributeValues={":no": {"BOOL": False}},
            )

    def get(self, campaign_id: str, session_id: str) -> SessionRecord | None:
        response = client("dynamodb").get_item(TableName=self.table, Key=self._key(campaign_id, session_id))
        item = response.get("Item")
        return session_record(item) if item else None

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
