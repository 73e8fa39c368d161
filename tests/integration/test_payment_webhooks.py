"""POST /v1/webhooks/{provider} through the real PaymentWebhookFunction, under moto, TikTok's HTTP faked
(docs/design.md §6.3): Paddle and Solidgate end to end in the handler, and the common rules for all three."""

import json
import os
import time

import boto3
import payment_app
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zellify_tiktok.hashing import hash_external_id

from tests.integration.helpers import call, put_settings
from tests.payment_webhooks import (
    FUNNEL,
    PADDLE_LIVE,
    PADDLE_TEST,
    SESSION,
    SOLIDGATE_LIVE,
    SOLIDGATE_TEST,
    apigw_event,
    paddle_data,
    paddle_envelope,
    signed,
    solidgate_order,
    solidgate_subscription,
)
from tests.stripe_webhooks import signed_event, stripe_event

STRIPE_SECRET = "whsec_payments_test"
TXN = "txn_01hv8wptq8987qeep44cyrewp9"
SUB = "sub_01hv8x29kz0t586xy6zn1a62ny"
RAW_EMAIL = "Ann.Secret@Example.com"


@pytest.fixture
def secrets(aws):
    client = boto3.client("secretsmanager")
    client.create_secret(Name=os.environ["STRIPE_SECRET_NAME"], SecretString=json.dumps({"live": [STRIPE_SECRET]}))
    client.create_secret(Name=os.environ["PADDLE_SECRET_NAME"],
                         SecretString=json.dumps({"live": [PADDLE_LIVE], "test": [PADDLE_TEST]}))
    client.create_secret(Name=os.environ["SOLIDGATE_SECRET_NAME"], SecretString=json.dumps(
        {"live": [":".join(SOLIDGATE_LIVE)], "test": [":".join(SOLIDGATE_TEST)]}))


@pytest.fixture
def demo(runtime, secrets):
    def configure(**overrides) -> None:
        status, body = put_settings(**overrides)
        assert status == 200, body

    configure()
    return configure


def post(webhook, **kwargs) -> tuple[int, dict]:
    status, _, body = call(payment_app, apigw_event(webhook, **kwargs))
    return status, body


def paddle(event_type: str, change=None, *, secret=PADDLE_LIVE, occurred_at=None, **kwargs):
    data = paddle_data(event_type)
    if change:
        change(data)
    return post(signed("paddle", paddle_envelope(event_type, data, occurred_at), secret=secret, **kwargs))


def solidgate(body: dict, *, secret=SOLIDGATE_LIVE, headers=None):
    return post(signed("solidgate", body, secret=secret, headers=headers))


def one_time(data: dict) -> None:
    data["subscription_id"] = None


# -- Paddle ----------------------------------------------------------------------------------------

def test_paddle_payment_reaches_tiktok_with_its_exact_value(demo, tiktok):
    assert paddle("transaction.completed", one_time) == (
        200, {"status": "queued", "reason": "payment_succeeded", "event_ids": [TXN]})
    (event,) = tiktok.events
    assert (event["event"], event["event_id"]) == ("CompletePayment", TXN)
    assert event["properties"]["value"] == 652.15 and event["properties"]["currency"] == "USD"
    assert event["user"]["external_id"] == hash_external_id(SESSION)


def test_paddle_redelivery_is_a_duplicate(demo, tiktok):
    assert paddle("transaction.completed", one_time)[1]["status"] == "queued"
    assert paddle("transaction.completed", one_time) == (
        200, {"status": "duplicate", "reason": "already_sent", "event_ids": [TXN]})
    assert len(tiktok.events) == 1


def test_paddle_trial_then_first_paid_renewal_then_next_renewal(demo, tiktok, aws):
    trial = lambda d: d.update(custom_data=FUNNEL)  # noqa: E731
    assert paddle("subscription.trialing", trial)[1]["status"] == "queued"
    zero = lambda d: (d["details"]["totals"].update(grand_total="0"), d.update(origin="web"))  # noqa: E731
    assert paddle("transaction.completed", zero)[1] == {"status": "ignored", "reason": "zero_amount",
                                                        "event_ids": [TXN]}
    recurring = lambda d: d.update(origin="subscription_recurring")  # noqa: E731
    assert paddle("transaction.completed", recurring)[1]["status"] == "queued"
    record = boto3.client("dynamodb").get_item(TableName=aws["SENT_EVENTS_TABLE"],
                                               Key={"pk": {"S": f"first-payment:paddle:{SUB}"}})
    assert "Item" in record
    next_month = lambda d: d.update(id="txn_01nextmonth0000000000000000", origin="subscription_recurring")  # noqa: E731
    assert paddle("transaction.completed", next_month)[1] == {
        "status": "ignored", "reason": "not_first_payment", "event_ids": ["txn_01nextmonth0000000000000000"]}
    assert [e["event"] for e in tiktok.events] == ["StartTrial", "CompletePayment"]


def test_paddle_renewals_are_reported_with_report_renewals(demo, tiktok):
    demo(report_renewals=True)
    assert paddle("transaction.completed")[1]["status"] == "queued"
    assert paddle("transaction.completed", lambda d: d.update(id="txn_01nextmonth0000000000000000"))[1][
        "status"] == "queued"
    assert len(tiktok.events) == 2


def test_paddle_failed_payment_and_subscription_events(demo, tiktok):
    assert paddle("transaction.payment_failed")[1]["status"] == "queued"
    assert paddle("subscription.activated")[1]["status"] == "queued"
    assert [e["event"] for e in tiktok.events] == ["PaymentFailed", "Subscribe"]
    assert tiktok.events[1]["properties"].get("value", 0) == 0


def test_paddle_sandbox_events_need_the_campaigns_test_code(demo, tiktok):
    assert paddle("transaction.completed", one_time, secret=PADDLE_TEST)[1] == {
        "status": "ignored", "reason": "test_mode", "event_ids": [TXN]}
    assert tiktok.calls == []
    demo(test_event_code="TEST12345")
    assert paddle("transaction.completed", one_time, secret=PADDLE_TEST)[1]["status"] == "queued"
    assert tiktok.calls[-1]["body"]["test_event_code"] == "TEST12345"


@pytest.mark.parametrize("case", ["forged", "stale", "future", "unsigned"])
def test_paddle_bad_signatures_are_400_and_nothing_is_processed(demo, tiktok, case):
    body = json.dumps(paddle_envelope("transaction.completed", paddle_data("transaction.completed"))).encode()
    webhook = signed("paddle", body, secret={"forged": "pdl_forged"}.get(case, PADDLE_LIVE),
                     timestamp={"stale": int(time.time()) - 400, "future": int(time.time()) + 400}.get(case))
    if case == "unsigned":
        webhook.headers.pop("paddle-signature")
    status, answer = post(webhook)
    assert status == 400 and answer["error"]["code"] in ("invalid_signature", "missing_signature")
    assert tiktok.calls == []


# -- Solidgate -------------------------------------------------------------------------------------

def test_solidgate_order_payment_and_its_settlement_are_one_complete_payment(demo, tiktok):
    assert solidgate(solidgate_order("approved")) == (
        200, {"status": "queued", "reason": "payment_succeeded", "event_ids": ["order-0001"]})
    assert solidgate(solidgate_order("settle_ok"))[1]["status"] == "duplicate"
    (event,) = tiktok.events
    assert (event["event"], event["properties"]["value"], event["properties"]["currency"]) == (
        "CompletePayment", 9.99, "USD")


def test_solidgate_decline_trial_and_subscribe(demo, tiktok):
    assert solidgate(solidgate_order("declined"))[1]["event_ids"] == ["order-0001:txn-0002"]
    assert solidgate(solidgate_subscription(trial=True))[1]["status"] == "queued"
    assert solidgate(solidgate_subscription(trial=False, sub="sub-sg-0002"))[1]["status"] == "queued"
    assert [e["event"] for e in tiktok.events] == ["PaymentFailed", "StartTrial", "Subscribe"]


def test_solidgate_renewal_orders_are_not_purchases(demo, tiktok):
    first = solidgate_order(subscription_id="sub-sg-0001", order_id="order-first")
    renewal = solidgate_order(subscription_id="sub-sg-0001", order_id="order-renewal")
    assert solidgate(first)[1]["status"] == "queued"
    assert solidgate(renewal)[1]["reason"] == "not_first_payment"
    assert len(tiktok.events) == 1


def test_solidgate_test_channel_needs_the_test_code(demo, tiktok):
    assert solidgate(solidgate_order(), secret=SOLIDGATE_TEST)[1]["reason"] == "test_mode"
    assert tiktok.calls == []


@pytest.mark.parametrize("merchant", ["wh_pk_unknown", SOLIDGATE_LIVE[0]])
def test_solidgate_unknown_key_or_forged_signature_is_400(demo, tiktok, merchant):
    webhook = signed("solidgate", solidgate_order(), secret=(merchant, "wh_sk_forged"))
    assert post(webhook)[0] == 400
    assert tiktok.calls == []


def test_solidgate_raw_email_never_reaches_logs_answers_or_tiktok(demo, tiktok, capsys):
    status, answer = solidgate(solidgate_order(email=RAW_EMAIL))
    assert status == 200
    out = capsys.readouterr().out
    for text in (out, json.dumps(answer), json.dumps(tiktok.calls)):
        assert RAW_EMAIL not in text and RAW_EMAIL.lower() not in text


# -- common rules --------------------------------------------------------------------------------

def test_an_unknown_provider_is_404(demo):
    status, answer = post(signed("paddle", b"{}"), path="/v1/webhooks/paypal")
    assert status == 404 and answer["error"]["code"] == "unknown_provider"


def test_stripe_test_mode_needs_the_test_code(demo, tiktok):
    body = stripe_event("stripe_payment_intent_succeeded.json")
    body["livemode"] = False
    status, _, answer = call(payment_app, signed_event("stripe_payment_intent_succeeded.json", body,
                                                       secret=STRIPE_SECRET))
    assert (status, answer["status"], answer["reason"]) == (200, "ignored", "test_mode")
    assert tiktok.calls == []


def test_stripe_amount_beyond_the_bound_is_ignored_not_500(demo, tiktok):
    body = stripe_event("stripe_payment_intent_succeeded.json")
    body["data"]["object"].update(amount=2**64 * 100, amount_received=2**64 * 100)
    status, _, answer = call(payment_app, signed_event("stripe_payment_intent_succeeded.json", body,
                                                       secret=STRIPE_SECRET))
    assert (status, answer["status"], answer["reason"]) == (200, "ignored", "invalid_amount")


def test_old_events_are_ignored_and_future_ones_get_the_servers_time(demo, tiktok):
    old = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(time.time() - 8 * 86400))
    assert paddle("transaction.completed", one_time, occurred_at=old)[1]["reason"] == "too_old"
    future = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(time.time() + 2 * 86400))
    assert paddle("transaction.completed", one_time, occurred_at=future)[1]["status"] == "queued"
    assert abs(tiktok.events[0]["event_time"] - time.time()) < 60

    body = stripe_event("stripe_payment_intent_succeeded.json")
    body["created"] = int(time.time()) - 30 * 86400
    _, _, answer = call(payment_app, signed_event("stripe_payment_intent_succeeded.json", body,
                                                  secret=STRIPE_SECRET))
    assert answer["reason"] == "too_old"


# -- no signed input yields a 5xx (property) -----------------------------------------------------------

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12),
                                                                                      children, max_size=5),
                    max_leaves=20)
ORDER_FIELDS = st.fixed_dictionaries({}, optional={
    "order_id": st.text(max_size=20) | st.integers(), "amount": JSON, "currency": st.text(max_size=4) | JSON,
    "status": st.sampled_from(["approved", "settle_ok", "declined", "auth_failed", "x"]) | JSON,
    "subscription_id": JSON, "customer_email": st.emails() | JSON})
SHAPED = {
    "paddle": st.fixed_dictionaries({
        "event_type": st.sampled_from(["transaction.completed", "transaction.payment_failed", "subscription.created",
                                       "subscription.trialing", "subscription.activated"]) | JSON,
        "occurred_at": st.just("2026-12-06T10:00:00Z") | JSON,
        "data": st.fixed_dictionaries({}, optional={
            "id": st.text(max_size=30) | JSON, "custom_data": st.just(FUNNEL) | JSON, "status": JSON,
            "details": st.fixed_dictionaries({"totals": st.fixed_dictionaries({}, optional={
                "grand_total": st.text(max_size=30) | st.integers() | JSON})}) | JSON,
            "currency_code": st.text(max_size=4) | JSON, "subscription_id": JSON, "items": JSON,
            "payments": JSON})}),
    "solidgate": st.fixed_dictionaries({"order": ORDER_FIELDS | JSON}, optional={
        "order_metadata": st.just(FUNNEL) | JSON, "transactions": JSON, "callback_type": JSON,
        "subscription": JSON}),
    "stripe": st.fixed_dictionaries({
        "type": st.sampled_from(["payment_intent.succeeded", "invoice.paid", "checkout.session.completed",
                                 "customer.subscription.created"]) | JSON,
        "created": st.integers(min_value=-2**70, max_value=2**70) | JSON, "livemode": JSON,
        "data": st.fixed_dictionaries({"object": st.fixed_dictionaries({}, optional={
            "id": JSON, "amount_received": st.integers(min_value=-2**70, max_value=2**70) | JSON,
            "amount_paid": st.integers() | JSON, "currency": JSON, "metadata": st.just(FUNNEL) | JSON,
            "status": JSON, "mode": JSON, "payment_status": JSON, "amount_total": JSON})})}),
}


def _signed_any(provider: str, body: bytes):
    if provider == "stripe":
        from tests.stripe_webhooks import signature_header

        webhook = signed("paddle", body)
        webhook.headers.clear()
        webhook.headers["stripe-signature"] = signature_header(body, STRIPE_SECRET)
        return post(webhook, path="/v1/webhooks/stripe")
    return post(signed(provider, body))


@pytest.mark.parametrize("provider", ["stripe", "paddle", "solidgate"])
def test_no_signed_body_yields_a_5xx_or_a_4xx(demo, tiktok, provider):
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(payload=SHAPED[provider] | JSON, raw=st.binary(max_size=64))
    def check(payload, raw):
        for body in (json.dumps(payload).encode(), raw):
            if provider in ("stripe", "paddle") and not _utf8(body):
                continue  # a body that is not UTF-8 cannot carry these signatures: 400 by design
            status, answer = _signed_any(provider, body)
            assert status == 200, (body, answer)
            assert answer["status"] in ("queued", "duplicate", "ignored")

    check()


def _utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@pytest.mark.parametrize("provider", ["paddle", "solidgate"])
def test_a_transient_failure_queues_the_event_without_raw_email_or_secret(demo, tiktok, sqs_messages, provider):
    tiktok.script = [503]
    if provider == "paddle":
        status, answer = paddle("transaction.completed")
        event_id, record = TXN, f"first-payment:paddle:{SUB}"
    else:
        status, answer = solidgate(solidgate_order(email=RAW_EMAIL, subscription_id="sub-sg-0001"))
        event_id, record = "order-0001", "first-payment:solidgate:sub-sg-0001"
    assert (status, answer) == (200, {"status": "queued", "reason": "transient_failure", "event_ids": [event_id]})
    [message] = sqs_messages("RETRY_QUEUE_URL")
    assert message["source"] == provider
    assert message["ledger_records"] == [{"key": record, "ttl_s": 400 * 86400}]
    text = json.dumps(message).lower()
    assert RAW_EMAIL.lower() not in text and "pdl_ntfset" not in text and "wh_sk_" not in text
