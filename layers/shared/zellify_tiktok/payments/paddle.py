"""Paddle Billing's adapter (docs/design.md §4, §6.3): `Paddle-Signature` checked with Paddle's official SDK,
`transaction.*` and `subscription.*` notifications mapped to the core's `Conversion`.

Amounts are strings of minor units, read exactly. Paddle's payloads carry no live/test flag: an event is a test
one when a `test` secret (the sandbox destination's) verified it. Customer emails are not in these payloads
(only a customer id): the session's email hash is used.
"""

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..errors import BadRequest
from ..events import EVENT_TABLE
from ..observability import count
from ..repositories.secrets import ProviderSecrets
from ..server_event import Content
from .adapter import SIGNATURE_TOLERANCE_S
from .core import (
    Conversion,
    Ignored,
    InvalidAmount,
    Malformed,
    SubscriptionCheck,
    as_dict,
    as_list,
    currency_code,
    first_payment_record_key,
    funnel_ids,
    major_units,
    minor_amount,
    parse_contents,
    provider_id,
    required_id,
    text,
)

SIGNATURE_HEADER = "paddle-signature"
# Payment attempts Paddle reports as failed (its `payments[].status`).
_FAILED_ATTEMPTS = ("error", "canceled", "dropped")


@dataclass(frozen=True)
class _SignedRequest:
    """What the SDK's Verifier reads: `.headers` (by Paddle's spelling) and the raw `.body`."""

    headers: Mapping[str, str]
    body: bytes


def parse_signature_header(header: str) -> tuple[int, list[str]]:
    """`ts=…;h1=…[;h1=…]` → (ts, [h1, …]); ValueError when it is not that shape (the SDK would raise too)."""
    ts: int | None = None
    hashes: list[str] = []
    for part in header.split(";"):
        key, sep, value = part.partition("=")
        if not sep or "=" in value:
            raise ValueError("not key=value")
        if key == "ts" and value.isascii() and value.isdigit() and len(value) <= 12:
            ts = int(value)
        elif key == "h1" and value:
            hashes.append(value)
        else:
            raise ValueError(f"unexpected part {key!r}")
    if ts is None or not hashes:
        raise ValueError("ts or h1 missing")
    return ts, hashes


def sign(body: bytes | str, secret: str, timestamp: int | None = None) -> str:
    """A `Paddle-Signature` header for `body`, as Paddle makes it (the dev CLI and the tests sign with it)."""
    import hashlib
    import hmac

    raw = body.encode("utf-8") if isinstance(body, str) else body
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode("utf-8"), f"{ts}:".encode() + raw, hashlib.sha256).hexdigest()
    return f"ts={ts};h1={digest}"


class PaddleAdapter:
    name = "paddle"
    secret_name_field = "paddle_secret_name"

    def verify(self, body: bytes, headers: Mapping[str, str], secrets: ProviderSecrets, now: float) -> bool:
        header = headers.get(SIGNATURE_HEADER)
        if not header:
            raise BadRequest("the Paddle-Signature header is missing", code="missing_signature")
        invalid = (f"Paddle-Signature does not match the body for any configured secret key "
                   f"within {SIGNATURE_TOLERANCE_S} s")

        def refuse(message: str) -> BadRequest:
            count("PaddleSignatureFailures", 1)
            return BadRequest(invalid, code="invalid_signature", details=[{"message": message}])

        # The SDK parses with int() and split("="), decodes the body as UTF-8 and compares text with
        # hmac.compare_digest: what would make it raise can be no Paddle signature, so it is refused first.
        if not header.isascii():
            raise refuse("header is not ASCII")
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            raise refuse("body is not UTF-8") from None
        try:
            signed_at, _ = parse_signature_header(header)
        except ValueError:
            raise refuse("header is not ts=…;h1=…") from None
        # Both ways, here: the SDK refuses only stale signatures, and not at all when TEST_MODE is set.
        if abs(now - signed_at) > SIGNATURE_TOLERANCE_S:
            raise refuse(f"signed more than {SIGNATURE_TOLERANCE_S} s from now")
        # Imported here: the SDK loads its whole API client (~350 ms); the Stripe and Solidgate routes of
        # the same function never pay for it.
        from paddle_billing.Notifications import Secret, Verifier

        request = _SignedRequest(headers={"Paddle-Signature": header}, body=body)
        # The time was checked above, against the clock the core uses; the SDK's own check reads time().
        verifier = Verifier(maximum_variance=SIGNATURE_TOLERANCE_S)
        # The SDK logs every check at INFO (and the HMACs it compares at DEBUG): our own log line says what
        # happened; only its errors are worth a line.
        logging.getLogger("paddle_billing").setLevel(logging.ERROR)
        for test_mode, keys in ((False, secrets.live), (True, secrets.test)):
            if not keys:
                continue
            try:
                if verifier.verify(request, [Secret(key) for key in keys], verify_time_drift=False):
                    return test_mode
            except ConnectionRefusedError:  # the SDK's answer when none of several secrets matches
                continue
            except (ValueError, TypeError):
                break
        raise refuse("no configured secret key matches")

    def map(self, event: Any, headers: Mapping[str, str], test_mode: bool) -> Conversion | Ignored:
        if not isinstance(event, dict):
            return Ignored("malformed_event")
        kind = event.get("event_type")
        data = as_dict(event.get("data"))
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            return Ignored("unhandled_event_type")
        try:
            event_time = _epoch(event.get("occurred_at"))
            return handler(data, event_time, test_mode)
        except Malformed:
            return Ignored("malformed_event")
        except InvalidAmount:
            return Ignored("invalid_amount")

    def describe(self, event: Any, headers: Mapping[str, str]) -> dict[str, str]:
        event = as_dict(event)
        return {"provider_event_id": str(event.get("event_id"))[:64],
                "provider_event_type": str(event.get("event_type"))[:64]}


def _epoch(value: Any) -> int:
    """`occurred_at` (RFC 3339, microseconds, `Z`) → Unix seconds."""
    if not isinstance(value, str) or len(value) > 40:
        raise Malformed
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Malformed from None
    if moment.tzinfo is None:
        raise Malformed
    return int(moment.timestamp())


def _conversion(data: dict[str, Any], funnel_event: str, event_id: str, event_time: int, test_mode: bool, *,
                value: Decimal, currency: str | None, subscription_id: str | None = None,
                check: SubscriptionCheck = SubscriptionCheck.NONE,
                items: tuple[Content, ...] = ()) -> Conversion | Ignored:
    custom = as_dict(data.get("custom_data"))
    ids = funnel_ids(custom)
    if isinstance(ids, str):
        return Ignored(ids, event_id)
    campaign_id, session_id = ids
    return Conversion(
        funnel_event=funnel_event, event_id=event_id, event_time=event_time, campaign_id=campaign_id,
        session_id=session_id, account=None, value=value, currency=currency,
        contents=parse_contents(custom.get("zellify_contents")),
        email_hash=None, phone_hash=None,  # Paddle sends a customer id only; the session knows the email
        subscription_id=subscription_id,
        subscription_check=check if subscription_id else SubscriptionCheck.NONE,
        provider="paddle", test_mode=test_mode,
        first_payment_key=first_payment_record_key("paddle", subscription_id) if subscription_id else None,
        items=items,
    )


def _grand_total(data: dict[str, Any]) -> tuple[int, str]:
    totals = as_dict(as_dict(data.get("details")).get("totals"))
    amount = minor_amount(totals.get("grand_total"))
    return amount, currency_code(data.get("currency_code") or totals.get("currency_code"))


def _items(data: dict[str, Any], currency: str) -> tuple[Content, ...]:
    """The transaction's line items as contents: product id, price name (else description), quantity, unit price."""
    contents = []
    for item in as_list(data.get("items"))[:50]:
        price = as_dict(as_dict(item).get("price"))
        quantity = as_dict(item).get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 1_000_000:
            quantity = 1
        try:
            unit = major_units(minor_amount(as_dict(price.get("unit_price")).get("amount")), currency)
        except InvalidAmount:
            unit = None
        name = text(price.get("name")) or text(price.get("description"))
        product = provider_id(price.get("product_id"))
        if product or name:
            contents.append(Content(content_id=product, content_name=name[:200] if name else None,
                                    quantity=quantity, price=unit))
    return tuple(contents)


def _transaction_completed(data: dict[str, Any], event_time: int, test_mode: bool) -> Conversion | Ignored:
    txn = required_id(data.get("id"))
    amount, currency = _grand_total(data)
    if amount == 0:
        # A trial's checkout completes a 0 transaction: its first real payment comes later.
        return Ignored("zero_amount", txn)
    return _conversion(data, "payment_succeeded", txn, event_time, test_mode,
                       value=major_units(amount, currency), currency=currency,
                       subscription_id=provider_id(data.get("subscription_id")),
                       # Whatever its origin (web, subscription_recurring, …): the ledger tells the first.
                       check=SubscriptionCheck.FIRST_PAYMENT, items=_items(data, currency))


def _failed_attempt(data: dict[str, Any]) -> str | None:
    """The newest failed payment attempt's id (Paddle lists payments newest first)."""
    attempts = [as_dict(p) for p in as_list(data.get("payments"))]
    failed = [p for p in attempts if text(p.get("status")) in _FAILED_ATTEMPTS] or attempts
    return provider_id(failed[0].get("payment_attempt_id")) if failed else None


def _transaction_payment_failed(data: dict[str, Any], event_time: int, test_mode: bool) -> Conversion | Ignored:
    txn = required_id(data.get("id"))
    amount, currency = _grand_total(data)
    attempt = _failed_attempt(data)
    return _conversion(data, "payment_failed", f"{txn}:{attempt}" if attempt else txn, event_time, test_mode,
                       value=major_units(amount, currency), currency=currency,
                       subscription_id=provider_id(data.get("subscription_id")),
                       check=SubscriptionCheck.UNPAID_ONLY)


Handler = Callable[[dict[str, Any], int, bool], Conversion | Ignored]


def _subscription_event(funnel_event: str, status: str | None) -> Handler:
    def handle(data: dict[str, Any], event_time: int, test_mode: bool) -> Conversion | Ignored:
        sub = required_id(data.get("id"))
        if status is not None and data.get("status") != status:
            return Ignored("status_not_reported", sub)
        currency = currency_code(data["currency_code"]) if data.get("currency_code") else None
        return _conversion(data, funnel_event, sub, event_time, test_mode,
                           value=EVENT_TABLE[funnel_event].fixed_value or Decimal(0), currency=currency)
    return handle


def _subscription_created(data: dict[str, Any], event_time: int, test_mode: bool) -> Conversion | Ignored:
    status = data.get("status")
    if status == "trialing":
        return _subscription_event("trial_started", None)(data, event_time, test_mode)
    if status == "active":
        return _subscription_event("subscription_started", None)(data, event_time, test_mode)
    return Ignored("status_not_reported", provider_id(data.get("id")))


_HANDLERS: dict[str, Handler] = {
    "transaction.completed": _transaction_completed,
    "transaction.payment_failed": _transaction_payment_failed,
    "subscription.created": _subscription_created,
    "subscription.trialing": _subscription_event("trial_started", "trialing"),
    "subscription.activated": _subscription_event("subscription_started", "active"),
}
