"""Campaign TikTok settings (docs/design.md §6.4): the PUT body's model, the stored campaign, its rules.

`CampaignSettingsInput` (pydantic) validates what an operator sends and names each bad field.
`Campaign` is what every function reads per request: a plain frozen dataclass, cheap to build from a
DynamoDB item on a cold start.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .answers import Answer, code_info
from .errors import Unprocessable
from .events import EVENT_TABLE
from .hashing import encodable
from .server_event import Naming

TEST_EVENT_CODE_LIFETIME = timedelta(hours=24)
CAMPAIGN_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?")
# TikTok's rule for event names (docs/tiktok.md): letters, digits, _ and -, starting with a letter, ≤ 50.
TIKTOK_EVENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,49}")


def is_campaign_id(value: str) -> bool:
    return CAMPAIGN_ID.fullmatch(value) is not None


class CampaignSettingsInput(BaseModel):
    """The PUT body. Every field but access_token is replaced; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", strict=True)

    pixel_id: str = Field(pattern=r"^[A-Za-z0-9]{8,64}$")
    # Printable ASCII: it travels in an HTTP header (Access-Token).
    access_token: str | None = Field(default=None, pattern=r"^[\x21-\x7e]{8,1024}$")
    test_event_code: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{3,64}$")
    test_event_code_expires_at: datetime | None = None
    enabled: bool = True
    allowed_origins: list[str] | None = Field(default=None, max_length=50)
    event_names: dict[str, str] = Field(default_factory=dict)
    limited_data_use: bool = False
    require_consent: bool = False
    report_renewals: bool = False
    stripe_account: str | None = Field(default=None, pattern=r"^acct_[A-Za-z0-9]{1,64}$")

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, origins: list[str] | None) -> list[str] | None:
        if origins is None:
            return None
        bad = [o for o in origins if not _ORIGIN.fullmatch(o)]
        if bad:
            raise ValueError(f"not origins (scheme://host[:port], no path): {[o for o in bad[:5] if encodable(o)]}")
        # Browsers send scheme and host in lower case.
        return [o.lower() for o in origins]

    @field_validator("event_names")
    @classmethod
    def _event_names(cls, names: dict[str, str]) -> dict[str, str]:
        unknown = [k for k in names if k not in EVENT_TABLE]
        if unknown:
            shown = [k for k in unknown[:5] if encodable(k)]
            raise ValueError(f"unknown funnel events {shown}; known: {', '.join(EVENT_TABLE)}")
        bad = [v for v in names.values() if not TIKTOK_EVENT_NAME.fullmatch(v)]
        if bad:
            raise ValueError("not TikTok event names (letters, digits, _ and -, starting with a letter, "
                             f"at most 50): {[v for v in bad[:5] if encodable(v)]}")
        return names

    @field_validator("test_event_code_expires_at", mode="before")
    @classmethod
    def _expiry(cls, value: Any) -> Any:
        # strict mode takes no strings for datetimes; the JSON body carries ISO 8601 text.
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError as exc:
                raise ValueError("must be an ISO 8601 date-time with a timezone") from exc
            if parsed.tzinfo is None:
                raise ValueError("must carry a timezone (e.g. 2026-11-26T10:00:00Z)")
            try:
                # Stored in UTC: 0001-01-01T00:00:00+01:00 has no UTC time.
                return parsed.astimezone(UTC)
            except OverflowError as exc:
                raise ValueError("is out of range") from exc
        return value


def parse_settings(body: dict[str, Any]) -> tuple[CampaignSettingsInput, bool]:
    """Validated settings and whether the body named access_token at all (omitted = keep)."""
    try:
        settings = CampaignSettingsInput.model_validate(body)
    except ValidationError as exc:
        details = [
            {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        fields = ", ".join(d["field"] for d in details)
        raise Unprocessable(f"invalid settings: {fields}", details=details) from None
    return settings, "access_token" in body


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
class Campaign:
    """A campaign's stored configuration (the Campaigns table item; the token lives in Secrets Manager)."""

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
    has_token: bool = False
    access_token_last4: str | None = None
    updated_at: datetime | None = None
    last_delivery: LastDelivery | None = None
    # When a container last noted a beacon (at most once a minute each): health's "beacons arrive" signal.
    last_beacon_at: datetime | None = None

    @property
    def server_side(self) -> bool:
        return self.has_token

    @property
    def naming(self) -> Naming:
        return Naming(self.event_names, self.limited_data_use)

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
        }


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# Sent with each event: the campaign's active code (request path, retries) or the operator's (a test event).
def test_code_to_send(campaign: Campaign, now: datetime, *, queued: str | None = None,
                      retrying: bool = False) -> str | None:
    """The one rule for test event codes: sent only while it is the campaign's active code.

    A retried event keeps the code it was queued with only while that code is still active; an event
    queued without one never gains one (it was live traffic). A test event names its code itself.
    """
    active = campaign.active_test_event_code(now)
    if retrying:
        return queued if queued is not None and queued == active else None
    return active


def apply_settings(
    campaign_id: str,
    new: CampaignSettingsInput,
    previous: Campaign | None,
    *,
    has_token: bool,
    token_last4: str | None,
    now: datetime,
) -> Campaign:
    """Replace semantics, except the test code's expiry: an unchanged code keeps its clock."""
    expires_at = new.test_event_code_expires_at
    if new.test_event_code is None:
        expires_at = None
    elif expires_at is None:
        same_code = previous is not None and previous.test_event_code == new.test_event_code
        kept = previous.test_event_code_expires_at if same_code and previous else None
        expires_at = kept or now + TEST_EVENT_CODE_LIFETIME
    return Campaign(
        campaign_id=campaign_id,
        pixel_id=new.pixel_id,
        enabled=new.enabled,
        test_event_code=new.test_event_code,
        test_event_code_expires_at=expires_at.astimezone(UTC) if expires_at else None,
        allowed_origins=tuple(new.allowed_origins) if new.allowed_origins is not None else None,
        event_names=dict(new.event_names),
        limited_data_use=new.limited_data_use,
        require_consent=new.require_consent,
        report_renewals=new.report_renewals,
        stripe_account=new.stripe_account,
        has_token=has_token,
        access_token_last4=token_last4,
        updated_at=now,
        last_delivery=previous.last_delivery if previous else None,
        last_beacon_at=previous.last_beacon_at if previous else None,
    )


def token_warning(delivery: LastDelivery | None) -> str | None:
    """What TikTok said about the campaign's token, while its last answer says it."""
    if delivery is None or delivery.code is None or not code_info(delivery.code).token_problem:
        return None
    reasons = {40102: "has expired", 40104: "was missing from the call", 40105: "is invalid or revoked"}
    return (f"TikTok says the access token {reasons.get(delivery.code, 'is not usable')} ({delivery.code}): "
            "set a new token")


def warnings_for(campaign: Campaign, now: datetime) -> list[str]:
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
                f"count for ads until {iso(expires) or '?'}"
            )
        else:
            warnings.append(f"test_event_code expired at {iso(expires) or '?'} and is no longer sent")
    delivery = campaign.last_delivery
    token = token_warning(delivery)
    if token:
        warnings.append(token)
    elif delivery is not None and delivery.outcome == "permanent_failure":
        warnings.append(f"last delivery failed permanently: {delivery.code} {delivery.message}")
    return warnings
