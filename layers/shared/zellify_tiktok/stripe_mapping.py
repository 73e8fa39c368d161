"""Stripe webhook events → the TikTok conversion they stand for (docs/design.md §4, §6.3). Pure, no I/O.

The `stripe` package is deliberately not imported here: this layer is shared with the collector,
which must not carry it. Events arrive already verified and JSON-decoded, as plain dicts, and any
shape is tolerated: what cannot be used becomes `Ignored(reason)`, never an exception.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from .beacon import MAX_CONTENTS, SESSION_ID, InvalidEvent, content_item
from .campaign import Campaign, is_campaign_id
from .events import EVENT_TABLE
from .hashing import encodable, hash_email, hash_external_id, hash_phone, is_valid_email
from .repositories.sessions import SessionRecord
from .server_event import Content, ServerEvent, UserData, server_event

# Stripe's currency classes (docs/stripe.md). ISK, HUF, TWD and UGX have payment-method
# specific rules at Stripe, but their API amounts follow these classes.
ZERO_DECIMAL_CURRENCIES = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())
THREE_DECIMAL_CURRENCIES = frozenset("BHD JOD KWD OMR TND".split())
_STRIPE_ID = re.compile(r"[A-Za-z0-9_]{1,255}")


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
    """How an event relates to its subscription's `first-payment:{subscription_id}` ledger record."""

    NONE = "none"
    # CompletePayment: the first paid invoice is reported (and recorded); later ones are renewals.
    FIRST_PAYMENT = "first_payment"
    # PaymentFailed: reported only while the subscription has never been paid.
    UNPAID_ONLY = "unpaid_only"


def first_payment_key(subscription_id: str) -> str:
    """Ledger key recording that a subscription's first payment was reported (docs/design.md §4).

    Not scoped to a pixel: "paid once" is a fact about the subscription, so a campaign that changes
    its pixel does not report next month's renewal as a first payment.
    """
    return f"first-payment:{subscription_id}"


@dataclass(frozen=True)
class Conversion:
    """What one Stripe event reports, before the campaign and the session are looked up."""

    funnel_event: str
    event_id: str
    event_time: int
    campaign_id: str
    session_id: str
    account: str | None
    value: Decimal
    currency: str | None
    contents: tuple[Content, ...] | None  # from zellify_contents, when it parses
    # The Stripe object's email and phone, hashed at once: the raw values go no further.
    email_hash: str | None
    phone_hash: str | None
    subscription_id: str | None
    subscription_check: SubscriptionCheck


@dataclass(frozen=True)
class Ignored:
    reason: str
    event_id: str | None = None


class _Malformed(Exception):
    """The event does not have the shape its type promises."""


# -- reading Stripe objects defensively ---------------------------------------------------------

def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _id(value: Any) -> str | None:
    """An id field: a plain id, or the object when the sender expanded it; None unless Stripe-shaped.

    Checked because ids become event_ids and ledger keys (DynamoDB refuses keys over 2 KB).
    """
    found = _text(value) or _text(_dict(value).get("id"))
    return found if found and _STRIPE_ID.fullmatch(found) else None


def _required_id(value: Any) -> str:
    found = _id(value)
    if found is None:
        raise _Malformed
    return found


def _amount(obj: dict[str, Any], field: str) -> int:
    amount = obj.get(field)
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise _Malformed
    return amount


def _currency(obj: dict[str, Any]) -> str:
    currency = obj.get("currency")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        raise _Malformed
    return currency.upper()


def _email_hash(*candidates: Any) -> str | None:
    for candidate in candidates:
        if isinstance(candidate, str) and is_valid_email(candidate):
            return hash_email(candidate)
    return None


def _phone_hash(candidate: Any) -> str | None:
    if isinstance(candidate, str) and len(candidate) <= 64 and encodable(candidate):
        return hash_phone(candidate)
    return None


@dataclass(frozen=True)
class _Facts:
    """What every object kind must tell: where the funnel ids are, an email, its subscription."""

    metadata: dict[str, Any]
    session_id_fallback: str | None
    email_hash: str | None
    subscription_id: str | None
    phone_hash: str | None = None


def _payment_intent(obj: dict[str, Any]) -> _Facts:
    return _Facts(_dict(obj.get("metadata")), None, _email_hash(obj.get("receipt_email")), None)


def _invoice(obj: dict[str, Any]) -> _Facts:
    # Current API versions: parent.subscription_details; older ones: subscription / subscription_details.
    current = _dict(_dict(obj.get("parent")).get("subscription_details"))
    legacy = _dict(obj.get("subscription_details"))
    return _Facts(
        metadata=_dict(current.get("metadata")) or _dict(legacy.get("metadata")),
        session_id_fallback=None,
        email_hash=_email_hash(obj.get("customer_email")),
        subscription_id=_id(current.get("subscription")) or _id(obj.get("subscription")),
    )


def _checkout_session(obj: dict[str, Any]) -> _Facts:
    # A Checkout Session pays either a PaymentIntent or a subscription's first invoice.
    subscription = _id(obj.get("subscription")) if obj.get("mode") == "subscription" else None
    details = _dict(obj.get("customer_details"))
    return _Facts(
        metadata=_dict(obj.get("metadata")),
        session_id_fallback=_text(obj.get("client_reference_id")),
        email_hash=_email_hash(details.get("email"), obj.get("customer_email")),
        subscription_id=subscription,
        phone_hash=_phone_hash(details.get("phone")),
    )


def _subscription(obj: dict[str, Any]) -> _Facts:
    return _Facts(_dict(obj.get("metadata")), None, None, _id(obj.get("id")))


# -- event ids (docs/design.md §4) ----------------------------------------------------------------------

def _object_id(obj: dict[str, Any]) -> str:
    return _required_id(obj.get("id"))


def _payment_intent_failure_id(obj: dict[str, Any]) -> str:
    """`{payment_intent_id}:{charge_id}`: each failed attempt is its own PaymentFailed."""
    charge = _id(obj.get("latest_charge")) or _id(_dict(obj.get("last_payment_error")).get("charge"))
    return f"{_object_id(obj)}:{charge}" if charge else _object_id(obj)


def _invoice_failure_id(obj: dict[str, Any]) -> str:
    attempt = obj.get("attempt_count")
    if isinstance(attempt, bool) or not isinstance(attempt, int):
        raise _Malformed
    return f"{_object_id(obj)}:{attempt}"


def _checkout_paid_object_id(obj: dict[str, Any]) -> str:
    """The id of what the session paid, so it dedups with the PaymentIntent or invoice route."""
    if obj.get("mode") == "subscription":
        return _required_id(obj.get("invoice"))
    return _required_id(obj.get("payment_intent"))


# -- conditions: None when the event is reported, else why not ----------------------------------

Condition = Callable[[dict[str, Any], dict[str, Any]], str | None]


def _always(obj: dict[str, Any], previous: dict[str, Any]) -> str | None:
    return None


def _not_an_invoice_payment(obj: dict[str, Any], previous: dict[str, Any]) -> str | None:
    # Older API versions link an invoice's PaymentIntent to it; the invoice route reports that payment.
    return "invoice_payment" if obj.get("invoice") else None


def _positive(field: str) -> Condition:
    def condition(obj: dict[str, Any], previous: dict[str, Any]) -> str | None:
        return None if _amount(obj, field) > 0 else "zero_amount"
    return condition


def _paid_checkout(obj: dict[str, Any], previous: dict[str, Any]) -> str | None:
    if obj.get("payment_status") != "paid":
        return "not_paid"  # an async payment method: async_payment_succeeded reports it later
    # A trial started through Checkout completes as "paid" with nothing charged.
    return None if _amount(obj, "amount_total") > 0 else "zero_amount"


def _status_is(status: str) -> Condition:
    def condition(obj: dict[str, Any], previous: dict[str, Any]) -> str | None:
        return None if obj.get("status") == status else "status_not_reported"
    return condition


def _became_active(obj: dict[str, Any], previous: dict[str, Any]) -> str | None:
    became = obj.get("status") == "active" and previous.get("status") in ("trialing", "incomplete")
    return None if became else "status_not_reported"


@dataclass(frozen=True)
class StripeRule:
    stripe_type: str
    funnel_event: str
    read: Callable[[dict[str, Any]], _Facts]
    event_id: Callable[[dict[str, Any]], str]
    amount: str | None = None  # the field carrying the value; None: the funnel event's fixed value
    when: Condition = _always
    subscription: SubscriptionCheck = SubscriptionCheck.NONE


_FIRST = SubscriptionCheck.FIRST_PAYMENT

# docs/design.md §6.3. For one Stripe type, the first rule whose condition holds wins.
STRIPE_RULES: tuple[StripeRule, ...] = (
    StripeRule("payment_intent.succeeded", "payment_succeeded", _payment_intent, _object_id,
               amount="amount_received", when=_not_an_invoice_payment),
    StripeRule("payment_intent.payment_failed", "payment_failed", _payment_intent, _payment_intent_failure_id,
               amount="amount", when=_not_an_invoice_payment),
    StripeRule("invoice.paid", "payment_succeeded", _invoice, _object_id,
               amount="amount_paid", when=_positive("amount_paid"), subscription=_FIRST),
    StripeRule("invoice.payment_failed", "payment_failed", _invoice, _invoice_failure_id,
               amount="amount_due", subscription=SubscriptionCheck.UNPAID_ONLY),
    StripeRule("checkout.session.completed", "payment_succeeded", _checkout_session, _checkout_paid_object_id,
               amount="amount_total", when=_paid_checkout, subscription=_FIRST),
    StripeRule("checkout.session.async_payment_succeeded", "payment_succeeded", _checkout_session,
               _checkout_paid_object_id, amount="amount_total", when=_paid_checkout, subscription=_FIRST),
    StripeRule("customer.subscription.created", "trial_started", _subscription, _object_id,
               when=_status_is("trialing")),
    StripeRule("customer.subscription.created", "subscription_started", _subscription, _object_id,
               when=_status_is("active")),
    StripeRule("customer.subscription.updated", "subscription_started", _subscription, _object_id,
               when=_became_active),
)


# -- funnel metadata ----------------------------------------------------------------------------

def parse_contents(raw: Any) -> tuple[Content, ...] | None:
    """`zellify_contents`: a JSON list of content items; None when it does not parse (a fallback applies)."""
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


def _funnel_ids(facts: _Facts) -> tuple[str, str] | str:
    """(campaign_id, session_id), or the reason there are none."""
    campaign_id = facts.metadata.get("zellify_campaign_id")
    session_id = facts.metadata.get("zellify_session_id") or facts.session_id_fallback
    if not campaign_id or not session_id:
        return "no_funnel_metadata"
    if not isinstance(campaign_id, str) or not is_campaign_id(campaign_id):
        return "invalid_funnel_metadata"
    if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
        return "invalid_funnel_metadata"
    return campaign_id, session_id


# -- the mapping --------------------------------------------------------------------------------

def map_event(event: Any) -> Conversion | Ignored:
    """The conversion a (verified) Stripe event reports, or why it reports none."""
    if not isinstance(event, dict):
        return Ignored("malformed_event")
    rules = [rule for rule in STRIPE_RULES if rule.stripe_type == event.get("type")]
    if not rules:
        return Ignored("unhandled_event_type")
    obj = _dict(_dict(event.get("data")).get("object"))
    created = event.get("created")
    if not obj or isinstance(created, bool) or not isinstance(created, int):
        return Ignored("malformed_event")
    previous = _dict(_dict(event.get("data")).get("previous_attributes"))
    try:
        return _apply_rules(rules, event, obj, previous, created)
    except _Malformed:
        return Ignored("malformed_event")


def _apply_rules(rules: list[StripeRule], event: dict[str, Any], obj: dict[str, Any], previous: dict[str, Any],
                 created: int) -> Conversion | Ignored:
    reasons = [rule.when(obj, previous) for rule in rules]
    matching = [rule for rule, reason in zip(rules, reasons, strict=True) if reason is None]
    if not matching:
        return Ignored(reasons[0] or "not_reported")
    rule = matching[0]
    event_id = rule.event_id(obj)
    facts = rule.read(obj)
    ids = _funnel_ids(facts)
    if isinstance(ids, str):
        return Ignored(ids, event_id)
    campaign_id, session_id = ids
    if rule.amount is None:
        # StartTrial, Subscribe: their fixed value 0 (a unit test holds this).
        value = EVENT_TABLE[rule.funnel_event].fixed_value or Decimal(0)
        currency = _currency(obj) if obj.get("currency") else None
    else:
        currency = _currency(obj)
        value = major_units(_amount(obj, rule.amount), currency)
    return Conversion(
        funnel_event=rule.funnel_event,
        event_id=event_id,
        event_time=created,
        campaign_id=campaign_id,
        session_id=session_id,
        account=_text(event.get("account")),
        value=value,
        currency=currency,
        contents=parse_contents(facts.metadata.get("zellify_contents")),
        email_hash=facts.email_hash,
        phone_hash=facts.phone_hash,
        subscription_id=facts.subscription_id,
        subscription_check=rule.subscription if facts.subscription_id else SubscriptionCheck.NONE,
    )


# -- the TikTok event ---------------------------------------------------------------------------

def conversion_user(conversion: Conversion, session: SessionRecord | None) -> UserData:
    """The session's match keys; without them, the hashed session id and the Stripe object's email/phone.

    Never the webhook request's own IP or agent: those are Stripe's servers.
    """
    user = session.user if session else UserData()
    return replace(
        user,
        external_id=user.external_id or hash_external_id(conversion.session_id),
        email=user.email or conversion.email_hash,
        phone=user.phone or conversion.phone_hash,
    )


def conversion_contents(conversion: Conversion, session: SessionRecord | None) -> tuple[Content, ...]:
    """Stripe decides the value; what was bought comes from metadata, else the funnel's checkout, else the
    payment itself (its id as content_id, identical on the checkout and direct routes)."""
    if conversion.funnel_event != "payment_succeeded":
        return ()
    checkout = session.last_checkout if session else None
    return (conversion.contents or (checkout.contents if checkout else ())
            or (Content(content_id=conversion.event_id, quantity=1, price=conversion.value),))


def conversion_event(conversion: Conversion, campaign: Campaign, session: SessionRecord | None) -> ServerEvent:
    return server_event(conversion.funnel_event, campaign.naming, event_id=conversion.event_id,
                        event_time=conversion.event_time, user=conversion_user(conversion, session),
                        value=conversion.value, currency=conversion.currency,
                        contents=conversion_contents(conversion, session))
