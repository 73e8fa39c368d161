"""PUT | GET | DELETE /v1/campaigns/{campaign_id}/tiktok (docs/design.md §6.4), and GET /v1/campaigns:
the console's campaign list."""

from datetime import UTC, datetime
from typing import Any

from ..beacon import decode_json_object
from ..campaign import Campaign, is_campaign_id, iso, warnings_for
from ..errors import BadRequest, NotFound
from ..runtime import Runtime, get_runtime
from ..settings_input import apply_settings, parse_settings

MAX_SETTINGS_BYTES = 16 * 1024


def checked_id(campaign_id: str) -> str:
    if not is_campaign_id(campaign_id or ""):
        raise BadRequest("campaign_id: 1-128 characters of A-Z a-z 0-9 _ -", code="invalid_campaign_id")
    return campaign_id


def settings_view(campaign: Campaign, now: datetime) -> dict[str, Any]:
    return {
        **campaign.settings_view(),
        "server_side": campaign.server_side,
        "access_token_last4": campaign.access_token_last4,
        "warnings": warnings_for(campaign, now),
        "last_delivery": campaign.last_delivery.as_dict() if campaign.last_delivery else None,
        "updated_at": iso(campaign.updated_at),
    }


def put_settings(campaign_id: str, body: bytes, runtime: Runtime | None = None) -> dict[str, Any]:
    runtime = runtime or get_runtime()
    campaign_id = checked_id(campaign_id)
    settings, names_token = parse_settings(decode_json_object(body, MAX_SETTINGS_BYTES))
    previous = runtime.campaigns.get(campaign_id, fresh=True)
    has_token = previous.has_token if previous else False
    last4 = previous.access_token_last4 if previous else None
    if names_token and settings.access_token is None:
        runtime.secrets.delete_token(campaign_id)
        has_token, last4 = False, None
    elif settings.access_token is not None:
        runtime.secrets.put_token(campaign_id, settings.access_token)
        has_token, last4 = True, settings.access_token[-4:]
    now = datetime.now(UTC)
    campaign = apply_settings(campaign_id, settings, previous, has_token=has_token, token_last4=last4,
                              token_replaced=names_token, now=now)
    runtime.campaigns.put(campaign)
    return settings_view(campaign, now)


def get_settings_view(campaign_id: str, runtime: Runtime | None = None) -> dict[str, Any]:
    runtime = runtime or get_runtime()
    campaign = runtime.campaigns.get(checked_id(campaign_id), fresh=True)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id!r} has no TikTok configuration", code="unknown_campaign")
    return settings_view(campaign, datetime.now(UTC))


def list_settings_views(runtime: Runtime | None = None) -> dict[str, Any]:
    """Every configured campaign's settings view, by id: the console's campaign list (docs/design.md §10).

    A scan of the Campaigns table, which holds one small item per campaign; no token is read.
    """
    runtime = runtime or get_runtime()
    now = datetime.now(UTC)
    campaigns = sorted(runtime.campaigns.list(), key=lambda campaign: campaign.campaign_id)
    return {"campaigns": [settings_view(campaign, now) for campaign in campaigns]}


def delete_settings(campaign_id: str, runtime: Runtime | None = None) -> None:
    runtime = runtime or get_runtime()
    campaign_id = checked_id(campaign_id)
    runtime.secrets.delete_token(campaign_id)
    runtime.campaigns.delete(campaign_id)
