"""Paddle's adapter (docs/design.md §6.3): signatures checked by Paddle's SDK, Paddle's published payloads
(tests/fixtures/paddle) mapped to the payment core's values. Pure, no AWS."""

import json
import time
from decimal import Decimal

import pytest
from zellify_tiktok.errors import BadRequest
from zellify_tiktok.payments.core import Conversion, Ignored, SubscriptionCheck, conversion_event
from zellify_tiktok.payments.paddle import PaddleAdapter, parse_signature_header
from zellify_tiktok.repositories.secrets import ProviderSecrets
from zellify_tiktok.server_event import Content

from tests.payment_webhooks import (
    FUNNEL,
    PADDLE_LIVE,
    PADDLE_TEST,
    SESSION,
    paddle_data,
    paddle_envelope,
    paddle_signature,
)

ADAPTER = PaddleAdapter()
SECRETS = ProviderSecrets(live=(PADDLE_LIVE,), test=(PADDLE_TEST,))
TXN = "txn_01hv8wptq8987qeep44cyrewp9"
SUB = "sub_01hv8x29kz0t586xy6zn1a62ny"


def mapped(event_type: str, change=None, **envelope) -> Conversion | Ignored:
    data = paddle_data(event_type)
    if change:
        change(data)
    event = paddle_envelope(event_type, data, **envelope)
    return ADAPTER.map(json.loads(json.dumps(event)), {}, False)


def verify(body: bytes, header: str | None, now: float | None = None, secrets=SECRETS) -> bool:
    headers = {} if header is None else {"paddle-signature": header}
    return ADAPTER.verify(body, headers, secrets, time.time() if now is None else now)


# -- mapping -------------------------------------------------------------------------------------

def test_completed_transaction_is_a_complete_payment_of_its_grand_total():
    conversion = mapped("transaction.completed")
    assert isinstance(conversion, Conversion)
    assert (conversion.funnel_event, conversion.event_id, conversion.value, conversion.currency) == (
        "payment_succeeded", TXN, Decimal("652.15"), "USD")
    assert (conversion.campaign_id, conversion.session_id, conversion.provider) == ("demo", SESSION, "paddle")
    # occurred_at of the envelope, in Unix seconds.
    assert abs(conversion.event_time - time.time()) < 5


def test_a_subscription_transaction_is_checked_against_its_first_payment_record():
    conversion = mapped("transaction.completed")
    assert (conversion.subscription_id, conversion.subscription_check) == (SUB, SubscriptionCheck.FIRST_PAYMENT)
    assert conversion.first_payment_key == f"first-payment:paddle:{SUB}"
    one_time = mapped("transaction.completed", lambda d: d.update(subscription_id=None))
    assert (one_time.subscription_check, one_time.first_payment_key) == (SubscriptionCheck.NONE, None)


@pytest.mark.parametrize("origin", ["web", "api", "subscription_recurring", "subscription_charge"])
def test_the_origin_does_not_decide_a_first_payment(origin):
    conversion = mapped("transaction.completed", lambda d: d.update(origin=origin))
    assert conversion.subscription_check is SubscriptionCheck.FIRST_PAYMENT


def test_line_items_are_the_contents_when_metadata_names_none():
    conversion = mapped("transaction.completed")
    assert conversion.contents is None
    assert conversion.items[0] == Content(content_id="pro_01gsz4t5hdjse780zja8vvr7jg",
                                          content_name="Monthly (per seat)", quantity=10, price=Decimal("30.00"))
    from zellify_tiktok.campaign import CampaignSettings

    event = conversion_event(conversion, CampaignSettings(campaign_id="demo", pixel_id="C4ABCDEF0123456789AB"), None)
    assert event.contents == conversion.items and event.num_items == sum(i.quantity for i in conversion.items)


def test_contents_from_custom_data_win_as_text_or_as_a_list():
    listed = [{"content_id": "plan_pro", "content_name": "Pro plan", "quantity": 1, "price": 9.99}]
    for raw in (listed, json.dumps(listed)):
        conversion = mapped("transaction.completed",
                            lambda d, raw=raw: d.update(custom_data={**FUNNEL, "zellify_contents": raw}))
        assert conversion.contents == (Content("plan_pro", "Pro plan", 1, Decimal("9.99")),)


def test_a_zero_transaction_of_a_trial_checkout_sends_nothing():
    zero = lambda d: d["details"]["totals"].update(grand_total="0")  # noqa: E731
    assert mapped("transaction.completed", zero) == Ignored("zero_amount", TXN)


@pytest.mark.parametrize("amount", ["abc", "-5", "12.5", "", None, True, "1000000000001", "9" * 40])
def test_an_amount_that_does_not_parse_or_is_too_large_is_invalid(amount):
    conversion = mapped("transaction.completed", lambda d: d["details"]["totals"].update(grand_total=amount))
    assert conversion == Ignored("invalid_amount")


def test_amounts_are_exact_for_every_currency_class():
    for currency, amount, value in (("JPY", "500", Decimal("500")), ("KWD", "1234", Decimal("1.234")),
                                    ("USD", "1000000000000", Decimal("10000000000.00"))):
        conversion = mapped("transaction.completed", lambda d, c=currency, a=amount: (
            d.update(currency_code=c), d["details"]["totals"].update(grand_total=a)))
        assert (conversion.value, conversion.currency) == (value, currency)


def test_a_failed_payment_is_identified_by_its_failed_attempt():
    conversion = mapped("transaction.payment_failed")
    assert (conversion.funnel_event, conversion.event_id, conversion.value) == (
        "payment_failed", f"{TXN}:8f72cfa6-26b4-4a57-91dc-8f2708f7822d", Decimal("652.15"))
    assert mapped("transaction.payment_failed", lambda d: d.update(payments=[])).event_id == TXN


def test_subscription_events_are_start_trial_and_subscribe_of_value_0():
    created = mapped("subscription.created")  # the fixture is active
    trialing = mapped("subscription.trialing")
    activated = mapped("subscription.activated")
    created_trial = mapped("subscription.created", lambda d: d.update(status="trialing"))
    assert [(c.funnel_event, c.event_id, c.value) for c in (created, trialing, activated, created_trial)] == [
        ("subscription_started", SUB, Decimal(0)), ("trial_started", SUB, Decimal(0)),
        ("subscription_started", SUB, Decimal(0)), ("trial_started", SUB, Decimal(0))]
    assert mapped("subscription.created", lambda d: d.update(status="past_due")) == Ignored(
        "status_not_reported", SUB)


def test_events_without_funnel_ids_or_of_other_types_are_ignored():
    assert mapped("transaction.completed", lambda d: d.update(custom_data=None)) == Ignored(
        "no_funnel_metadata", TXN)
    assert mapped("transaction.completed", lambda d: d.update(
        custom_data={**FUNNEL, "zellify_session_id": "bad id!"})) == Ignored("invalid_funnel_metadata", TXN)
    data = paddle_data("transaction.paid")
    assert ADAPTER.map(paddle_envelope("transaction.paid", data), {}, False) == Ignored("unhandled_event_type")
    assert ADAPTER.map([1], {}, False) == Ignored("malformed_event")
    assert mapped("transaction.completed", occurred_at="yesterday") == Ignored("malformed_event")


def test_no_email_reaches_the_conversion():
    # Paddle's payloads carry a customer id only; the session's email hash is used (docs/design.md §5).
    assert mapped("transaction.completed").email_hash is None


# -- signatures (Paddle's SDK) ------------------------------------------------------------------------

BODY = json.dumps(paddle_envelope("transaction.completed", paddle_data("transaction.completed"))).encode()


def test_a_live_signature_verifies_as_live_and_a_test_one_as_test():
    assert verify(BODY, paddle_signature(BODY, PADDLE_LIVE)) is False
    assert verify(BODY, paddle_signature(BODY, PADDLE_TEST)) is True


def test_rotation_several_h1_and_several_secrets():
    assert verify(BODY, paddle_signature(BODY, PADDLE_LIVE, extra=("00" * 32,))) is False
    rotated = ProviderSecrets(live=("pdl_old", PADDLE_LIVE))
    assert verify(BODY, paddle_signature(BODY, PADDLE_LIVE), secrets=rotated) is False


# Made when the test runs (not at collection: a long run would age a "future" signature into the window).
BAD_HEADERS = {
    "missing": lambda: None,
    "empty": lambda: "",
    "wrong secret": lambda: paddle_signature(BODY, "pdl_someone_else"),
    "another body": lambda: paddle_signature(b"{}", PADDLE_LIVE),
    "stale": lambda: paddle_signature(BODY, PADDLE_LIVE, int(time.time()) - 301),
    "future": lambda: paddle_signature(BODY, PADDLE_LIVE, int(time.time()) + 301),
    "garbage": lambda: "nonsense",
    "unknown key": lambda: "ts=1;h1=ab;v9=cd",
    "two equals": lambda: "ts=1=2;h1=ab",
    "not ascii": lambda: "ts=1;h1=é",
    "no h1": lambda: f"ts={int(time.time())}",
}


@pytest.mark.parametrize("case", BAD_HEADERS)
def test_bad_signatures_are_refused(case):
    with pytest.raises(BadRequest) as refused:
        verify(BODY, BAD_HEADERS[case]())
    assert refused.value.code in ("missing_signature", "invalid_signature")


def test_the_sdk_test_mode_variable_does_not_switch_the_time_check_off(monkeypatch):
    monkeypatch.setenv("TEST_MODE", "1")
    with pytest.raises(BadRequest):
        verify(BODY, paddle_signature(BODY, PADDLE_LIVE, int(time.time()) - 3600))


def test_a_body_that_is_not_utf8_is_refused():
    body = b"\xff\xfe" + BODY
    with pytest.raises(BadRequest):
        verify(body, "ts=1;h1=ab")


def test_parse_signature_header():
    assert parse_signature_header("ts=1671552777;h1=eb4d;h1=ff") == (1671552777, ["eb4d", "ff"])
