"""Stripe event → conversion mapping (docs/design.md §4, §6.3): pure functions, no AWS."""

import json
import subprocess
import sys
from dataclasses import replace
from decimal import Decimal

import pytest
import stripe
from hypothesis import given, settings
from hypothesis import strategies as st
from zellify_tiktok.campaign import CampaignSettings
from zellify_tiktok.events import EVENT_TABLE
from zellify_tiktok.hashing import hash_email, hash_external_id, hash_phone
from zellify_tiktok.payload import json_number, tiktok_event
from zellify_tiktok.records import Checkout, SessionRecord
from zellify_tiktok.server_event import Content, UserData
from zellify_tiktok.stripe_mapping import (
    STRIPE_RULES,
    THREE_DECIMAL_CURRENCIES,
    ZERO_DECIMAL_CURRENCIES,
    Conversion,
    Ignored,
    SubscriptionCheck,
    conversion_event,
    conversion_user,
    first_payment_key,
    major_units,
    map_event,
    parse_contents,
)

from tests.stripe_webhooks import SAMPLE_SECRET, SAMPLES, sample, stripe_event

SESSION = "5f0c2b1e-8d7a-4c1b-9e0f-0a1b2c3d4e5f"
TRIAL_SESSION = "8c1d7e2f-3a4b-4c5d-9e6f-7a8b9c0d1e2f"
PI = "pi_3SXk2mLkdIwHu7ix0Ab1Cd2E"
INVOICE = "in_1SXkC7LkdIwHu7ixLm5No6Pq"
SUB = "sub_1SXkC7LkdIwHu7ixZa1Bc2De"
SUB_TRIAL = "sub_1SXkD9LkdIwHu7ixFg3Hi4Jk"
ANN = hash_email("ann@example.com")
# What every function refuses to start without (values that name nothing: no AWS call is made here).
REQUIRED_SETTINGS = {name: "x" for name in ("CAMPAIGNS_TABLE", "SESSIONS_TABLE", "SENT_EVENTS_TABLE", "HEALTH_TABLE",
                                            "DELIVERY_QUEUE_URL", "DEAD_LETTER_QUEUE_URL", "SECRET_PREFIX",
                                            "STRIPE_SECRET_NAME")}
CAMPAIGN = CampaignSettings(campaign_id="demo", pixel_id="C4ABCDEF0123456789AB", has_token=True)


def tiktok_json(conversion, campaign=CAMPAIGN, session=None) -> dict:
    return tiktok_event(conversion_event(conversion, campaign, session))


def conversion_properties(conversion, session) -> dict:
    return tiktok_json(conversion, session=session).get("properties", {})


def conversion_of(name: str, change=None) -> Conversion | Ignored:
    event = stripe_event(name)
    if change:
        change(event["data"]["object"])
    return map_event(event)


# -- amounts ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("amount", "currency", "expected", "sent"), [
    (1999, "USD", "19.99", 19.99),
    (1000, "USD", "10.00", 10),
    (1, "EUR", "0.01", 0.01),
    (500, "JPY", "500", 500),
    (1234, "KWD", "1.234", 1.234),
    (1000, "BHD", "1.000", 1),
    (0, "USD", "0.00", 0),
])
def test_minor_to_major_units_is_exact(amount, currency, expected, sent):
    value = major_units(amount, currency)
    assert value == Decimal(expected) and str(value) == expected
    assert json_number(value) == sent


@given(amount=st.integers(min_value=0, max_value=99_999_999),
       currency=st.sampled_from(["USD", "EUR", "GBP", *ZERO_DECIMAL_CURRENCIES, *THREE_DECIMAL_CURRENCIES]))
def test_major_units_round_trip_without_loss(amount, currency):
    exponent = 0 if currency in ZERO_DECIMAL_CURRENCIES else 3 if currency in THREE_DECIMAL_CURRENCIES else 2
    value = major_units(amount, currency)
    assert value * 10**exponent == amount
    assert -value.as_tuple().exponent <= exponent  # never 19.990000001


@pytest.mark.parametrize(("currency", "amount", "value"), [("usd", 1999, Decimal("19.99")),
                                                           ("jpy", 500, Decimal(500)),
                                                           ("kwd", 1234, Decimal("1.234"))])
def test_payment_intent_value_in_each_currency_class(currency, amount, value):
    def change(pi):
        pi.update(currency=currency, amount=amount, amount_received=amount)

    conversion = conversion_of("stripe_payment_intent_succeeded.json", change)
    assert (conversion.value, conversion.currency) == (value, currency.upper())


# -- the table ----------------------------------------------------------------------------------

def test_table_covers_the_design_event_types():
    assert {rule.stripe_type for rule in STRIPE_RULES} == {
        "payment_intent.succeeded", "payment_intent.payment_failed", "invoice.paid", "invoice.payment_failed",
        "checkout.session.completed", "checkout.session.async_payment_succeeded",
        "customer.subscription.created", "customer.subscription.updated",
    }


def test_rules_only_name_server_side_funnel_events_and_valueless_rules_have_fixed_values():
    for rule in STRIPE_RULES:
        spec = EVENT_TABLE[rule.funnel_event]
        assert not spec.beacon, rule
        if rule.amount is None:
            assert spec.fixed_value == 0, rule


@pytest.mark.parametrize("name", SAMPLES)
def test_samples_are_signed_with_the_dev_secret(name):
    event = sample(name, as_stored=True)
    # tolerance=None: the samples are signed at a fixed time; only the signature is checked here.
    assert stripe.WebhookSignature.verify_header(event["body"], event["headers"]["stripe-signature"],
                                                 SAMPLE_SECRET, tolerance=None)
    assert event["routeKey"] == "POST /v1/webhooks/stripe"


EXPECTED = {
    "stripe_payment_intent_succeeded.json": ("payment_succeeded", PI, Decimal("9.99"), "USD", SESSION),
    "stripe_payment_intent_payment_failed.json": (
        "payment_failed", "pi_3SXk9qLkdIwHu7ix1Kl5Mn6O:ch_3SXk9qLkdIwHu7ix1Pq7Rs8T", Decimal("9.99"), "USD", SESSION),
    "stripe_invoice_paid_subscription_create.json": ("payment_succeeded", INVOICE, Decimal("29.99"), "USD", SESSION),
    "stripe_invoice_paid_subscription_cycle.json": (
        "payment_succeeded", "in_1TAbE2LkdIwHu7ixRs7Tu8Vw", Decimal("29.99"), "USD", TRIAL_SESSION),
    "stripe_invoice_payment_failed.json": (
        "payment_failed", "in_1SXkF3LkdIwHu7ixXy9Za0Bc:1", Decimal("29.99"), "USD", SESSION),
    "stripe_checkout_session_completed_payment.json": ("payment_succeeded", PI, Decimal("9.99"), "USD", SESSION),
    "stripe_checkout_session_completed_subscription.json": (
        "payment_succeeded", INVOICE, Decimal("29.99"), "USD", SESSION),
    "stripe_checkout_session_async_payment_succeeded.json": (
        "payment_succeeded", "pi_3SXkB4LkdIwHu7ix2Uv9Wx0Y", Decimal("49.00"), "EUR", SESSION),
    "stripe_customer_subscription_created_trialing.json": ("trial_started", SUB_TRIAL, Decimal(0), "USD",
                                                           TRIAL_SESSION),
    "stripe_customer_subscription_created_active.json": ("subscription_started", SUB, Decimal(0), "USD", SESSION),
    "stripe_customer_subscription_updated_trialing_active.json": ("subscription_started", SUB_TRIAL, Decimal(0),
                                                                  "USD", TRIAL_SESSION),
}


def test_every_sample_is_expected():
    assert set(EXPECTED) == set(SAMPLES)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_sample_maps_to_its_conversion(name):
    funnel_event, event_id, value, currency, session_id = EXPECTED[name]
    conversion = conversion_of(name)
    assert isinstance(conversion, Conversion)
    assert (conversion.funnel_event, conversion.event_id, conversion.value, conversion.currency) == (
        funnel_event, event_id, value, currency)
    assert (conversion.campaign_id, conversion.session_id) == ("demo", session_id)
    assert conversion.event_time == stripe_event(name)["created"]


def test_checkout_session_and_its_payment_intent_build_the_same_event():
    session = conversion_of("stripe_checkout_session_completed_payment.json")
    payment = conversion_of("stripe_payment_intent_succeeded.json")
    assert tiktok_json(session) == {**tiktok_json(payment), "event_time": session.event_time}


def test_subscription_checkout_and_its_invoice_build_the_same_event():
    session = conversion_of("stripe_checkout_session_completed_subscription.json")
    invoice = conversion_of("stripe_invoice_paid_subscription_create.json")
    assert (session.event_id, session.subscription_id, session.subscription_check) == (
        invoice.event_id, invoice.subscription_id, SubscriptionCheck.FIRST_PAYMENT)
    assert tiktok_json(session) == {**tiktok_json(invoice), "event_time": session.event_time}


def test_subscription_checks():
    assert conversion_of("stripe_invoice_paid_subscription_cycle.json").subscription_check is (
        SubscriptionCheck.FIRST_PAYMENT)
    assert conversion_of("stripe_invoice_payment_failed.json").subscription_check is SubscriptionCheck.UNPAID_ONLY
    assert conversion_of("stripe_payment_intent_succeeded.json").subscription_check is SubscriptionCheck.NONE
    assert conversion_of("stripe_checkout_session_completed_payment.json").subscription_id is None
    assert first_payment_key(SUB) == f"first-payment:{SUB}"


# -- event ids ----------------------------------------------------------------------------------

def test_payment_failure_id_falls_back_to_the_error_charge_then_to_the_payment_intent():
    def error_charge_only(pi):
        pi["latest_charge"] = None

    def no_charge(pi):
        pi.update(latest_charge=None, last_payment_error={"code": "card_declined"})

    name = "stripe_payment_intent_payment_failed.json"
    assert conversion_of(name, error_charge_only).event_id == "pi_3SXk9qLkdIwHu7ix1Kl5Mn6O:ch_3SXk9qLkdIwHu7ix1Pq7Rs8T"
    assert conversion_of(name, no_charge).event_id == "pi_3SXk9qLkdIwHu7ix1Kl5Mn6O"


def test_each_invoice_attempt_is_its_own_payment_failed():
    assert conversion_of("stripe_invoice_payment_failed.json",
                         lambda inv: inv.update(attempt_count=3)).event_id == "in_1SXkF3LkdIwHu7ixXy9Za0Bc:3"


# -- funnel ids ---------------------------------------------------------------------------------

def test_invoice_metadata_from_older_api_versions():
    def legacy(inv):
        details = inv.pop("parent")["subscription_details"]
        inv["subscription"] = details["subscription"]
        inv["subscription_details"] = {"metadata": details["metadata"]}

    conversion = conversion_of("stripe_invoice_paid_subscription_create.json", legacy)
    assert (conversion.campaign_id, conversion.session_id, conversion.subscription_id) == ("demo", SESSION, SUB)


def test_checkout_session_id_is_the_client_reference_id_unless_metadata_names_one():
    name = "stripe_checkout_session_completed_payment.json"
    assert conversion_of(name).session_id == SESSION
    assert conversion_of(name, lambda cs: cs["metadata"].update(zellify_session_id="other-session")).session_id == (
        "other-session")
    assert conversion_of(name, lambda cs: cs.update(client_reference_id=None)) == Ignored("no_funnel_metadata", PI)


@pytest.mark.parametrize(("metadata", "reason"), [
    ({}, "no_funnel_metadata"),
    ({"zellify_campaign_id": "demo"}, "no_funnel_metadata"),
    ({"zellify_session_id": SESSION}, "no_funnel_metadata"),
    ({"zellify_campaign_id": "demo/../x", "zellify_session_id": SESSION}, "invalid_funnel_metadata"),
    ({"zellify_campaign_id": "demo", "zellify_session_id": "has spaces"}, "invalid_funnel_metadata"),
    ({"zellify_campaign_id": "demo", "zellify_session_id": "x" * 129}, "invalid_funnel_metadata"),
])
def test_missing_or_invalid_funnel_metadata_is_ignored(metadata, reason):
    assert conversion_of("stripe_payment_intent_succeeded.json", lambda pi: pi.update(metadata=metadata)) == (
        Ignored(reason, PI))


# -- conditions ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "change", "reason"), [
    ("stripe_invoice_paid_subscription_create.json", lambda o: o.update(amount_paid=0), "zero_amount"),
    ("stripe_checkout_session_completed_payment.json", lambda o: o.update(payment_status="unpaid"), "not_paid"),
    ("stripe_checkout_session_completed_subscription.json",
     lambda o: o.update(payment_status="no_payment_required"), "not_paid"),
    ("stripe_checkout_session_completed_subscription.json", lambda o: o.update(amount_total=0), "zero_amount"),
    ("stripe_payment_intent_succeeded.json", lambda o: o.update(invoice="in_123"), "invoice_payment"),
    ("stripe_payment_intent_payment_failed.json", lambda o: o.update(invoice="in_123"), "invoice_payment"),
    ("stripe_customer_subscription_created_active.json", lambda o: o.update(status="incomplete"),
     "status_not_reported"),
])
def test_events_that_report_nothing(name, change, reason):
    assert conversion_of(name, change).reason == reason


@pytest.mark.parametrize(("before", "after", "reported"), [
    ("trialing", "active", True),
    ("incomplete", "active", True),
    ("past_due", "active", False),
    ("active", "past_due", False),
    (None, "active", False),
])
def test_subscription_updates_report_only_the_start(before, after, reported):
    event = stripe_event("stripe_customer_subscription_updated_trialing_active.json")
    event["data"]["object"]["status"] = after
    event["data"]["previous_attributes"] = {"status": before} if before else {"cancel_at_period_end": True}
    conversion = map_event(event)
    assert isinstance(conversion, Conversion) is reported
    if not reported:
        assert conversion == Ignored("status_not_reported")


def test_unknown_types_and_shapes_are_ignored():
    assert map_event({**stripe_event("stripe_payment_intent_succeeded.json"), "type": "charge.refunded"}) == (
        Ignored("unhandled_event_type"))
    assert map_event([1, 2]) == Ignored("malformed_event")
    assert map_event(None) == Ignored("malformed_event")
    event = stripe_event("stripe_payment_intent_succeeded.json")
    assert map_event({**event, "data": {"object": "pi_123"}}) == Ignored("malformed_event")
    assert map_event({**event, "created": "yesterday"}) == Ignored("malformed_event")
    for change in ({"amount_received": "999"}, {"amount_received": -1}, {"amount_received": True},
                   {"currency": "us dollars"}, {"currency": None}, {"id": None}, {"id": "pi_" + "x" * 300},
                   {"id": "pi_1/../x"}):
        assert conversion_of("stripe_payment_intent_succeeded.json", lambda pi, c=change: pi.update(c)) == (
            Ignored("malformed_event")), change


JUNK = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=5),
                 st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(SAMPLES), data=st.data())
def test_any_shape_maps_or_is_ignored_never_raises(name, data):
    event = stripe_event(name)
    targets = [event, event["data"], event["data"]["object"]]
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        target = data.draw(st.sampled_from(targets))
        key = data.draw(st.sampled_from(sorted(target) or ["id"]))
        target[key] = data.draw(JUNK)
    assert isinstance(map_event(event), Conversion | Ignored)


# -- contents -----------------------------------------------------------------------------------

def test_contents_metadata_parses():
    assert parse_contents('[{"content_id": "plan_pro", "content_name": "Pro plan", "quantity": 2, '
                          '"price": 9.99}]') == (Content(content_id="plan_pro", content_name="Pro plan",
                                                          quantity=2, price=Decimal("9.99")),)
    # TikTok refuses a numeric content_id: it becomes the string it means; quantity defaults to 1.
    assert parse_contents('[{"content_id": 42}]') == (Content(content_id="42", quantity=1),)


@pytest.mark.parametrize("raw", [
    None, 7, "", "not json", "{}", "[]", '"plan"', '[{"content_id": "a"}, 3]', '[{"quantity": 1}]',
    '[{"content_id": "a", "quantity": 0}]', '[{"content_id": "a", "quantity": true}]',
    '[{"content_id": "a", "price": "9.99"}]', '[{"content_id": "a", "price": -1}]',
    '[{"content_id": "a", "price": NaN}]', '[{"content_id": "a", "price": 1e400}]', '[{"content_id": true}]',
    json.dumps([{"content_id": str(i)} for i in range(51)]), "[" * 100_000,
])
def test_contents_metadata_that_does_not_parse_is_dropped(raw):
    assert parse_contents(raw) is None


def test_complete_payment_contents_come_from_metadata_then_session_then_the_payment():
    conversion = conversion_of("stripe_payment_intent_succeeded.json")
    session = SessionRecord(user=UserData(), last_checkout=Checkout(
        Decimal("5"), "USD", (Content(content_id="plan_basic", quantity=2, price=Decimal("2.5")),)))
    assert conversion_properties(conversion, session) == {
        "value": 9.99, "currency": "USD", "content_type": "product", "num_items": 1,
        "contents": [{"content_id": "plan_pro", "content_name": "Pro plan", "quantity": 1, "price": 9.99}],
    }
    without_metadata = conversion_of("stripe_payment_intent_succeeded.json",
                                     lambda pi: pi["metadata"].pop("zellify_contents"))
    assert conversion_properties(without_metadata, session) == {
        "value": 9.99, "currency": "USD", "content_type": "product", "num_items": 2,
        "contents": [{"content_id": "plan_basic", "quantity": 2, "price": 2.5}],
    }
    assert conversion_properties(without_metadata, None) == {
        "value": 9.99, "currency": "USD", "content_type": "product", "num_items": 1,
        "contents": [{"content_id": PI, "quantity": 1, "price": 9.99}],
    }


def test_other_events_carry_value_and_currency_only():
    assert conversion_properties(conversion_of("stripe_payment_intent_payment_failed.json"), None) == {
        "value": 9.99, "currency": "USD"}
    assert conversion_properties(conversion_of("stripe_customer_subscription_created_trialing.json"), None) == {
        "value": 0, "currency": "USD"}


# -- user data ----------------------------------------------------------------------------------

def test_user_data_comes_from_the_session_record():
    conversion = conversion_of("stripe_payment_intent_succeeded.json")
    user = UserData(external_id=hash_external_id(SESSION), email=hash_email("beacon@example.com"), ttp="ttp-1",
                    ttclid="E.C.P.x", ip="203.0.113.9", user_agent="Mozilla/5.0")
    assert conversion_user(conversion, SessionRecord(user=user, consent=True)) == user


def test_without_a_session_the_hashed_session_id_and_the_stripe_email():
    conversion = conversion_of("stripe_payment_intent_succeeded.json")  # receipt_email "Ann@Example.com"
    assert conversion_user(conversion, None).present() == {"external_id": hash_external_id(SESSION), "email": ANN}
    assert conversion_user(conversion, SessionRecord(user=UserData(ttp="ttp-1"))).present() == {
        "external_id": hash_external_id(SESSION), "email": ANN, "ttp": "ttp-1"}


def test_a_checkout_sessions_phone_is_hashed_in_e164_and_a_session_phone_wins():
    name = "stripe_checkout_session_completed_payment.json"
    with_phone = conversion_of(name, lambda cs: cs["customer_details"].update(phone="+1 (415) 555-0100"))
    assert with_phone.phone_hash == hash_phone("+14155550100") and "415" not in repr(with_phone)
    assert conversion_user(with_phone, None).phone == hash_phone("+14155550100")
    own = hash_phone("+442071838750")
    assert conversion_user(with_phone, SessionRecord(user=UserData(phone=own))).phone == own
    assert conversion_of(name, lambda cs: cs["customer_details"].update(phone="call me")).phone_hash is None


@pytest.mark.parametrize(("name", "field"), [
    ("stripe_invoice_paid_subscription_create.json", "customer_email"),
    ("stripe_checkout_session_completed_payment.json", "customer_details"),
])
def test_stripe_emails_are_hashed_at_once(name, field):
    conversion = conversion_of(name)
    assert conversion.email_hash == ANN
    assert "example.com" not in repr(conversion)
    invalid = conversion_of(name, lambda o: o.update({field: "not-an-email" if field != "customer_details" else {}}))
    assert invalid.email_hash is None


def test_the_tiktok_event_honours_the_campaign():
    campaign = replace(CAMPAIGN, event_names={"payment_succeeded": "Purchase"}, limited_data_use=True)
    event = tiktok_json(conversion_of("stripe_payment_intent_succeeded.json"), campaign)
    assert (event["event"], event["event_id"], event["limited_data_use"]) == ("Purchase", PI, True)
    assert event["event_time"] == stripe_event("stripe_payment_intent_succeeded.json")["created"]
    assert "page" not in event


def test_the_layer_and_the_collector_never_import_stripe():
    code = ("import sys; import zellify_tiktok.stripe_mapping, zellify_tiktok.services.payment_webhook, collect_app; "
            "assert 'stripe' not in sys.modules, 'stripe imported'")
    from tests.conftest import ROOT

    env_path = [str(ROOT / "layers" / "shared"), str(ROOT / "functions" / "collect")]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={"PYTHONPATH": ":".join(env_path), "AWS_DEFAULT_REGION": "us-east-1",
                                 "PATH": "/usr/bin:/bin", **REQUIRED_SETTINGS}, check=False)
    assert result.returncode == 0, result.stderr
