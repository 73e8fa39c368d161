"""Solidgate's adapter (docs/design.md §6.3, docs/solidgate.md): the merchant/signature check and the mapping
of order and subscription updates to the payment core's values. Pure, no AWS."""

import base64
import hashlib
import hmac
import json
from decimal import Decimal

import pytest
from zellify_tiktok.errors import BadRequest
from zellify_tiktok.hashing import hash_email
from zellify_tiktok.payments.core import Conversion, Ignored, SubscriptionCheck
from zellify_tiktok.payments.solidgate import SolidgateAdapter, signature
from zellify_tiktok.repositories.secrets import ProviderSecrets

from tests.payment_webhooks import (
    FUNNEL,
    SESSION,
    SOLIDGATE_LIVE,
    SOLIDGATE_TEST,
    solidgate_order,
    solidgate_subscription,
)

ADAPTER = SolidgateAdapter()
SECRETS = ProviderSecrets(live=(":".join(SOLIDGATE_LIVE),), test=(":".join(SOLIDGATE_TEST),))
HEADERS = {"solidgate-event-created-at": "2026-12-06T10:00:05.123Z"}


def mapped(body: dict, headers=HEADERS) -> Conversion | Ignored:
    return ADAPTER.map(json.loads(json.dumps(body)), headers, False)


def verify(body: bytes, merchant: str | None, sig: str | None) -> bool:
    headers = {k: v for k, v in (("merchant", merchant), ("signature", sig)) if v is not None}
    return ADAPTER.verify(body, headers, SECRETS, 0)


def test_the_signature_is_base64_of_the_hex_hmac_sha512_of_key_body_key():
    # Solidgate's reference, written out independently of the adapter.
    public, secret = SOLIDGATE_LIVE
    body = b'{"order": {}}'
    expected = base64.b64encode(hmac.new(secret.encode(), public.encode() + body + public.encode(),
                                         hashlib.sha512).hexdigest().encode()).decode()
    assert signature(public, secret, body) == expected


def test_live_and_test_pairs_are_told_apart_by_the_merchant_header():
    body = json.dumps(solidgate_order()).encode()
    assert verify(body, SOLIDGATE_LIVE[0], signature(*SOLIDGATE_LIVE, body)) is False
    assert verify(body, SOLIDGATE_TEST[0], signature(*SOLIDGATE_TEST, body)) is True


@pytest.mark.parametrize("case", ["unknown key", "wrong secret", "other body", "live key, test signature",
                                  "missing merchant", "missing signature", "not ascii", "truncated"])
def test_bad_signatures_are_refused(case):
    body = json.dumps(solidgate_order()).encode()
    public = SOLIDGATE_LIVE[0]
    good = signature(*SOLIDGATE_LIVE, body)
    merchant, sig = {
        "unknown key": ("wh_pk_unknown", signature("wh_pk_unknown", SOLIDGATE_LIVE[1], body)),
        "wrong secret": (public, signature(public, "wh_sk_other", body)),
        "other body": (public, signature(*SOLIDGATE_LIVE, body + b" ")),
        "live key, test signature": (public, signature(SOLIDGATE_LIVE[0], SOLIDGATE_TEST[1], body)),
        "missing merchant": (None, good),
        "missing signature": (public, None),
        "not ascii": (public, "é" + good),
        "truncated": (public, good[:-4]),
    }[case]
    with pytest.raises(BadRequest):
        verify(body, merchant, sig)


def test_an_approved_order_is_a_complete_payment_of_its_amount():
    conversion = mapped(solidgate_order())
    assert isinstance(conversion, Conversion)
    assert (conversion.funnel_event, conversion.event_id, conversion.value, conversion.currency) == (
        "payment_succeeded", "order-0001", Decimal("9.99"), "USD")
    assert (conversion.campaign_id, conversion.session_id, conversion.provider) == ("demo", SESSION, "solidgate")
    assert conversion.event_time == 1796551205  # solidgate-event-created-at
    assert conversion.email_hash == hash_email("ann@example.com")
    assert "Example.com" not in repr(conversion)


def test_approved_and_settled_updates_of_one_order_share_the_event_id():
    assert mapped(solidgate_order("approved")).event_id == mapped(solidgate_order("settle_ok")).event_id


def test_a_declined_order_is_a_payment_failed_of_its_failed_transaction():
    conversion = mapped(solidgate_order("declined"))
    assert (conversion.funnel_event, conversion.event_id) == ("payment_failed", "order-0001:txn-0002")


@pytest.mark.parametrize("status", ["processing", "auth_ok", "3ds_verify", "refunded", "void_ok", None,
                                    ["approved"], {}])
def test_other_order_statuses_send_nothing(status):
    assert mapped(solidgate_order(status)) == Ignored("status_not_reported", "order-0001")


def test_a_subscription_order_is_checked_against_its_first_payment_record():
    conversion = mapped(solidgate_order(subscription_id="sub-sg-0001"))
    assert conversion.subscription_check is SubscriptionCheck.FIRST_PAYMENT
    assert conversion.first_payment_key == "first-payment:solidgate:sub-sg-0001"
    failed = mapped(solidgate_order("declined", subscription_id="sub-sg-0001"))
    assert failed.subscription_check is SubscriptionCheck.UNPAID_ONLY


def test_subscription_init_is_start_trial_or_subscribe():
    trial = mapped(solidgate_subscription(trial=True))
    paid = mapped(solidgate_subscription(trial=False))
    assert (trial.funnel_event, trial.event_id, trial.value) == ("trial_started", "sub-sg-0001", Decimal(0))
    assert (paid.funnel_event, paid.event_id) == ("subscription_started", "sub-sg-0001")
    for other in ("renew", "update", "cancel"):
        assert mapped(solidgate_subscription(other)) == Ignored("status_not_reported", "sub-sg-0001")


def test_funnel_ids_are_read_from_order_metadata_wherever_it_is():
    inside = solidgate_order(metadata=None)
    inside["order"]["order_metadata"] = FUNNEL
    assert mapped(inside).campaign_id == "demo"
    assert mapped(solidgate_order(metadata=None)) == Ignored("no_funnel_metadata", "order-0001")


@pytest.mark.parametrize("amount", [10**12 + 1, -1, "9.99", 9.99, True, None])
def test_an_amount_that_does_not_parse_or_is_too_large_is_invalid(amount):
    assert mapped(solidgate_order(amount=amount)) == Ignored("invalid_amount")


def test_odd_shapes_are_ignored_not_raised():
    assert mapped({"something": 1}) == Ignored("unhandled_event_type")
    assert ADAPTER.map("text", {}, False) == Ignored("malformed_event")
    assert mapped(solidgate_order(), {"solidgate-event-created-at": "not a time"}) == Ignored("malformed_event")
    assert mapped(solidgate_order(currency="US")) == Ignored("malformed_event")
