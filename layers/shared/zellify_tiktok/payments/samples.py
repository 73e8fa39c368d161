"""Realistic, signed payment webhooks of every provider, for the local stack (docs/design.md §8).

`zellify-tiktok dev webhook`, the demo funnel's pay buttons and the tests build their events here, so a
newcomer sees a payment reach the Test Events page without any provider account. Shapes follow the
providers' published payloads (Stripe's API objects, the Paddle SDK's notification fixtures, Solidgate's
API reference); only the fields the adapters read, and a few around them, are filled.
"""

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from .core import currency_exponent
from .paddle import sign as paddle_sign
from .solidgate import signature as solidgate_signature

Provider = Literal["stripe", "paddle", "solidgate"]
Kind = Literal["payment", "failed", "trial", "subscribe", "renewal"]
PROVIDERS: tuple[str, ...] = ("stripe", "paddle", "solidgate")
KINDS: tuple[str, ...] = ("payment", "failed", "trial", "subscribe", "renewal")
FUNNEL_EVENT = {"payment": "payment_succeeded", "failed": "payment_failed", "trial": "trial_started",
                "subscribe": "subscription_started", "renewal": "payment_succeeded"}


@dataclass(frozen=True)
class Secrets:
    """The signing secrets to use: Stripe's, Paddle's live and test, Solidgate's live and test pairs."""

    stripe: str = "whsec_dev"
    paddle_live: str = "pdl_dev_live"
    paddle_test: str = "pdl_dev_test"
    solidgate_live: tuple[str, str] = ("wh_pk_dev_live", "wh_sk_dev_live")
    solidgate_test: tuple[str, str] = ("wh_pk_dev_test", "wh_sk_dev_test")


@dataclass(frozen=True)
class SignedWebhook:
    provider: str
    kind: str
    path: str
    body: bytes
    headers: dict[str, str]
    # The TikTok event_id it maps to: what the funnel page hands to tracker.js for the Pixel's copy.
    event_id: str
    funnel_event: str


def minor_units(value: Decimal, currency: str) -> int:
    return int((value * (Decimal(10) ** currency_exponent(currency))).to_integral_value())


def subscription_suffix(session_id: str) -> str:
    """One subscription per funnel session, so trial, subscribe and renewal of a session belong together."""
    return hashlib.sha256(session_id.encode()).hexdigest()[:24]


def _unique() -> str:
    return uuid.uuid4().hex[:24]


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build(provider: str, kind: str, *, campaign_id: str, session_id: str, value: Decimal = Decimal("9.99"),
          currency: str = "USD", test_mode: bool = False, secrets: Secrets = Secrets(),
          now: float | None = None, contents: list[dict[str, Any]] | None = None) -> SignedWebhook:
    """A webhook of `provider` reporting `kind` for the funnel session, signed with the local secrets.

    `contents` travels as `zellify_contents` in the provider's metadata, as a funnel's checkout would put it.
    """
    if provider not in PROVIDERS or kind not in KINDS:
        raise ValueError(f"provider must be one of {PROVIDERS}, kind one of {KINDS}")
    moment = time.time() if now is None else now
    metadata = {"zellify_campaign_id": campaign_id, "zellify_session_id": session_id}
    if contents:
        metadata["zellify_contents"] = json.dumps(contents, separators=(",", ":"))
    amount = minor_units(value, currency.upper())
    builder = {"stripe": _stripe, "paddle": _paddle, "solidgate": _solidgate}[provider]
    payload, event_id = builder(kind, metadata, amount, currency.upper(), test_mode, moment, session_id)
    body = json.dumps(payload, indent=2).encode()
    headers = {"content-type": "application/json"}
    if provider == "stripe":
        headers["stripe-signature"] = stripe_signature(body, secrets.stripe, int(moment))
    elif provider == "paddle":
        headers["paddle-signature"] = paddle_sign(body, secrets.paddle_test if test_mode else secrets.paddle_live,
                                                  int(moment))
    else:
        public, secret = secrets.solidgate_test if test_mode else secrets.solidgate_live
        headers.update({"merchant": public, "signature": solidgate_signature(public, secret, body),
                        "solidgate-event-id": str(uuid.uuid4()),
                        "solidgate-event-type": "subscription.updated.v2" if kind in ("trial", "subscribe")
                        else "card_gate.order.updated",
                        "solidgate-event-created-at": _iso(moment)[:23] + "Z"})
    return SignedWebhook(provider, kind, f"/v1/webhooks/{provider}", body, headers, event_id, FUNNEL_EVENT[kind])


def stripe_signature(body: bytes, secret: str, timestamp: int) -> str:
    """`Stripe-Signature` as Stripe makes it: HMAC-SHA256 over "{t}.{body}" (verified by the stripe library)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _stripe(kind: str, metadata: dict[str, str], amount: int, currency: str, test_mode: bool, moment: float,
            session_id: str) -> tuple[dict[str, Any], str]:
    sub = f"sub_dev{subscription_suffix(session_id)}"
    event: dict[str, Any] = {"id": f"evt_dev{_unique()}", "object": "event", "api_version": "2026-10-28.endive",
                             "created": int(moment), "livemode": not test_mode, "pending_webhooks": 1}
    if kind in ("payment", "failed"):
        pi = f"pi_dev{_unique()}"
        charge = f"ch_dev{_unique()}"
        obj = {"id": pi, "object": "payment_intent", "amount": amount, "amount_received": amount if kind == "payment"
               else 0, "currency": currency.lower(), "latest_charge": charge, "metadata": metadata,
               "status": "succeeded" if kind == "payment" else "requires_payment_method", "livemode": not test_mode}
        if kind == "failed":
            obj["last_payment_error"] = {"charge": charge, "code": "card_declined", "decline_code": "generic_decline"}
        event.update(type=f"payment_intent.{'succeeded' if kind == 'payment' else 'payment_failed'}",
                     data={"object": obj})
        return event, pi if kind == "payment" else f"{pi}:{charge}"
    if kind == "renewal":
        invoice = f"in_dev{_unique()}"
        obj = {"id": invoice, "object": "invoice", "amount_paid": amount, "amount_due": amount,
               "currency": currency.lower(), "billing_reason": "subscription_cycle", "status": "paid",
               "parent": {"type": "subscription_details",
                          "subscription_details": {"subscription": sub, "metadata": metadata}}}
        event.update(type="invoice.paid", data={"object": obj})
        return event, invoice
    status = "trialing" if kind == "trial" else "active"
    obj = {"id": sub, "object": "subscription", "status": status, "currency": currency.lower(),
           "metadata": metadata, "items": {"object": "list", "data": []}}
    event.update(type="customer.subscription.created", data={"object": obj})
    return event, sub


def _paddle(kind: str, metadata: dict[str, str], amount: int, currency: str, test_mode: bool, moment: float,
            session_id: str) -> tuple[dict[str, Any], str]:
    sub = f"sub_01dev{subscription_suffix(session_id)}"
    when = _iso(moment)
    envelope: dict[str, Any] = {"event_id": f"evt_01dev{_unique()}", "occurred_at": when,
                                "notification_id": f"ntf_01dev{_unique()}"}
    if kind in ("trial", "subscribe"):
        status = "trialing" if kind == "trial" else "active"
        data: dict[str, Any] = {"id": sub, "status": status, "currency_code": currency, "custom_data": metadata,
                "customer_id": "ctm_01devcustomer", "transaction_id": f"txn_01dev{_unique()}",
                "collection_mode": "automatic", "created_at": when, "started_at": when, "items": []}
        envelope.update(event_type="subscription.created" if kind == "trial" else "subscription.activated", data=data)
        return envelope, sub
    txn = f"txn_01dev{_unique()}"
    attempt = str(uuid.uuid4())
    payment: dict[str, Any] = {"amount": str(amount), "status": "captured" if kind != "failed" else "error",
               "payment_attempt_id": attempt, "error_code": "declined" if kind == "failed" else None,
               "created_at": when}
    data = {"id": txn, "status": "completed" if kind != "failed" else "ready",
            "origin": "subscription_recurring" if kind == "renewal" else "web",
            "subscription_id": sub if kind == "renewal" else None, "customer_id": "ctm_01devcustomer",
            "currency_code": currency, "custom_data": metadata, "collection_mode": "automatic",
            "items": [{"price": {"id": "pri_01devplan", "product_id": "pro_01devplan", "name": "Pro plan",
                                 "description": "Monthly", "unit_price": {"amount": str(amount),
                                                                           "currency_code": currency}},
                       "quantity": 1}],
            "details": {"totals": {"subtotal": str(amount), "tax": "0", "discount": "0", "total": str(amount),
                                   "grand_total": str(amount), "currency_code": currency}},
            "payments": [payment], "created_at": when, "billed_at": when}
    envelope.update(event_type="transaction.payment_failed" if kind == "failed" else "transaction.completed",
                    data=data)
    return envelope, f"{txn}:{attempt}" if kind == "failed" else txn


def _solidgate(kind: str, metadata: dict[str, str], amount: int, currency: str, test_mode: bool, moment: float,
               session_id: str) -> tuple[dict[str, Any], str]:
    sub = f"dev-{subscription_suffix(session_id)}"
    if kind in ("trial", "subscribe"):
        body: dict[str, Any] = {"callback_type": "init",
                "subscription": {"id": sub, "status": "active", "trial": kind == "trial",
                                 "started_at": _iso(moment)[:19].replace("T", " ")},
                "product": {"name": "Pro plan", "amount": amount, "currency": currency, "trial": kind == "trial"},
                "customer": {"customer_account_id": session_id}, "order_metadata": metadata}
        return body, sub
    order_id = f"dev-order-{_unique()}"
    transaction = f"dev-txn-{_unique()}"
    order: dict[str, Any] = {"order_id": order_id, "amount": amount, "currency": currency,
             "status": "declined" if kind == "failed" else "approved", "order_description": "Pro plan",
             "subscription_id": sub if kind == "renewal" else None, "processing_amount": amount,
             "processing_currency": currency}
    transactions = {transaction: {"id": transaction, "operation": "pay",
                                  "status": "fail" if kind == "failed" else "success",
                                  "amount": amount, "currency": currency}}
    body = {"order": order, "transactions": transactions, "order_metadata": metadata}
    return body, f"{order_id}:{transaction}" if kind == "failed" else order_id
