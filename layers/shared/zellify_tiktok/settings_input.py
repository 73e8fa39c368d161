"""The settings PUT's body (docs/design.md §6.4): validated field by field, each bad field named.

pydantic, loaded only where settings are written (the settings function, the CLI, the test-event
route's code check): the functions serving beacons and webhooks never import it.
"""

import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from .access import GROUP_NAME, GROUP_NAME_RULE, MAX_GROUPS
from .campaign import TEST_EVENT_CODE_LIFETIME, Campaign, LastDelivery, token_warning
from .errors import Unprocessable
from .events import EVENT_TABLE
from .hashing import encodable

_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?")
# TikTok's rule for event names (docs/tiktok.md): letters, digits, _ and -, starting with a letter, ≤ 50.
TIKTOK_EVENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,49}")


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
    # Who may see the campaign (group names); omitted or null keeps the stored list. Only admins change it.
    access: list[str] | None = None

    @field_validator("access", mode="before")
    @classmethod
    def _access(cls, groups: Any) -> Any:
        if groups is None:
            return None
        if not isinstance(groups, list) or not all(isinstance(group, str) for group in groups):
            raise PydanticCustomError("access", 'A list of group names, e.g. ["agency-acme"].')
        if len(groups) > MAX_GROUPS:
            raise PydanticCustomError("access", f"At most {MAX_GROUPS} groups.")
        if not all(GROUP_NAME.fullmatch(group) for group in groups):
            raise PydanticCustomError("access", GROUP_NAME_RULE)
        return list(dict.fromkeys(groups))

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


def apply_settings(
    campaign_id: str,
    new: CampaignSettingsInput,
    previous: Campaign | None,
    *,
    has_token: bool,
    token_last4: str | None,
    token_replaced: bool = False,
    access: tuple[str, ...] = (),
    now: datetime,
) -> Campaign:
    """Replace semantics, except the test code's expiry: an unchanged code keeps its clock, and TikTok's last
    answer, which is kept unless it blamed the token this request replaces (its warning would outlive the fix)."""
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
        access=access,
        has_token=has_token,
        access_token_last4=token_last4,
        updated_at=now,
        last_delivery=_kept_delivery(previous, token_replaced),
        last_beacon_at=previous.last_beacon_at if previous else None,
    )


def _kept_delivery(previous: Campaign | None, token_replaced: bool) -> LastDelivery | None:
    last = previous.last_delivery if previous else None
    if last is not None and token_replaced and token_warning(last):
        return None
    return last
