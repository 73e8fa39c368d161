"""Stripe's adapter mapping: webhook events → the payment core's `Conversion` (docs/design.md §4, §6.3). Pure.

The `stripe` package is deliberately not imported here: this layer is shared with the collector,
which must not carry it. Events arrive already verified and JSON-decoded, as plain dicts, and any
shape is tolerated: what cannot be used becomes `Ignored(reason)`, never an exception. The rules every
provider shares (funnel ids, contents, amounts, the TikTok event) live in payments/core.py.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .events import EVENT_TABLE
from .payments.core import (
    MAX_AMOUNT_MINOR,
    THREE_DECIMAL_CURRENCIES,
    ZERO_DECIMAL_CURRENCIES,
    Conversion,
    Ignored,
    InvalidAmount,
    SubscriptionCheck,
    conversion_contents,
    conversion_event,
    conversion_user,
    currency_exponent,
    first_payment_record_key,
    funnel_ids,
    major_units,
    parse_contents,
)
from .payments.core import Malformed as _Malformed
from .payments.core import email_hash as _email_hash
from .payments.core import phone_hash as _phone_hash

__all__ = [
    "STRIPE_RULES", "THREE_DECIMAL_CURRENCIES", "ZERO_DECIMAL_CURRENCIES", "Conversion", "Ignored", "StripeRule",
    "SubscriptionCheck", "conversion_contents", "conversion_event", "conversion_user", "currency_exponent",
    "first_payment_key", "major_units", "map_event", "parse_contents",
]

_STRIPE_ID = re.compile(r"[A-Za-z0-9_]{1,255}")


def first_payment_key(subscription_id: str) -> str:
    """Ledger key recording that a Stripe subscription's first payment was reported (docs/design.md §4)."""
    return first_payment_record_key("stripe", subscription_id)


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
    if amount > MAX_AMOUNT_MINOR:
        raise InvalidAmount
    return amount


def _currency(obj: dict[str, Any]) -> str:
    currency = obj.get("currency")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        raise _Malformed
    return currency.upper()


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
    except InvalidAmount:
        return Ignored("invalid_amount")


def _apply_rules(rules: list[StripeRule], event: dict[str, Any], obj: dict[str, Any], previous: dict[str, Any],
                 created: int) -> Conversion | Ignored:
    reasons = [rule.when(obj, previous) for rule in rules]
    matching = [rule for rule, reason in zip(rules, reasons, strict=True) if reason is None]
    if not matching:
        return Ignored(reasons[0] or "not_reported")
    rule = matching[0]
    event_id = rule.event_id(obj)
    facts = rule.read(obj)
    ids = funnel_ids(facts.metadata, facts.session_id_fallback)
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
        provider="stripe",
        # Test mode is the event's own flag: a signed event says which mode produced it.
        test_mode=event.get("livemode") is False,
        first_payment_key=first_payment_key(facts.subscription_id) if facts.subscription_id else None,
    )
