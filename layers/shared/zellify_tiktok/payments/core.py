"""The payment core's typed values and the rules every provider shares (docs/design.md §4, §5, §6.3). Pure.

An adapter turns its provider's verified event into a `Conversion` (or `Ignored` and why); from there the
core decides alike for every provider: funnel ids, amounts and their bounds, contents, user data, and the
TikTok event. Raw emails never enter a `Conversion`: adapters hash them at once.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ..beacon import MAX_CONTENTS, SESSION_ID, InvalidEvent, content_item
from ..campaign import CampaignSettings, is_campaign_id
from ..hashing import encodable, hash_email, hash_external_id, hash_phone, is_valid_email
from ..records import SessionRecord
from ..server_event import Content, ServerEvent, UserData, server_event

# Bounds (docs/design.md §6.3): TikTok's body takes no larger number, and no payment is that large.
MAX_AMOUNT_MINOR = 10**12
MAX_AGE_S = 7 * 86400

# Currency classes (docs/stripe.md): the same table serves every provider, whose amounts are minor units.
ZERO_DECIMAL_CURRENCIES = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())
THREE_DECIMAL_CURRENCIES = frozenset("BHD JOD KWD OMR TND".split())
# A provider's id becomes an event_id and a ledger key: bounded, and only characters an event_id takes.
_PROVIDER_ID = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_MINOR_UNITS = re.compile(r"[0-9]{1,30}")


def currency_exponent(currency: str) -> int:
    if currency in ZERO_DECIMAL_CURRENCIES:
        return 0
    if currency in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def major_units(amount: int, currency: str) -> Decimal:
    """Exact: 1999 USD → 19.99, 500 JPY → 500, 1234 KWD → 1.234 (a shift of the exponent, no division)."""
    return Decimal(amount).scaleb(-currency_exponent(currency))


class SubscriptionCheck(StrEnum):
    """How an event relates to its subscription's `first-payment:` ledger record."""

    NONE = "none"
    # CompletePayment: the first paid invoice/transaction/order is reported (and recorded); later ones are renewals.
    FIRST_PAYMENT = "first_payment"
    # PaymentFailed: reported only while the subscription has never been paid.
    UNPAID_ONLY = "unpaid_only"


@dataclass(frozen=True)
class Conversion:
    """What one provider event reports, before the campaign and the session are looked up."""

    funnel_event: str
    event_id: str
    event_time: int
    campaign_id: str
    session_id: str
    account: str | None
    value: Decimal
    currency: str | None
    contents: tuple[Content, ...] | None  # from zellify_contents, when it parses
    # The provider object's email and phone, hashed at once: the raw values go no further.
    email_hash: str | None
    phone_hash: str | None
    subscription_id: str | None
    subscription_check: SubscriptionCheck
    provider: str = "stripe"
    # From the provider's test mode (Stripe livemode false; Paddle/Solidgate: verified by a test secret).
    test_mode: bool = False
    # The ledger key of "this subscription's first payment was reported" (docs/design.md §4).
    first_payment_key: str | None = None
    # The provider's own line items: the contents when neither metadata nor the session name any.
    items: tuple[Content, ...] = ()


@dataclass(frozen=True)
class Ignored:
    reason: str
    event_id: str | None = None


class InvalidAmount(Exception):
    """An amount that does not parse as minor units, or one above MAX_AMOUNT_MINOR."""


class Malformed(Exception):
    """The event does not have the shape its type promises."""


# -- reading provider objects defensively ---------------------------------------------------------

def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def provider_id(value: Any) -> str | None:
    found = text(value)
    return found if found and _PROVIDER_ID.fullmatch(found) else None


def required_id(value: Any) -> str:
    found = provider_id(value)
    if found is None:
        raise Malformed
    return found


def minor_amount(value: Any) -> int:
    """Minor units given as an integer (Stripe, Solidgate) or a string of digits (Paddle), within bounds."""
    if isinstance(value, bool):
        raise InvalidAmount
    if isinstance(value, str) and _MINOR_UNITS.fullmatch(value):
        value = int(value)
    if not isinstance(value, int) or not 0 <= value <= MAX_AMOUNT_MINOR:
        raise InvalidAmount
    return value


def currency_code(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 3 or not value.isascii() or not value.isalpha():
        raise Malformed
    return value.upper()


def email_hash(*candidates: Any) -> str | None:
    for candidate in candidates:
        if isinstance(candidate, str) and is_valid_email(candidate):
            return hash_email(candidate)
    return None


def phone_hash(candidate: Any) -> str | None:
    if isinstance(candidate, str) and len(candidate) <= 64 and encodable(candidate):
        return hash_phone(candidate)
    return None


def first_payment_record_key(provider: str, subscription_id: str) -> str:
    """Ledger key recording that a subscription's first payment was reported (docs/design.md §4).

    Not scoped to a pixel: "paid once" is a fact about the subscription, so a campaign that changes its
    pixel does not report next month's renewal as a first payment. Stripe keeps the key it had before
    other providers existed (`first-payment:{sub}`): deployed records live 400 days.
    """
    return f"first-payment:{subscription_id}" if provider == "stripe" else f"first-payment:{provider}:{subscription_id}"


# -- funnel metadata (the same keys for every provider) -------------------------------------------------

def parse_contents(raw: Any) -> tuple[Content, ...] | None:
    """`zellify_contents`: a JSON list of content items; None when it does not parse (a fallback applies).

    Stripe metadata holds strings only; Paddle's custom data and Solidgate's metadata may hold the list itself.
    """
    if isinstance(raw, list):
        try:
            raw = json.dumps(raw)
        except (TypeError, ValueError):
            return None
    if not isinstance(raw, str):
        return None
    try:
        parsed = json.loads(raw, parse_float=Decimal)
    except (ValueError, RecursionError):
        return None
    if not isinstance(parsed, list) or not 1 <= len(parsed) <= MAX_CONTENTS:
        return None
    items = [_content_item(item) for item in parsed]
    return None if any(item is None for item in items) else tuple(item for item in items if item is not None)


def _content_item(item: Any) -> Content | None:
    """A beacon's content checks, plus what metadata adds: quantity 1 by default, at least 1."""
    if isinstance(item, dict) and isinstance(item.get("content_id"), Decimal):
        return None  # 1.5 is no product id
    try:
        content = content_item(item, "zellify_contents")
    except InvalidEvent:
        return None
    if content.quantity is None:
        content = replace(content, quantity=1)
    if content.quantity is not None and content.quantity < 1:
        return None
    return content if content.content_id is not None or content.content_name is not None else None


def funnel_ids(metadata: Mapping[str, Any], session_id_fallback: str | None = None) -> tuple[str, str] | str:
    """(campaign_id, session_id) from `zellify_campaign_id` / `zellify_session_id`, or the reason there are none."""
    campaign_id = metadata.get("zellify_campaign_id")
    session_id = metadata.get("zellify_session_id") or session_id_fallback
    if not campaign_id or not session_id:
        return "no_funnel_metadata"
    if not isinstance(campaign_id, str) or not is_campaign_id(campaign_id):
        return "invalid_funnel_metadata"
    if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
        return "invalid_funnel_metadata"
    return campaign_id, session_id


# -- the TikTok event ---------------------------------------------------------------------------

def conversion_user(conversion: Conversion, session: SessionRecord | None) -> UserData:
    """The session's match keys; without them, the hashed session id and the provider object's email/phone.

    Never the webhook request's own IP or agent: those are the provider's servers.
    """
    user = session.user if session else UserData()
    return replace(
        user,
        external_id=user.external_id or hash_external_id(conversion.session_id),
        email=user.email or conversion.email_hash,
        phone=user.phone or conversion.phone_hash,
    )


def conversion_contents(conversion: Conversion, session: SessionRecord | None) -> tuple[Content, ...]:
    """The provider decides the value; what was bought comes from metadata, else the funnel's checkout, else
    the provider's line items, else the payment itself (its id as content_id, identical on every route)."""
    if conversion.funnel_event != "payment_succeeded":
        return ()
    checkout = session.last_checkout if session else None
    return (conversion.contents or (checkout.contents if checkout else ()) or conversion.items
            or (Content(content_id=conversion.event_id, quantity=1, price=conversion.value),))


def conversion_event(conversion: Conversion, campaign: CampaignSettings, session: SessionRecord | None,
                     event_time: int | None = None) -> ServerEvent:
    return server_event(conversion.funnel_event, campaign.naming, event_id=conversion.event_id,
                        event_time=conversion.event_time if event_time is None else event_time,
                        user=conversion_user(conversion, session),
                        value=conversion.value, currency=conversion.currency,
                        contents=conversion_contents(conversion, session))
