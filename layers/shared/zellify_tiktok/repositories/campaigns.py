"""Campaigns table: settings per campaign (the token lives in Secrets Manager) and last_delivery."""

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..campaign import CampaignSettings, LastDelivery
from .aws import client
from .items import from_item, to_attr, to_item


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, Decimal | int) else None


def delivery_from(value: Any) -> LastDelivery | None:
    if not isinstance(value, dict) or not value.get("at"):
        return None
    return LastDelivery(at=datetime.fromisoformat(value["at"]), outcome=str(value.get("outcome", "")),
                        code=_int(value.get("code")), message=str(value.get("message", "")),
                        http_status=_int(value.get("http_status")))


def campaign_from_item(item: dict[str, Any]) -> CampaignSettings:
    data = from_item(item)
    origins = data.get("allowed_origins")
    return CampaignSettings(
        campaign_id=data["campaign_id"],
        pixel_id=data["pixel_id"],
        enabled=bool(data.get("enabled", True)),
        test_event_code=data.get("test_event_code"),
        test_event_code_expires_at=_time(data.get("test_event_code_expires_at")),
        allowed_origins=tuple(origins) if isinstance(origins, list) else None,
        event_names=dict(data.get("event_names") or {}),
        limited_data_use=bool(data.get("limited_data_use", False)),
        require_consent=bool(data.get("require_consent", False)),
        report_renewals=bool(data.get("report_renewals", False)),
        stripe_account=data.get("stripe_account"),
        access=tuple(str(group) for group in data.get("access") or ()),
        has_token=bool(data.get("has_token", False)),
        access_token_last4=data.get("access_token_last4"),
        updated_at=_time(data.get("updated_at")),
        last_delivery=delivery_from(data.get("last_delivery")),
        last_beacon_at=_time(data.get("last_beacon_at")),
    )


def campaign_item(campaign: CampaignSettings) -> dict[str, Any]:
    return to_item({
        **campaign.settings_view(),
        "has_token": campaign.has_token,
        "access_token_last4": campaign.access_token_last4,
        "updated_at": campaign.updated_at.isoformat() if campaign.updated_at else None,
        "last_delivery": campaign.last_delivery.as_dict() if campaign.last_delivery else None,
        "last_beacon_at": campaign.last_beacon_at.isoformat() if campaign.last_beacon_at else None,
    })


class CampaignsRepository:
    def __init__(self, table: str, max_age_s: float):
        self.table = table
        self.max_age_s = max_age_s
        self._cache: dict[str, tuple[float, CampaignSettings | None]] = {}

    def get(self, campaign_id: str, *, fresh: bool = False) -> CampaignSettings | None:
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
        campaign = campaign_from_item(item) if item else None
        self._cache[campaign_id] = (time.monotonic(), campaign)
        return campaign

    def put(self, campaign: CampaignSettings) -> None:
        client("dynamodb").put_item(TableName=self.table, Item=campaign_item(campaign))
        self._cache.pop(campaign.campaign_id, None)

    def delete(self, campaign_id: str) -> None:
        client("dynamodb").delete_item(TableName=self.table, Key={"campaign_id": {"S": campaign_id}})
        self._cache.pop(campaign_id, None)

    def list(self) -> list[CampaignSettings]:
        paginator = client("dynamodb").get_paginator("scan")
        return [
            campaign_from_item(item)
            for page in paginator.paginate(TableName=self.table)
            for item in page.get("Items", [])
        ]

    def record_delivery(self, campaign_id: str, delivery: LastDelivery) -> None:
        """Store TikTok's last answer; only on an existing campaign (a delete must not resurrect it).

        The cached campaign (if any) gets the new answer; nothing else about it changes, so a caller
        that delivered for another pixel cannot leave its copy in the cache.
        """
        if self._set(campaign_id, "last_delivery", delivery.as_dict()):
            self._update_cached(campaign_id, lambda c: replace(c, last_delivery=delivery))

    def record_beacon(self, campaign_id: str, at: datetime) -> None:
        if self._set(campaign_id, "last_beacon_at", at.isoformat()):
            self._update_cached(campaign_id, lambda c: replace(c, last_beacon_at=at))

    def _set(self, campaign_id: str, attribute: str, value: Any) -> bool:
        """SET one attribute of an existing campaign; False when there is none."""
        dynamodb = client("dynamodb")
        try:
            dynamodb.update_item(
                TableName=self.table,
                Key={"campaign_id": {"S": campaign_id}},
                UpdateExpression="SET #a = :v",
                ConditionExpression="attribute_exists(campaign_id)",
                ExpressionAttributeNames={"#a": attribute},
                ExpressionAttributeValues={":v": to_attr(value)},
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _update_cached(self, campaign_id: str, change: Callable[[CampaignSettings], CampaignSettings]) -> None:
        cached = self._cache.get(campaign_id)
        if cached and cached[1] is not None:
            self._cache[campaign_id] = (cached[0], change(cached[1]))
