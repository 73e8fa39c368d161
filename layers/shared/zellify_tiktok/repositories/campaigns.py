"""Campaigns table: settings per campaign (the token lives in Secrets Manager) and last_delivery."""

import time
from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError

from ..campaign import Campaign
from .aws import client
from .items import from_item, to_attr, to_item


class CampaignsRepository:
    def __init__(self, table: str, max_age_s: float):
        self.table = table
        self.max_age_s = max_age_s
        self._cache: dict[str, tuple[float, Campaign | None]] = {}

    def get(self, campaign_id: str, *, fresh: bool = False) -> Campaign | None:
        cached = self._cache.get(campaign_id)
        if cached and not fresh and time.monotonic() - cached[0] < self.max_age_s:
            return cached[1]
        try:
            response = client("dynamodb").get_item(
                TableName=self.table, Key={"campaign_id": {"S": campaign_id}}, ConsistentRead=fresh
            )
        except (BotoCoreError, ClientError):
            # DynamoDB failing: a warm container keeps serving with what it last knew (stale on error).
            if cached and not fresh:
                return cached[1]
            raise
        item = response.get("Item")
        campaign = Campaign.model_validate(from_item(item)) if item else None
        self._cache[campaign_id] = (time.monotonic(), campaign)
        return campaign

    def put(self, campaign: Campaign) -> None:
        client("dynamodb").put_item(TableName=self.table, Item=to_item(campaign.model_dump(mode="json")))
        self._cache.pop(campaign.campaign_id, None)

    def delete(self, campaign_id: str) -> None:
        client("dynamodb").delete_item(TableName=self.table, Key={"campaign_id": {"S": campaign_id}})
        self._cache.pop(campaign_id, None)

    def list(self) -> list[Campaign]:
        paginator = client("dynamodb").get_paginator("scan")
        return [
            Campaign.model_validate(from_item(item))
            for page in paginator.paginate(TableName=self.table)
            for item in page.get("Items", [])
        ]

    def record_delivery(self, campaign: Campaign, delivery: dict) -> Campaign:
        """Store TikTok's last answer; only on an existing campaign (a delete must not resurrect it)."""
        dynamodb = client("dynamodb")
        try:
            dynamodb.update_item(
                TableName=self.table,
                Key={"campaign_id": {"S": campaign.campaign_id}},
                UpdateExpression="SET last_delivery = :d",
                ConditionExpression="attribute_exists(campaign_id)",
                ExpressionAttributeValues={":d": to_attr(delivery)},
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            return campaign
        updated = campaign.model_copy(update={"last_delivery": delivery})
        self._cache[campaign.campaign_id] = (time.monotonic(), updated)
        return updated


def delivery_record(answer: dict, at: datetime) -> dict:
    return {"at": at.isoformat(), **answer}
