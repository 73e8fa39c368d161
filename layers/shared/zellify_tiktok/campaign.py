"""A campaign's TikTok settings as every function reads them (docs/design.md §6.4), and their rules.

`CampaignSettings` is a plain frozen dataclass, cheap to build from a DynamoDB item on a cold start; the
settings PUT's validating model is in settings_input.py (pydantic: only the settings function loads it).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .answers import Answer, code_info
from .server_event import Naming

TEST_EVENT_CODE_LIFETIME = timedelta(hours=24)
CAMPAIGN_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
# The settings a PUT replaces (every field but the token), in the order views list them.
SETTINGS_FIELDS = ("pixel_id", "test_event_code", "test_event_code_expires_at", "enabled", "allowed_origins",
                   "event_names", "limited_data_use", "require_consent", "report_renewals", "stripe_account")


def is_campaign_id(value: str) -> bool:
    return CAMPAIGN_ID.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class LastDelivery:
    """TikTok's last answer for a campaign, kept so an operator sees a revoked token at once."""

    at: datetime
    outcome: str
    code: int | None
    message: str
    http_status: int | None = None

    @classmethod
    def of(cls, answer: Answer, at: datetime) -> "LastDelivery":
        return cls(at, str(answer.outcome), answer.code, answer.message, answer.http_status)

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "outcome": self.outcome, "code": self.code, "message": self.message,
                "http_status": self.http_status}


@dataclass(frozen=True, slots=True)
class CampaignSettings:
    """A campaign's TikTok settings as stored (the Campaigns table item; the token lives in Secrets Manager),
    with what the functions noted about it (TikTok's last answer, the last beacon)."""

    campaign_id: str
    pixel_id: str
    enabled: bool = True
    test_event_code: str | None = None
    test_event_code_expires_at: datetime | None = None
    allowed_origins: tuple[str, ...] | None = None
    event_names: Mapping[str, str] = field(default_factory=dict)
    limited_data_use: bool = False
    require_consent: bool = False
    report_renewals: bool = False
    stripe_account: str | None = None
    # The groups whose members may see and change the campaign (docs/design.md §6.4); admins see all.
    access: tuple[str, ...] = ()
    has_token: bool = False
    access_token_last4: str | None = None
    updated_at: datetime | None = None
    last_delivery: LastDelivery | None = None
    # When a container last noted a beacon (at most once a minute each): health's "beacons arrive" signal.
    last_beacon_at: datetime | None = None
    # What the campaign decides about every event it sends: made once, not per beacon.
    naming: Naming = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "naming", Naming(self.event_names, self.limited_data_use))

    @property
    def server_side(self) -> bool:
        return self.has_token

    def active_test_event_code(self, now: datetime) -> str | None:
        if self.test_event_code and self.test_event_code_expires_at and now < self.test_event_code_expires_at:
            return self.test_event_code
        return None

    def origin_allowed(self, origin: str | None) -> bool:
        if origin is None or self.allowed_origins is None:
            return True
        return origin.lower() in self.allowed_origins

    def settings_view(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "pixel_id": self.pixel_id,
            "test_event_code": self.test_event_code,
            "test_event_code_expires_at": iso(self.test_event_code_expires_at),
            "enabled": self.enabled,
            "allowed_origins": list(self.allowed_origins) if self.allowed_origins is not None else None,
            "event_names": dict(self.event_names),
            "limited_data_use": self.limited_data_use,
            "require_consent": self.require_consent,
            "report_renewals": self.report_renewals,
            "stripe_account": self.stripe_account,
            "access": list(self.access),
        }


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# Sent with each event: the campaign's active code (request path, retries) or the operator's (a test event).
def test_code_to_send(campaign: CampaignSettings, now_s: float, *, queued: str | None = None,
                      retrying: bool = False) -> str | None:
    """The one rule for test event codes: sent only while it is the campaign's active code.

    A retried event keeps the code it was queued with only while that code is still active; an event
    queued without one never gains one (it was live traffic). A test event names its code itself.
    """
    active = campaign.active_test_event_code(datetime.fromtimestamp(now_s, UTC)) if campaign.test_event_code else None
    if retrying:
        return queued if queued is not None and queued == active else None
    return active


def token_warning(delivery: LastDelivery | None) -> str | None:
    """What TikTok said about the campaign's token, while its last answer says it."""
    if delivery is None or delivery.code is None or not code_info(delivery.code).token_problem:
        return None
    reasons = {40102: "has expired", 40104: "was missing from the call", 40105: "is invalid or revoked"}
    return (f"TikTok says the access token {reasons.get(delivery.code, 'is not usable')} ({delivery.code}): "
            "set a new token")


def readable(moment: datetime | None) -> str:
    """A time as people read it in a sentence (7 Dec 2026, 18:35 UTC), not as ISO 8601."""
    if moment is None:
        return "an unknown time"
    utc = moment.astimezone(UTC)
    return f"{utc.day} {utc:%b %Y, %H:%M} UTC"


def warnings_for(campaign: CampaignSettings, now: datetime) -> list[str]:
    warnings = []
    if not campaign.enabled:
        warnings.append("campaign is disabled: tracker.js and beacons answer 404, nothing is sent")
    if not campaign.has_token:
        warnings.append("no Events API access token: pixel only, nothing is sent server-side")
    if campaign.test_event_code:
        expires = campaign.test_event_code_expires_at
        if campaign.active_test_event_code(now):
            warnings.append(
                f"test_event_code is set: server events go to TikTok's Test Events tool and do not "
                f"count for ads until {readable(expires)}"
            )
        else:
            warnings.append(f"test_event_code expired at {readable(expires)} and is no longer sent")
    delivery = campaign.last_delivery
    token = token_warning(delivery)
    if token:
        warnings.append(token)
    elif delivery is not None and delivery.outcome == "permanent_failure":
        warnings.append(f"last delivery failed permanently: {delivery.code} {delivery.message}")
    return warnings
