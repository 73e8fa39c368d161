"""The settings PUT's body (docs/design.md §6.4): validated field by field, each bad field named.

pydantic, loaded only where settings are written (the settings function, the CLI, the test-event
route's code check): the functions serving beacons and webhooks never import it.
"""

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from .access import GROUP_NAME, GROUP_NAME_RULE, MAX_GROUPS
from .campaign import TEST_EVENT_CODE_LIFETIME, CampaignSettings, LastDelivery, token_warning
from .errors import Unprocessable
from .events import EVENT_TABLE
from .hashing import encodable

_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?")
# TikTok's rule for event names (docs/tiktok.md): letters, digits, _ and -, starting with a letter, ≤ 50.
TIKTOK_EVENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,49}")
_PIXEL_ID = re.compile(r"[A-Za-z0-9]{8,64}")
# Printable ASCII: the token travels in an HTTP header (Access-Token).
_ACCESS_TOKEN = re.compile(r"[\x21-\x7e]{8,1024}")
_TEST_EVENT_CODE = re.compile(r"[A-Za-z0-9_-]{3,64}")
_STRIPE_ACCOUNT = re.compile(r"acct_[A-Za-z0-9]{1,64}")
MAX_ORIGINS = 50

# What each setting is called and what a right value looks like, in the words of the people who set it:
# every 422 detail ends with its field's sentence (docs/design.md §6.4), never a pattern or pydantic's words.
LABELS = {
    "pixel_id": "Pixel ID", "access_token": "access token", "test_event_code": "test event code",
    "test_event_code_expires_at": "test code's end", "enabled": "Enabled", "allowed_origins": "allowed origins",
    "event_names": "TikTok event names", "limited_data_use": "Limited data use",
    "require_consent": "Require consent", "report_renewals": "Report renewals", "stripe_account": "Stripe account ID",
    "access": "access groups",
}
RULES = {
    "pixel_id": "A Pixel ID is 8 to 64 letters and digits, as shown in TikTok Events Manager "
                "(e.g. C4ABCDEF0123456789AB).",
    "access_token": "An access token is 8 to 1024 letters, digits and symbols, without spaces: generate it in "
                    "TikTok Events Manager → your pixel → Settings → Events API and paste it whole.",
    "test_event_code": "A test event code is 3 to 64 letters, digits, _ or -, as shown in TikTok Events Manager → "
                       "Test Events (e.g. TEST12345).",
    "test_event_code_expires_at": "The test code's end is a date and time with its time zone "
                                  "(e.g. 2026-12-07T18:35:00Z); leave it out and the code lasts 24 hours.",
    "enabled": "Enabled is either on (true) or off (false).",
    "limited_data_use": "Limited data use is either on (true) or off (false).",
    "require_consent": "Require consent is either on (true) or off (false).",
    "report_renewals": "Report renewals is either on (true) or off (false).",
    "allowed_origins": f"Allowed origins are up to {MAX_ORIGINS} addresses of your funnel's sites, each "
                       "http:// or https:// and a host name, with a port if any and nothing after it "
                       "(e.g. https://funnel.example.com); leave them out to allow any site.",
    "event_names": "TikTok event names pair a funnel event with the name TikTok shows for it "
                   "(e.g. payment_succeeded = Purchase); the funnel events are: " + ", ".join(EVENT_TABLE) + ".",
    "stripe_account": "A Stripe account ID is acct_ followed by letters and digits, as shown in the Stripe "
                      "Dashboard (e.g. acct_1A2b3C4d5E6f7G8h); leave it out when there is one Stripe account.",
    "access": f"Access is a list of up to {MAX_GROUPS} groups that may see the campaign (e.g. growth, agency-a); "
              f"{GROUP_NAME_RULE[0].lower()}{GROUP_NAME_RULE[1:]}",
}
# pydantic's error types, said in plain words (what is wrong; the field's RULES sentence says what is right).
_PROBLEMS = {
    "missing": "The {label} is missing.",
    "string_type": "The {label} must be text.",
    "list_type": "The {label} must be a list.",
    "dict_type": "The {label} must be pairs of names.",
    "datetime_type": "The {label} must be a date and time.",
    "too_long": "There are too many {label} ({actual_length}; at most {max_length}).",
}
_BOOLEANS = ("enabled", "limited_data_use", "require_consent", "report_renewals")
_PLAIN = "plain"  # the error type of our own checks: their message is already in plain words


def _label(field: str) -> str:
    return LABELS.get(field, field.replace("_", " "))


def _refuse(message: str) -> PydanticCustomError:
    # Without a context pydantic keeps the message as it is (braces in a shown value included).
    return PydanticCustomError(_PLAIN, message)


def _shown(values: list[str]) -> str:
    """A few refused values, quoted, for the message (never a token; no lone surrogate)."""
    return ", ".join(f'"{v[:80]}"' for v in values[:5] if encodable(v))


def _characters(count: int) -> str:
    return f"{count} character{'' if count == 1 else 's'}"


def _checked_text(field: str, value: str, rule: re.Pattern[str], low: int, high: int, allowed: str, *,
                  show: bool = True) -> str:
    """value if it matches the field's rule; else a plain-words refusal saying what is wrong with it."""
    if rule.fullmatch(value):
        return value
    label = _label(field)
    if len(value) < low:
        problem = f"This {label} is too short ({_characters(len(value))}; at least {low})."
    elif len(value) > high:
        problem = f"This {label} is too long ({_characters(len(value))}; at most {high})."
    else:
        odd = sorted({c for c in value if not re.fullmatch(allowed, c)})
        seen = _shown(odd) if show and odd else ""
        problem = (f"This {label} holds characters it cannot have ({seen})." if seen
                   else f"This {label} holds characters it cannot have.")
        if field == "stripe_account" and not value.startswith("acct_"):
            problem = "This Stripe account ID does not start with acct_."
    raise _refuse(f"{problem} {RULES[field]}")


def _without_spaces(value: Any) -> Any:
    # People paste IDs and tokens with spaces or line breaks around or inside them: none belongs there.
    return "".join(value.split()) if isinstance(value, str) else value


class CampaignSettingsInput(BaseModel):
    """The PUT body. Every field but access_token is replaced; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", strict=True)

    pixel_id: str
    access_token: str | None = None
    test_event_code: str | None = None
    test_event_code_expires_at: datetime | None = None
    enabled: bool = True
    allowed_origins: list[str] | None = Field(default=None, max_length=MAX_ORIGINS)
    event_names: dict[str, str] = Field(default_factory=dict)
    limited_data_use: bool = False
    require_consent: bool = False
    report_renewals: bool = False
    stripe_account: str | None = None
    # Who may see the campaign (group names); omitted or null keeps the stored list. Only admins change it.
    access: list[str] | None = None

    @field_validator("pixel_id", "access_token", "test_event_code", mode="before")
    @classmethod
    def _cleaned(cls, value: Any) -> Any:
        return _without_spaces(value)

    @field_validator("pixel_id")
    @classmethod
    def _pixel_id(cls, value: str) -> str:
        return _checked_text("pixel_id", value, _PIXEL_ID, 8, 64, "[A-Za-z0-9]")

    @field_validator("access_token")
    @classmethod
    def _access_token(cls, value: str | None) -> str | None:
        # A token's characters are never echoed: part of a secret is still a secret.
        return None if value is None else _checked_text("access_token", value, _ACCESS_TOKEN, 8, 1024, "[\x21-\x7e]",
                                                       show=False)

    @field_validator("test_event_code")
    @classmethod
    def _test_event_code(cls, value: str | None) -> str | None:
        return None if value is None else _checked_text("test_event_code", value, _TEST_EVENT_CODE, 3, 64,
                                                       "[A-Za-z0-9_-]")

    @field_validator("stripe_account")
    @classmethod
    def _stripe_account(cls, value: str | None) -> str | None:
        return None if value is None else _checked_text("stripe_account", value, _STRIPE_ACCOUNT, 6, 69, "[A-Za-z0-9_]")

    @field_validator("access", mode="before")
    @classmethod
    def _access(cls, groups: Any) -> Any:
        if groups is None:
            return None
        if not isinstance(groups, list) or not all(isinstance(group, str) for group in groups):
            raise _refuse(f"Access must be a list of group names. {RULES['access']}")
        if len(groups) > MAX_GROUPS:
            raise _refuse(f"There are too many groups ({len(groups)}; at most {MAX_GROUPS}). {RULES['access']}")
        bad = [group for group in groups if not GROUP_NAME.fullmatch(group)]
        if bad:
            shown = _shown(bad)
            what = f"These are not group names: {shown}." if shown else "Some are not group names."
            raise _refuse(f"{what} {RULES['access']}")
        return list(dict.fromkeys(groups))

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, origins: list[str] | None) -> list[str] | None:
        if origins is None:
            return None
        bad = [o for o in origins if not _ORIGIN.fullmatch(o)]
        if bad:
            shown = _shown(bad)
            what = f"These are not site addresses: {shown}." if shown else "Some are not site addresses."
            raise _refuse(f"{what} {RULES['allowed_origins']}")
        # Browsers send scheme and host in lower case.
        return [o.lower() for o in origins]

    @field_validator("event_names")
    @classmethod
    def _event_names(cls, names: dict[str, str]) -> dict[str, str]:
        unknown = [k for k in names if k not in EVENT_TABLE]
        if unknown:
            shown = _shown(unknown)
            what = f"These are not funnel events: {shown}." if shown else "Some are not funnel events."
            raise _refuse(f"{what} {RULES['event_names']}")
        bad = [v for v in names.values() if not TIKTOK_EVENT_NAME.fullmatch(v)]
        if bad:
            shown = _shown(bad)
            what = f"These are not TikTok event names: {shown}." if shown else "Some are not TikTok event names."
            raise _refuse(f"{what} A TikTok event name is up to 50 letters, digits, _ or -, starting with a "
                          "letter (e.g. Purchase).")
        return names

    @field_validator("test_event_code_expires_at", mode="before")
    @classmethod
    def _expiry(cls, value: Any) -> Any:
        # strict mode takes no strings for datetimes; the JSON body carries ISO 8601 text.
        if isinstance(value, str):
            rule = RULES["test_event_code_expires_at"]
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError as exc:
                raise _refuse(f"This is not a date and time. {rule}") from exc
            if parsed.tzinfo is None:
                raise _refuse(f"This date and time has no time zone. {rule}")
            try:
                # Stored in UTC: 0001-01-01T00:00:00+01:00 has no UTC time.
                return parsed.astimezone(UTC)
            except OverflowError as exc:
                raise _refuse(f"This date is too far in the past or future. {rule}") from exc
        return value


def plain_message(error: Mapping[str, Any]) -> str:
    """One pydantic error of the settings body, in plain words: what is wrong, then what a right value is."""
    loc = [str(p) for p in error.get("loc", ())]
    if error.get("type") == _PLAIN:
        return str(error["msg"])
    field = loc[0] if loc else "body"
    if error.get("type") == "extra_forbidden":
        name = f'"{field[:80]}"' if encodable(field) else "This name"
        known = ", ".join(CampaignSettingsInput.model_fields)
        return f"{name} is not a setting of a campaign; the settings are: {known}."
    if field in _BOOLEANS:
        return RULES[field]
    label = _label(field)
    template = _PROBLEMS.get(str(error.get("type")), "The {label} is not valid.")
    if len(loc) > 1:  # one entry of a list or of the event names
        template = template.replace("The {label}", "Each TikTok event name" if field == "event_names"
                                    else "Each of the {label}")
    context = {k: v for k, v in (error.get("ctx") or {}).items() if isinstance(v, int)}
    try:
        problem = template.format(label=label, **context)
    except KeyError:
        problem = f"The {label} is not valid."
    return f"{problem} {RULES.get(field, '')}".strip()


def parse_settings(body: dict[str, Any]) -> tuple[CampaignSettingsInput, bool]:
    """Validated settings and whether the body named access_token at all (omitted = keep)."""
    try:
        settings = CampaignSettingsInput.model_validate(body)
    except ValidationError as exc:
        details = [
            {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": plain_message(err)}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        fields = ", ".join(dict.fromkeys(_label(d["field"].split(".")[0]) for d in details))
        raise Unprocessable(f"Some settings need fixing: {fields}.", details=details) from None
    return settings, "access_token" in body


def apply_settings(
    campaign_id: str,
    new: CampaignSettingsInput,
    previous: CampaignSettings | None,
    *,
    has_token: bool,
    token_last4: str | None,
    token_replaced: bool = False,
    access: tuple[str, ...] = (),
    now: datetime,
) -> CampaignSettings:
    """Replace semantics, except the test code's expiry: an unchanged code keeps its clock, and TikTok's last
    answer, which is kept unless it blamed the token this request replaces (its warning would outlive the fix)."""
    expires_at = new.test_event_code_expires_at
    if new.test_event_code is None:
        expires_at = None
    elif expires_at is None:
        same_code = previous is not None and previous.test_event_code == new.test_event_code
        kept = previous.test_event_code_expires_at if same_code and previous else None
        expires_at = kept or now + TEST_EVENT_CODE_LIFETIME
    return CampaignSettings(
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


def _kept_delivery(previous: CampaignSettings | None, token_replaced: bool) -> LastDelivery | None:
    last = previous.last_delivery if previous else None
    if last is not None and token_replaced and token_warning(last):
        return None
    return last
