"""PUT | GET | DELETE /v1/campaigns/{campaign_id}/tiktok (docs/design.md §6.4), and GET /v1/campaigns:
the console's campaign list.

Every function takes the caller: a campaign the caller may not see answers exactly as one that does not
exist (access.py), and every change is in the audit trail before the function returns.
"""

from datetime import UTC, datetime
from typing import Any

from ..access import Caller, access_to_store, may_see, visible
from ..audit import Action, Actor, AuditEntry, TestEventResult, TokenChange, settings_changes
from ..beacon import decode_json_object
from ..campaign import CampaignSettings, is_campaign_id, iso, warnings_for
from ..errors import BadRequest, NotFound
from ..repositories.audit import AuditRepository
from ..runtime import Runtime
from ..settings_input import apply_settings, parse_settings

MAX_SETTINGS_BYTES = 16 * 1024


def checked_id(campaign_id: str) -> str:
    if not is_campaign_id(campaign_id or ""):
        raise BadRequest("campaign_id: 1-128 characters of A-Z a-z 0-9 _ -", code="invalid_campaign_id")
    return campaign_id


def settings_view(campaign: CampaignSettings, now: datetime) -> dict[str, Any]:
    return {
        **campaign.settings_view(),
        "server_side": campaign.server_side,
        "access_token_last4": campaign.access_token_last4,
        "warnings": warnings_for(campaign, now),
        "last_delivery": campaign.last_delivery.as_dict() if campaign.last_delivery else None,
        "updated_at": iso(campaign.updated_at),
    }


def unknown_campaign(campaign_id: str) -> NotFound:
    """The one answer for a campaign that does not exist and for one the caller may not see."""
    return NotFound(f"campaign {campaign_id!r} has no TikTok configuration", code="unknown_campaign")


def campaign_for(caller: Caller, campaign_id: str, runtime: Runtime) -> CampaignSettings:
    """The campaign, read fresh, when the caller may see it; else the unknown campaign's 404."""
    campaign = runtime.campaigns.get(checked_id(campaign_id), fresh=True)
    if campaign is None or not may_see(caller, campaign.access):
        raise unknown_campaign(campaign_id)
    return campaign


def audit_log(runtime: Runtime) -> AuditRepository:
    if runtime.audit is None:
        raise RuntimeError("AUDIT_TABLE is not set: changes to campaigns cannot be recorded")
    return runtime.audit


def record(runtime: Runtime, campaign_id: str, caller: Caller, action: Action, now: datetime, *,
           old: CampaignSettings | None = None, new: CampaignSettings | None = None, token: TokenChange | None = None,
           test_event: TestEventResult | None = None) -> None:
    entry = AuditEntry(at=now, action=action, actor=Actor.of(caller), source_ip=caller.source_ip,
                       changes=settings_changes(old, new, token) if action != "test_event" else (),
                       test_event=test_event)
    audit_log(runtime).record(campaign_id, entry)


def put_settings(campaign_id: str, body: bytes, runtime: Runtime, *,
                 caller: Caller) -> dict[str, Any]:
    campaign_id = checked_id(campaign_id)
    settings, names_token = parse_settings(decode_json_object(body, MAX_SETTINGS_BYTES))
    previous = runtime.campaigns.get(campaign_id, fresh=True)
    if previous is not None and not may_see(caller, previous.access):
        raise unknown_campaign(campaign_id)
    requested = tuple(settings.access) if settings.access is not None else None
    access = access_to_store(caller, requested, previous.access if previous else None)
    audit_log(runtime)  # refused before anything changes, not after
    has_token = previous.has_token if previous else False
    last4 = previous.access_token_last4 if previous else None
    token: TokenChange | None = None
    if names_token and settings.access_token is None:
        runtime.secrets.delete_token(campaign_id)
        token = "removed" if has_token else None
        has_token, last4 = False, None
    elif settings.access_token is not None:
        runtime.secrets.put_token(campaign_id, settings.access_token)
        has_token, last4, token = True, settings.access_token[-4:], "replaced"
    now = datetime.now(UTC)
    campaign = apply_settings(campaign_id, settings, previous, has_token=has_token, token_last4=last4,
                              token_replaced=names_token, access=access, now=now)
    runtime.campaigns.put(campaign)
    record(runtime, campaign_id, caller, "created" if previous is None else "updated", now,
           old=previous, new=campaign, token=token)
    return settings_view(campaign, now)


def get_settings_view(campaign_id: str, runtime: Runtime, *, caller: Caller) -> dict[str, Any]:
    return settings_view(campaign_for(caller, campaign_id, runtime), datetime.now(UTC))


def list_settings_views(runtime: Runtime, *, caller: Caller) -> dict[str, Any]:
    """The settings view of every campaign the caller may see, by id: the console's campaign list
    (docs/design.md §10).

    A scan of the Campaigns table, which holds one small item per campaign; no token is read.
    """
    now = datetime.now(UTC)
    campaigns = sorted(visible(caller, runtime.campaigns.list()), key=lambda campaign: campaign.campaign_id)
    return {"campaigns": [settings_view(campaign, now) for campaign in campaigns]}


def delete_settings(campaign_id: str, runtime: Runtime, *, caller: Caller) -> None:
    campaign = campaign_for(caller, campaign_id, runtime)
    audit_log(runtime)
    runtime.secrets.delete_token(campaign.campaign_id)
    runtime.campaigns.delete(campaign.campaign_id)
    record(runtime, campaign.campaign_id, caller, "deleted", datetime.now(UTC), old=campaign,
           token="removed" if campaign.has_token else None)
