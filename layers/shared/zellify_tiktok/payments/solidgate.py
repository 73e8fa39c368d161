"""Solidgate's adapter (docs/design.md §4, §6.3; docs/solidgate.md): the `merchant` + `signature` check
(HMAC-SHA512, ours: Solidgate's Python package is an API client without webhook verification), card and
alternative-payment order updates and subscription updates mapped to the core's `Conversion`.

What Solidgate's pages leave open is decided here and written down in docs/solidgate.md: the funnel ids are
read from `order_metadata` (top level, else inside `order` or `subscription`); a subscription's trial start
is a `callback_type` `init` whose subscription is in trial, its activation an `init` without trial; every
paid order of a subscription after its first is a renewal.
"""

import base64
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..errors import BadRequest
from ..events import EVENT_TABLE
from ..observability import count
from ..repositories.secrets import ProviderSecrets
from .core import (
    Conversion,
    Ignored,
    InvalidAmount,
    Malformed,
    SubscriptionCheck,
    as_dict,
    as_list,
    currency_code,
    email_hash,
    first_payment_record_key,
    funnel_ids,
    major_units,
    minor_amount,
    parse_contents,
    provider_id,
    required_id,
    text,
)

PAID_ORDER_STATUSES = frozenset({"approved", "settle_ok"})
FAILED_ORDER_STATUSES = frozenset({"declined", "auth_failed"})
_FAILED_TRANSACTIONS = frozenset({"fail", "failed", "declined", "auth_failed"})
TRIAL_STATUSES = frozenset({"trial", "trialing", "in_trial"})


def signature(public_key: str, secret_key: str, body: bytes) -> str:
    """base64 of the lower-case hex HMAC-SHA512 of public key + raw body + public key, keyed by the secret key."""
    message = public_key.encode("utf-8") + body + public_key.encode("utf-8")
    digest = hmac.new(secret_key.encode("utf-8"), message, hashlib.sha512).hexdigest()
    return base64.b64encode(digest.encode("ascii")).decode("ascii")


def key_pairs(entries: Iterable[str]) -> dict[str, str]:
    """`wh_pk_…:wh_sk_…` entries → {public key: secret key}."""
    pairs = {}
    for entry in entries:
        public, sep, secret = entry.partition(":")
        if sep and public.strip() and secret.strip():
            pairs[public.strip()] = secret.strip()
    return pairs


class SolidgateAdapter:
    name = "solidgate"
    secret_name_field = "solidgate_secret_name"

    def verify(self, body: bytes, headers: Mapping[str, str], secrets: ProviderSecrets, now: float) -> bool:
        merchant, signed = headers.get("merchant"), headers.get("signature")
        if not merchant or not signed:
            raise BadRequest("the merchant and signature headers are required", code="missing_signature")
        invalid = "signature does not match the body for the webhook key named by the merchant header"
        # The secret is chosen by the merchant header: an unknown public key is refused like a wrong signature.
        for test_mode, entries in ((False, secrets.live), (True, secrets.test)):
            secret = key_pairs(entries).get(merchant)
            if secret is None:
                continue
            expected = signature(merchant, secret, body)
            if signed.isascii() and hmac.compare_digest(expected, signed.strip()):
                return test_mode
            break
        count("SolidgateSignatureFailures", 1)
        raise BadRequest(invalid, code="invalid_signature")

    def map(self, event: Any, headers: Mapping[str, str], test_mode: bool) -> Conversion | Ignored:
        if not isinstance(event, dict):
            return Ignored("malformed_event")
        try:
            event_time = _epoch(headers.get("solidgate-event-created-at"))
            # Told apart by the signed body, not by the (unsigned) solidgate-event-type header.
            if "callback_type" in event or ("subscription" in event and "order" not in event):
                return _subscription(event, event_time, test_mode)
            if isinstance(event.get("order"), dict):
                return _order(event, event_time, test_mode)
            return Ignored("unhandled_event_type")
        except Malformed:
            return Ignored("malformed_event")
        except InvalidAmount:
            return Ignored("invalid_amount")

    def describe(self, event: Any, headers: Mapping[str, str]) -> dict[str, str]:
        return {"provider_event_id": str(headers.get("solidgate-event-id"))[:64],
                "provider_event_type": str(headers.get("solidgate-event-type"))[:64]}


def _epoch(value: str | None) -> int:
    """`solidgate-event-created-at` (ISO 8601 with milliseconds) → Unix seconds; the server's time without one."""
    if not value:
        return int(time.time())
    if len(value) > 40:
        raise Malformed
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Malformed from None
    if moment.tzinfo is None:
        raise Malformed
    return int(moment.timestamp())


def _metadata(event: dict[str, Any], inner: dict[str, Any]) -> dict[str, Any]:
    return (as_dict(event.get("order_metadata")) or as_dict(inner.get("order_metadata"))
            or as_dict(event.get("metadata")) or as_dict(inner.get("metadata")))


def _conversion(event: dict[str, Any], inner: dict[str, Any], funnel_event: str, event_id: str, event_time: int,
                test_mode: bool, *, value: Decimal, currency: str | None, email: str | None,
                subscription_id: str | None = None,
                check: SubscriptionCheck = SubscriptionCheck.NONE) -> Conversion | Ignored:
    metadata = _metadata(event, inner)
    ids = funnel_ids(metadata)
    if isinstance(ids, str):
        return Ignored(ids, event_id)
    campaign_id, session_id = ids
    return Conversion(
        funnel_event=funnel_event, event_id=event_id, event_time=event_time, campaign_id=campaign_id,
        session_id=session_id, account=None, value=value, currency=currency,
        contents=parse_contents(metadata.get("zellify_contents")),
        email_hash=email, phone_hash=None,
        subscription_id=subscription_id,
        subscription_check=check if subscription_id else SubscriptionCheck.NONE,
        provider="solidgate", test_mode=test_mode,
        first_payment_key=first_payment_record_key("solidgate", subscription_id) if subscription_id else None,
    )


def _failed_transaction(event: dict[str, Any]) -> str | None:
    """The id of the declined transaction: `transactions` is an object keyed by id (or a list)."""
    raw = event.get("transactions")
    found: list[tuple[str | None, dict[str, Any]]] = (
        [(key, as_dict(value)) for key, value in raw.items()] if isinstance(raw, dict)
        else [(None, as_dict(value)) for value in as_list(raw)])
    failed = [pair for pair in found if text(pair[1].get("status")) in _FAILED_TRANSACTIONS] or found
    if not failed:
        return None
    key, transaction = failed[-1]
    return provider_id(transaction.get("id")) or provider_id(key)


def _order(event: dict[str, Any], event_time: int, test_mode: bool) -> Conversion | Ignored:
    order = as_dict(event.get("order"))
    order_id = required_id(order.get("order_id"))
    status = text(order.get("status"))
    paid, failed = status in PAID_ORDER_STATUSES, status in FAILED_ORDER_STATUSES
    if not paid and not failed:
        return Ignored("status_not_reported", order_id)
    amount = minor_amount(order.get("amount"))
    currency = currency_code(order.get("currency"))
    subscription_id = provider_id(order.get("subscription_id"))
    email = email_hash(order.get("customer_email"))
    if paid:
        if amount == 0:
            return Ignored("zero_amount", order_id)
        # approved and then settle_ok come for one order: one event_id, so the ledger answers the second.
        return _conversion(event, order, "payment_succeeded", order_id, event_time, test_mode,
                           value=major_units(amount, currency), currency=currency, email=email,
                           subscription_id=subscription_id, check=SubscriptionCheck.FIRST_PAYMENT)
    transaction = _failed_transaction(event)
    return _conversion(event, order, "payment_failed", f"{order_id}:{transaction}" if transaction else order_id,
                       event_time, test_mode, value=major_units(amount, currency), currency=currency, email=email,
                       subscription_id=subscription_id, check=SubscriptionCheck.UNPAID_ONLY)


def _subscription(event: dict[str, Any], event_time: int, test_mode: bool) -> Conversion | Ignored:
    subscription = as_dict(event.get("subscription"))
    sub = required_id(subscription.get("id"))
    if event.get("callback_type") != "init":
        # renew, update, cancel, …: a renewal's payment is its order; nothing else is a funnel moment.
        return Ignored("status_not_reported", sub)
    trial = subscription.get("trial") is True or text(subscription.get("status")) in TRIAL_STATUSES
    funnel_event = "trial_started" if trial else "subscription_started"
    product = as_dict(event.get("product"))
    currency_text = text(product.get("currency")) or text(subscription.get("currency"))
    customer = as_dict(event.get("customer"))
    return _conversion(event, subscription, funnel_event, sub, event_time, test_mode,
                       value=EVENT_TABLE[funnel_event].fixed_value or Decimal(0),
                       currency=currency_code(currency_text) if currency_text else None,
                       email=email_hash(customer.get("customer_email")))
