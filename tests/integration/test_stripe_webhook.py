"""POST /v1/webhooks/stripe through the real handler, under moto, with TikTok's HTTP faked (docs/design.md §6.3)."""

import base64
import json
import os
import time

import boto3
import payment_app as stripe_app
import pytest
from zellify_tiktok.hashing import hash_email, hash_external_id

from tests.integration.helpers import beacon_body, call, post_beacon, put_settings
from tests.stripe_webhooks import SAMPLES, signature_header, signed_event, stripe_event

SECRET = "whsec_test"
SESSION = "5f0c2b1e-8d7a-4c1b-9e0f-0a1b2c3d4e5f"
PIXEL = "C4ABCDEF0123456789AB"
PI = "pi_3SXk2mLkdIwHu7ix0Ab1Cd2E"
INVOICE = "in_1SXkC7LkdIwHu7ixLm5No6Pq"
SUB = "sub_1SXkC7LkdIwHu7ixZa1Bc2De"
SUB_TRIAL = "sub_1SXkD9LkdIwHu7ixFg3Hi4Jk"
TOKEN = "tt-access-token-0123456789abcdef"


@pytest.fixture
def stripe_secret(aws):
    """The signing secret(s) in Secrets Manager, where the function reads them."""
    def configure(*secrets: str) -> None:
        boto3.client("secretsmanager").put_secret_value(SecretId=os.environ["STRIPE_SECRET_NAME"],
                                                        SecretString=json.dumps({"secrets": list(secrets)}))

    boto3.client("secretsmanager").create_secret(Name=os.environ["STRIPE_SECRET_NAME"],
                                                 SecretString=json.dumps({"secrets": [SECRET]}))
    return configure


@pytest.fixture
def demo(runtime, stripe_secret):
    """Campaign demo with a token; its settings changed by calling it again."""
    def configure(**overrides) -> None:
        status, body = put_settings(**overrides)
        assert status == 200, body

    configure()
    return configure


def deliver(event: dict) -> tuple[int, dict]:
    status, _, body = call(stripe_app, event)
    return status, body


def webhook(name: str, change=None, *, secret: str = SECRET, **event_fields) -> tuple[int, dict]:
    """Post a sample, its object changed by `change`, signed now."""
    body = stripe_event(name)
    if change:
        change(body["data"]["object"])
    body.update(event_fields)
    return deliver(signed_event(name, body, secret=secret))


def only_event(tiktok) -> dict:
    assert len(tiktok.events) == 1, tiktok.events
    return tiktok.events[0]


def ledger_item(aws, key: str) -> dict | None:
    return boto3.client("dynamodb").get_item(TableName=aws["SENT_EVENTS_TABLE"], Key={"pk": {"S": key}}).get("Item")


# -- every mapped event type --------------------------------------------------------------------

EXPECTED = {
    "stripe_payment_intent_succeeded.json": ("CompletePayment", PI, 9.99, "USD"),
    "stripe_payment_intent_payment_failed.json": (
        "PaymentFailed", "pi_3SXk9qLkdIwHu7ix1Kl5Mn6O:ch_3SXk9qLkdIwHu7ix1Pq7Rs8T", 9.99, "USD"),
    "stripe_invoice_paid_subscription_create.json": ("CompletePayment", INVOICE, 29.99, "USD"),
    "stripe_invoice_paid_subscription_cycle.json": ("CompletePayment", "in_1TAbE2LkdIwHu7ixRs7Tu8Vw", 29.99, "USD"),
    "stripe_invoice_payment_failed.json": ("PaymentFailed", "in_1SXkF3LkdIwHu7ixXy9Za0Bc:1", 29.99, "USD"),
    "stripe_checkout_session_completed_payment.json": ("CompletePayment", PI, 9.99, "USD"),
    "stripe_checkout_session_completed_subscription.json": ("CompletePayment", INVOICE, 29.99, "USD"),
    "stripe_checkout_session_async_payment_succeeded.json": (
        "CompletePayment", "pi_3SXkB4LkdIwHu7ix2Uv9Wx0Y", 49, "EUR"),
    "stripe_customer_subscription_created_trialing.json": ("StartTrial", SUB_TRIAL, 0, "USD"),
    "stripe_customer_subscription_created_active.json": ("Subscribe", SUB, 0, "USD"),
    "stripe_customer_subscription_updated_trialing_active.json": ("Subscribe", SUB_TRIAL, 0, "USD"),
}


def test_every_sample_has_an_expectation():
    assert set(EXPECTED) == set(SAMPLES)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_mapped_event_type_sends_its_tiktok_event(demo, tiktok, name):
    tiktok_name, event_id, value, currency = EXPECTED[name]
    status, body = webhook(name)
    assert (status, body) == (200, {"status": "queued", "reason": body["reason"], "event_ids": [event_id]})
    event = only_event(tiktok)
    assert (event["event"], event["event_id"]) == (tiktok_name, event_id)
    assert event["event_time"] == stripe_event(name)["created"]
    assert (event["properties"]["value"], event["properties"]["currency"]) == (value, currency)
    if tiktok_name == "CompletePayment":
        assert event["properties"]["content_type"] == "product"
        assert event["properties"]["num_items"] == sum(c["quantity"] for c in event["properties"]["contents"])
    call_record = tiktok.calls[0]
    assert call_record["headers"]["Access-Token"] == TOKEN
    assert call_record["body"]["event_source_id"] == PIXEL


@pytest.mark.parametrize(("currency", "amount", "value"), [("usd", 1999, 19.99), ("jpy", 500, 500),
                                                           ("kwd", 1234, 1.234)])
def test_value_in_each_currency_class(demo, tiktok, currency, amount, value):
    def change(pi):
        pi.update(currency=currency, amount=amount, amount_received=amount)
        pi["metadata"].pop("zellify_contents")

    assert webhook("stripe_payment_intent_succeeded.json", change)[1]["status"] == "queued"
    properties = only_event(tiktok)["properties"]
    assert (properties["value"], properties["currency"]) == (value, currency.upper())
    assert type(properties["value"]) is type(value)  # 500 JPY goes as the integer 500
    assert properties["contents"] == [{"content_id": PI, "quantity": 1, "price": value}]
    # The raw request TikTok receives: the exact decimal text, never 19.990000001.
    assert json.dumps(value) in json.dumps(tiktok.calls[0]["body"])


def test_event_names_override_applies(demo, tiktok):
    demo(event_names={"payment_succeeded": "Purchase"})
    webhook("stripe_payment_intent_succeeded.json")
    assert only_event(tiktok)["event"] == "Purchase"


# -- one purchase, one CompletePayment -----------------------------------------------------------

def test_duplicate_delivery_is_answered_duplicate_and_not_sent_again(demo, tiktok):
    event = signed_event("stripe_payment_intent_succeeded.json", secret=SECRET)
    assert deliver(event) == (200, {"status": "queued", "reason": "payment_succeeded", "event_ids": [PI]})
    assert deliver(event) == (200, {"status": "duplicate", "reason": "already_sent", "event_ids": [PI]})
    assert len(tiktok.calls) == 1


@pytest.mark.parametrize("order", [("stripe_checkout_session_completed_payment.json",
                                    "stripe_payment_intent_succeeded.json"),
                                   ("stripe_payment_intent_succeeded.json",
                                    "stripe_checkout_session_completed_payment.json")])
def test_checkout_session_and_payment_intent_send_one_complete_payment(demo, tiktok, order):
    first, second = (webhook(name)[1] for name in order)
    assert (first["status"], second["status"]) == ("queued", "duplicate")
    assert first["event_ids"] == second["event_ids"] == [PI]
    assert only_event(tiktok)["event"] == "CompletePayment"


def test_subscription_checkout_and_first_invoice_send_one_complete_payment(demo, tiktok, aws):
    assert webhook("stripe_checkout_session_completed_subscription.json")[1]["status"] == "queued"
    assert webhook("stripe_invoice_paid_subscription_create.json")[1] == {
        "status": "duplicate", "reason": "already_sent", "event_ids": [INVOICE]}
    assert only_event(tiktok)["event_id"] == INVOICE
    record = ledger_item(aws, f"first-payment:{SUB}")
    # 400 days, not the ledger's 48 h, or next month's renewal would pass for a first payment.
    assert int(record["expires_at"]["N"]) - int(record["sent_at"]["N"]) == 400 * 86400


def test_trial_then_first_paid_invoice_then_renewal(demo, tiktok):
    def renewal(invoice):
        invoice["id"] = "in_1TKxR9LkdIwHu7ixNextMonth"

    def trial_invoice(invoice):
        invoice.update(id="in_1SXkD9LkdIwHu7ixTrial000", billing_reason="subscription_create", amount_due=0,
                       amount_paid=0)

    assert webhook("stripe_customer_subscription_created_trialing.json")[1]["status"] == "queued"
    assert webhook("stripe_invoice_paid_subscription_cycle.json", trial_invoice)[1] == {
        "status": "ignored", "reason": "zero_amount", "event_ids": []}
    # The trial's first real payment arrives as subscription_cycle: still the first paid invoice.
    assert webhook("stripe_invoice_paid_subscription_cycle.json")[1]["status"] == "queued"
    assert webhook("stripe_customer_subscription_updated_trialing_active.json")[1]["status"] == "queued"
    assert webhook("stripe_invoice_paid_subscription_cycle.json", renewal)[1] == {
        "status": "ignored", "reason": "not_first_payment", "event_ids": ["in_1TKxR9LkdIwHu7ixNextMonth"]}
    assert [(e["event"], e["event_id"]) for e in tiktok.events] == [
        ("StartTrial", SUB_TRIAL), ("CompletePayment", "in_1TAbE2LkdIwHu7ixRs7Tu8Vw"), ("Subscribe", SUB_TRIAL)]


@pytest.mark.parametrize("report_renewals", [False, True])
def test_renewal_is_reported_only_with_report_renewals(demo, tiktok, report_renewals):
    demo(report_renewals=report_renewals)
    assert webhook("stripe_invoice_paid_subscription_create.json")[1]["status"] == "queued"
    next_month = "in_1TKxR9LkdIwHu7ixNextMonth"

    def renewal(invoice):
        invoice.update(id=next_month, billing_reason="subscription_cycle")

    answer = webhook("stripe_invoice_paid_subscription_create.json", renewal)[1]
    if report_renewals:
        assert answer == {"status": "queued", "reason": "payment_succeeded", "event_ids": [next_month]}
        assert [e["event_id"] for e in tiktok.events] == [INVOICE, next_month]
    else:
        assert answer == {"status": "ignored", "reason": "not_first_payment", "event_ids": [next_month]}
        assert [e["event_id"] for e in tiktok.events] == [INVOICE]


def test_failed_renewal_is_not_a_payment_failed(demo, tiktok):
    def same_subscription(invoice):
        invoice["parent"]["subscription_details"]["subscription"] = SUB

    webhook("stripe_invoice_paid_subscription_create.json")
    assert webhook("stripe_invoice_payment_failed.json", same_subscription)[1]["reason"] == "not_first_payment"
    assert [e["event"] for e in tiktok.events] == ["CompletePayment"]


# -- signatures ---------------------------------------------------------------------------------

def _signed(**header_for) -> dict:
    event = signed_event("stripe_payment_intent_succeeded.json", secret=SECRET)
    header = signature_header(event["body"], SECRET)
    event["headers"]["stripe-signature"] = header_for["make"](header, event["body"])
    return event


SIGNATURE_FAILURES = {
    "missing": lambda header, body: None,
    "empty": lambda header, body: "",
    "malformed timestamp": lambda header, body: header.replace("t=", "t=abc"),
    "no v1": lambda header, body: header.split(",")[0] + ",v0=" + header.split("v1=")[1],
    "wrong secret": lambda header, body: signature_header(body, "whsec_someone_else"),
    "stale": lambda header, body: signature_header(body, SECRET, int(time.time()) - 301),
    # Correctly signed, for a time to come: replayable after the 48 h ledger forgot the event.
    "future": lambda header, body: signature_header(body, SECRET, int(time.time()) + 301),
    "ten years ahead": lambda header, body: signature_header(body, SECRET, int(time.time()) + 10 * 365 * 86400),
    "truncated": lambda header, body: header[:-8],
    "garbage": lambda header, body: "garbage",
    "not ascii": lambda header, body: header[:-1] + "é",
    "signature of another body": lambda header, body: signature_header(body + " ", SECRET),
}


@pytest.mark.parametrize("case", sorted(SIGNATURE_FAILURES))
def test_bad_signatures_are_refused_and_nothing_is_processed(demo, tiktok, sqs_messages, case):
    event = _signed(make=SIGNATURE_FAILURES[case])
    if event["headers"]["stripe-signature"] is None:
        del event["headers"]["stripe-signature"]
    status, body = deliver(event)
    assert status == 400
    expected = "missing_signature" if case in ("missing", "empty") else "invalid_signature"
    assert body["error"]["code"] == expected and body["error"]["message"]
    assert isinstance(body["error"]["details"], list)
    assert SECRET not in json.dumps(body)
    assert tiktok.calls == []
    assert sqs_messages("RETRY_QUEUE_URL") == [] and sqs_messages("DEAD_LETTER_QUEUE_URL") == []


@pytest.mark.parametrize("case", ["future", "ten years ahead"])
def test_a_signature_dated_in_the_future_is_refused_for_its_time(demo, tiktok, case):
    status, body = deliver(_signed(make=SIGNATURE_FAILURES[case]))
    assert status == 400
    assert {"message": "Timestamp more than 300 s in the future"} in body["error"]["details"]


@pytest.mark.parametrize("offset_s", [-290, 290])
def test_a_signature_within_300_s_either_way_is_accepted(demo, tiktok, offset_s):
    # Stripe's clock and ours differ a little in both directions.
    status, body = deliver(_signed(make=lambda header, body: signature_header(body, SECRET,
                                                                              int(time.time()) + offset_s)))
    assert (status, body["status"]) == (200, "queued")


def _metric_values(output: str, name: str) -> list[float]:
    """The values of one metric in the EMF blobs Powertools printed."""
    blobs = [json.loads(line) for line in output.splitlines() if line.startswith("{") and '"_aws"' in line]
    return [blob[name] for blob in blobs if name in blob]


def test_a_refused_signature_is_counted_for_the_alarm(demo, tiktok, capsys):
    capsys.readouterr()
    assert deliver(_signed(make=SIGNATURE_FAILURES["wrong secret"]))[0] == 400
    assert deliver(_signed(make=SIGNATURE_FAILURES["future"]))[0] == 400
    assert _metric_values(capsys.readouterr().out, "StripeSignatureFailures") == [[1.0], [1.0]]
    assert deliver(_signed(make=lambda header, body: header))[0] == 200
    assert _metric_values(capsys.readouterr().out, "StripeSignatureFailures") == []


def test_tampered_or_truncated_body_is_refused(demo, tiktok):
    event = signed_event("stripe_payment_intent_succeeded.json", secret=SECRET)
    event["body"] = event["body"].replace('"amount_received": 999', '"amount_received": 999999')
    assert deliver(event)[0] == 400
    event = signed_event("stripe_payment_intent_succeeded.json", secret=SECRET)
    event["body"] = event["body"][:-10]
    assert deliver(event)[0] == 400
    assert tiktok.calls == []


def test_non_utf8_body_is_refused(demo):
    event = signed_event("stripe_payment_intent_succeeded.json", secret=SECRET)
    event["body"], event["isBase64Encoded"] = base64.b64encode(b"\xff\xfe" + event["body"].encode()).decode(), True
    assert deliver(event)[1]["error"]["code"] == "invalid_signature"


def test_rotation_accepts_every_configured_secret(demo, tiktok, stripe_secret):
    stripe_secret("whsec_new", SECRET)
    assert webhook("stripe_payment_intent_succeeded.json", secret="whsec_new")[1]["status"] == "queued"
    assert webhook("stripe_invoice_paid_subscription_create.json", secret=SECRET)[1]["status"] == "queued"
    assert len(tiktok.events) == 2


def test_several_v1_signatures_one_of_them_right(demo):
    # What Stripe sends while the endpoint's secret is being rolled: one v1 per secret.
    event = signed_event("stripe_payment_intent_succeeded.json", secret=SECRET)
    right = event["headers"]["stripe-signature"]
    wrong = signature_header(event["body"], "whsec_expired").split(",")[1]
    event["headers"]["stripe-signature"] = f"{right.split(',')[0]},{wrong},{right.split(',')[1]},v0=abc"
    assert deliver(event)[1]["status"] == "queued"


def test_base64_encoded_body_is_verified_after_decoding(demo, tiktok):
    event = signed_event("stripe_payment_intent_succeeded.json", secret=SECRET)
    event["body"], event["isBase64Encoded"] = base64.b64encode(event["body"].encode()).decode(), True
    assert deliver(event) == (200, {"status": "queued", "reason": "payment_succeeded", "event_ids": [PI]})


def test_body_over_1_mib_is_refused(demo, tiktok):
    body = stripe_event("stripe_payment_intent_succeeded.json")
    body["data"]["object"]["description"] = "x" * (1024 * 1024)
    status, answer = deliver(signed_event("stripe_payment_intent_succeeded.json", body, secret=SECRET))
    assert (status, answer["error"]["code"]) == (400, "payload_too_large")
    assert tiktok.calls == []


def test_without_a_configured_secret_stripe_is_told_to_redeliver(demo, stripe_secret, tiktok):
    stripe_secret()
    status, body = webhook("stripe_payment_intent_succeeded.json")
    assert (status, body["error"]["code"]) == (500, "signing_secret_missing")
    assert tiktok.calls == []


# -- signed but unusable: 200 ignored -----------------------------------------------------------

@pytest.mark.parametrize(("body", "reason"), [
    ("not json at all", "malformed_event"),
    ("[1, 2, 3]", "malformed_event"),
    ({"id": "evt_1", "object": "event", "type": "charge.refunded", "created": 1, "data": {"object": {}}},
     "unhandled_event_type"),
    ({"id": "evt_1", "object": "event", "type": "payment_intent.succeeded", "created": 1, "data": {}},
     "malformed_event"),
])
def test_signed_but_unusable_events_are_ignored(demo, tiktok, body, reason):
    status, answer = deliver(signed_event("stripe_payment_intent_succeeded.json", body, secret=SECRET))
    assert (status, answer) == (200, {"status": "ignored", "reason": reason, "event_ids": []})
    assert tiktok.calls == []


@pytest.mark.parametrize(("metadata", "reason"), [
    ({}, "no_funnel_metadata"),
    ({"zellify_campaign_id": "ghost", "zellify_session_id": SESSION}, "unknown_campaign"),
])
def test_events_without_a_known_campaign_are_ignored(demo, tiktok, metadata, reason):
    status, answer = webhook("stripe_payment_intent_succeeded.json", lambda pi: pi.update(metadata=metadata))
    assert (status, answer) == (200, {"status": "ignored", "reason": reason, "event_ids": [PI]})
    assert tiktok.calls == []


def test_disabled_and_pixel_only_campaigns_send_nothing(demo, tiktok):
    demo(enabled=False)
    assert webhook("stripe_payment_intent_succeeded.json")[1]["reason"] == "campaign_disabled"
    demo(access_token=None)
    assert webhook("stripe_payment_intent_succeeded.json")[1]["reason"] == "pixel_only"
    assert tiktok.calls == []


# -- guards -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("account", "status"), [("acct_1MerchantA", "queued"), ("acct_1MerchantB", "ignored"),
                                                 (None, "ignored")])
def test_account_guard(demo, tiktok, account, status):
    demo(stripe_account="acct_1MerchantA")
    fields = {"account": account} if account else {}
    answer = webhook("stripe_payment_intent_succeeded.json", **fields)[1]
    assert answer["status"] == status
    if status == "ignored":
        assert answer["reason"] == "account_mismatch" and tiktok.calls == []


def test_connect_events_pass_for_campaigns_without_an_account(demo, tiktok):
    assert webhook("stripe_payment_intent_succeeded.json", account="acct_1Anyone")[1]["status"] == "queued"


def test_consent_required_campaign_without_consent_gets_nothing(demo, tiktok):
    demo(require_consent=True)
    assert webhook("stripe_payment_intent_succeeded.json")[1] == {
        "status": "ignored", "reason": "no_consent", "event_ids": [PI]}
    post_beacon(beacon_body(consent=False))
    assert webhook("stripe_payment_intent_succeeded.json")[1]["reason"] == "no_consent"
    assert tiktok.calls == []
    post_beacon(beacon_body(consent=True))
    tiktok.calls.clear()
    assert webhook("stripe_payment_intent_succeeded.json")[1]["status"] == "queued"
    assert only_event(tiktok)["event"] == "CompletePayment"


# -- user data ----------------------------------------------------------------------------------

def test_complete_payment_carries_the_session_from_earlier_beacons(demo, tiktok):
    assert post_beacon(beacon_body())[0] == 202
    tiktok.calls.clear()
    assert webhook("stripe_payment_intent_succeeded.json", lambda pi: pi.update(receipt_email="other@example.com"))[1][
        "status"] == "queued"
    event = only_event(tiktok)
    assert event["user"] == {
        "external_id": hash_external_id(SESSION),
        "email": hash_email("Ann@Example.com"),  # the beacon's, not the Stripe object's
        "ttp": "2F7h37YkS1j57AYSKTI7IHhJPYH",
        "ttclid": "E.C.P.CsABc0FkZXYtdHRjbGlk",
        "ip": "203.0.113.9",
        "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
                      "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    }
    assert event["properties"] == {"value": 9.99, "currency": "USD", "content_type": "product", "num_items": 1,
                                   "contents": [{"content_id": "plan_pro", "content_name": "Pro plan",
                                                 "quantity": 1, "price": 9.99}]}


def test_without_contents_metadata_the_sessions_last_checkout_is_used(demo, tiktok):
    post_beacon(beacon_body())
    tiktok.calls.clear()
    webhook("stripe_payment_intent_succeeded.json", lambda pi: pi["metadata"].pop("zellify_contents"))
    assert only_event(tiktok)["properties"]["contents"] == [
        {"content_id": "plan_pro", "content_name": "Pro plan", "quantity": 1, "price": 9.99}]


def test_without_a_session_record_the_stripe_object_supplies_the_user(demo, tiktok):
    webhook("stripe_payment_intent_succeeded.json")
    assert only_event(tiktok)["user"] == {"external_id": hash_external_id(SESSION),
                                          "email": hash_email("ann@example.com")}


def test_another_campaigns_session_is_never_read(demo, tiktok):
    put_settings("other", pixel_id="COTHER0000000000PIXEL")
    post_beacon(beacon_body())  # a session of campaign demo
    tiktok.calls.clear()
    webhook("stripe_payment_intent_succeeded.json", lambda pi: pi["metadata"].update(zellify_campaign_id="other"))
    assert tiktok.calls[0]["body"]["event_source_id"] == "COTHER0000000000PIXEL"
    assert only_event(tiktok)["user"] == {"external_id": hash_external_id(SESSION),
                                          "email": hash_email("ann@example.com")}


# -- TikTok and queue failures ------------------------------------------------------------------

def logged(caplog) -> str:
    """Every log record with its extra fields (Powertools writes JSON to the stdout of its first use)."""
    return "\n".join(json.dumps(vars(record), default=str) for record in caplog.records)


def test_transient_failure_is_queued_without_token_or_raw_email(demo, tiktok, sqs_messages, caplog):
    tiktok.script = [503]
    assert webhook("stripe_invoice_paid_subscription_create.json")[1] == {
        "status": "queued", "reason": "transient_failure", "event_ids": [INVOICE]}
    [message] = sqs_messages("RETRY_QUEUE_URL")
    assert [e["event_id"] for e in message["events"]] == [INVOICE]
    assert message["source"] == "stripe"
    # The retry writes the first-payment record once TikTok confirms.
    assert message["ledger_records"] == [{"key": f"first-payment:{SUB}", "ttl_s": 400 * 86400}]
    text = json.dumps(message) + logged(caplog)
    assert TOKEN not in text and "ann@example.com" not in text.lower() and "whsec_" not in text


def test_permanent_failure_is_dead_lettered(demo, tiktok, sqs_messages):
    tiktok.script = [{"code": 40105, "message": "Access token is invalid"}]
    assert webhook("stripe_payment_intent_succeeded.json")[1] == {
        "status": "queued", "reason": "dead_lettered", "event_ids": [PI]}
    [message] = sqs_messages("DEAD_LETTER_QUEUE_URL")
    assert message["reason"]["code"] == 40105


def test_queue_down_on_a_transient_failure_answers_500(demo, tiktok, runtime):
    tiktok.script = [503]
    runtime.retry_queue.url = "https://sqs.us-east-1.amazonaws.com/123456789012/gone"
    status, body = webhook("stripe_payment_intent_succeeded.json")
    assert status == 500 and body["error"]["code"] == "retry_later"
    # Nothing was recorded: Stripe's redelivery is sent, not taken for a duplicate.
    runtime.retry_queue.url = os.environ["RETRY_QUEUE_URL"]
    assert webhook("stripe_payment_intent_succeeded.json")[1]["status"] == "queued"


def test_unreadable_tables_answer_500_so_stripe_redelivers(demo, tiktok, runtime):
    runtime.campaigns.table = "NoSuchTable"
    status, body = webhook("stripe_payment_intent_succeeded.json")
    assert (status, body["error"]["code"]) == (500, "retry_later")
    assert tiktok.calls == []


def test_logs_and_answers_carry_no_raw_email_or_secret(demo, tiktok, caplog):
    post_beacon(beacon_body())
    for name in SAMPLES:
        answer = webhook(name)[1]
        assert "example.com" not in json.dumps(answer)
    out = logged(caplog)
    assert "stripe event handled" in out
    assert "example.com" not in out.lower() and SECRET not in out and TOKEN not in out
