"""Campaign TikTok settings (DESIGN §6.4): the validated input model and the stored record."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import Unprocessable
from .events import EVENT_TABLE

TEST_EVENT_CODE_LIFETIME = timedelta(hours=24)
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")
_TIKTOK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,49}$")


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
        bad = [o for o in origins if not _ORIGIN.match(o)]
        if bad:
            raise ValueError(f"not origins (scheme://host[:port], no path): {bad[:5]}")
        # Browsers send scheme and host in lower case.
        return [o.lower() for o in origins]

    @field_validator("event_names")
    @classmethod
    def _event_names(cls, names: dict[str, str]) -> dict[str, str]:
        unknown = [k for k in names if k not in EVENT_TABLE]
        if unknown:
            raise ValueError(f"unknown funnel events {unknown[:5]}; known: {', '.join(EVENT_TABLE)}")
        bad = [v for v in names.values() if not _TIKTOK_NAME.match(v)]
        if bad:
            raise ValueError(f"not TikTok event names: {bad[:5]}")
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


def parse_settings(body: dict) -> tuple[CampaignSettingsInput, bool]:
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


SETTINGS_FIELDS = (
    "pixel_id",
    "test_event_code",
    "test_event_code_expires_at",
    "enabled",
    "allowed_origins",
    "event_names",
    "limited_data_use",
    "require_consent",
    "report_renewals",
    "stripe_account",
)


class Campaign(BaseModel):
    """A campaign's stored configuration (Campaigns table item, minus the token)."""

    model_config = ConfigDict(frozen=True)

    campaign_id: str
    pixel_id: str
    enabled: bool = True
    test_event_code: str | None = None
    test_event_code_expires_at: datetime | None = None
    allowed_origins: list[str] | None = None
    event_names: dict[str, str] = Field(default_factory=dict)
    limited_data_use: bool = False
    require_consent: bool = False
    report_renewals: bool = False
    stripe_account: str | None = None
    has_token: bool = False
    access_token_last4: str | None = None
    updated_at: datetime | None = None
    last_delivery: dict | None = None

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

    def settings_view(self) -> dict:
        view = self.model_dump(mode="json", include=set(SETTINGS_FIELDS))
        return {"campaign_id": self.campaign_id, **view}


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
        **new.model_dump(include=set(SETTINGS_FIELDS) - {"test_event_code_expires_at"}),
        test_event_code_expires_at=expires_at.astimezone(UTC) if expires_at else None,
        has_token=has_token,
        access_token_last4=token_last4,
        updated_at=now,
        last_delivery=previous.last_delivery if previous else None,
    )


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
                f"count for ads until {expires.isoformat() if expires else '?'}"
            )
        else:
            warnings.append(
                f"test_event_code expired at {expires.isoformat() if expires else '?'} and is no longer sent"
            )
    delivery = campaign.last_delivery or {}
    if delivery.get("code") == 40105:
        warnings.append("TikTok rejected the access token (40105): set a new token")
    elif delivery.get("outcome") == "permanent_failure":
        warnings.append(f"last delivery failed permanently: {delivery.get('code')} {delivery.get('message')}")
    return warnings
