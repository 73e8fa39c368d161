"""A subscription's first payment that TikTok refused, end to end (docs/design.md §4 *First-payment records*, §11).

The first-payment record (`first-payment:{subscription_id}`) is written with its event, once TikTok confirmed
it. An event TikTok refused is not: its dead-lettered copy carries the record in `ledger_records`, however
it got there (refused on its first delivery, on a retry after a transient failure, or again by a replay), and
the replay that delivers it writes the record. From then on the subscription's
next invoice is a renewal (`ignored`, `not_first_payment`), and the invoice itself, delivered again by
Stripe, is a `duplicate` while its own ledger item lives (48 h) and a renewal after that.
"""

import json
import os
from dataclasses import replace

import boto3
import payment_app as stripe_app
import pytest
from zellify_tiktok.records import ledger_key
from zellify_tiktok.services.replay import ReplayFilter, replay_dead_letters

from tests.integration.delivery_source import DeliveryEventSource, peek
from tests.integration.helpers import ADMIN_SETTINGS, call, deliver_queued, put_settings
from tests.stripe_webhooks import signed_event, stripe_event

SECRET = "whsec_first_payment"
INVOICE = "in_1SXkC7LkdIwHu7ixLm5No6Pq"
NEXT_INVOICE = "in_1TKxR9LkdIwHu7ixNextMonth"
SUBSCRIPTION = "sub_1SXkC7LkdIwHu7ixZa1Bc2De"
FIRST_PAYMENT = f"first-payment:{SUBSCRIPTION}"
RECORDS = [{"key": FIRST_PAYMENT, "ttl_s": 400 * 86400}]
REFUSED = {"code": 40002, "event_ids": [INVOICE], "times": 1_000_000}


@pytest.fixture
def campaign(runtime, aws):
    """Campaign demo with a token (renewals not reported), and the Stripe signing secret."""
    boto3.client("secretsmanager").create_secret(Name=os.environ["STRIPE_SECRET_NAME"],
                                                 SecretString=json.dumps({"secrets": [SECRET]}))
    assert put_settings()[0] == 200


def invoice_paid(invoice_id: str = INVOICE, billing_reason: str = "subscription_create") -> dict:
    """Stripe's invoice.paid of the subscription's invoice `invoice_id`, signed now: the function's answer."""
    body = stripe_event("stripe_invoice_paid_subscription_create.json")
    body["data"]["object"].update(id=invoice_id, billing_reason=billing_reason)
    status, _, answer = call(stripe_app, signed_event("stripe_invoice_paid_subscription_create.json", body,
                                                      secret=SECRET))
    assert status == 200, answer
    return answer


def ledger_item(aws, key: str) -> dict | None:
    return boto3.client("dynamodb").get_item(TableName=aws["SENT_EVENTS_TABLE"], Key={"pk": {"S": key}}).get("Item")


def replay(runtime) -> list[str]:
    return [item.outcome for item in replay_dead_letters(ReplayFilter(), runtime=runtime)]


def assert_replay_writes_the_record_and_later_invoices_are_renewals(runtime, tiktok, aws) -> None:
    assert ledger_item(aws, FIRST_PAYMENT) is None, "not before the payment reached TikTok"
    tiktok.faults.clear()  # the cause fixed
    assert replay(runtime) == ["replayed"]
    assert tiktok.accepted_ids() == [INVOICE]
    record = ledger_item(aws, FIRST_PAYMENT)
    assert record is not None, "the replay that delivered the first payment wrote its record"
    assert int(record["expires_at"]["N"]) - int(record["sent_at"]["N"]) == 400 * 86400
    assert peek(aws["DEAD_LETTER_QUEUE_URL"]) == []

    # Stripe delivers the invoice again: its own ledger item answers first.
    assert invoice_paid() == {"status": "duplicate", "reason": "already_sent", "event_ids": [INVOICE]}
    # Next month's invoice is a renewal.
    assert invoice_paid(NEXT_INVOICE, "subscription_cycle") == {
        "status": "ignored", "reason": "not_first_payment", "event_ids": [NEXT_INVOICE]}
    # 48 h on, the invoice's own item has expired (TTL; deleted here) and the 400-day record has not.
    pixel = ADMIN_SETTINGS["pixel_id"]
    boto3.client("dynamodb").delete_item(TableName=aws["SENT_EVENTS_TABLE"],
                                         Key={"pk": {"S": ledger_key(pixel, "CompletePayment", INVOICE)}})
    assert invoice_paid() == {"status": "ignored", "reason": "not_first_payment", "event_ids": [INVOICE]}
    assert tiktok.accepted_ids() == [INVOICE], "the first payment reached TikTok once, nothing after it"


QUEUED = {"status": "queued", "reason": "payment_succeeded", "event_ids": [INVOICE]}


def test_a_first_payment_tiktok_refuses_at_once_is_dead_lettered_with_its_record_and_replay_writes_it(
        campaign, runtime, tiktok, aws):
    tiktok.add_fault(REFUSED)
    assert invoice_paid() == QUEUED
    deliver_queued()
    [dead] = peek(aws["DEAD_LETTER_QUEUE_URL"])
    assert dead["reason"]["code"] == 40002 and dead["ledger_records"] == RECORDS
    assert_replay_writes_the_record_and_later_invoices_are_renewals(runtime, tiktok, aws)


def test_a_first_payment_refused_on_a_retry_is_dead_lettered_with_its_record(campaign, runtime, tiktok, aws):
    runtime.config = replace(runtime.config, retry_backoff_base_s=0)  # the retry at once
    tiktok.add_fault({"http_status": 503})
    assert invoice_paid() == QUEUED
    source = DeliveryEventSource(aws)
    assert source.poll() == {"batchItemFailures": []}  # 503: a copy waits for the retry
    tiktok.add_fault(REFUSED)
    assert source.poll() == {"batchItemFailures": []}
    assert source.depth() == 0
    [dead] = peek(aws["DEAD_LETTER_QUEUE_URL"])
    assert (dead["source"], dead["reason"]["code"], dead["attempts"]) == ("stripe", 40002, 1)
    assert dead["ledger_records"] == RECORDS
    assert_replay_writes_the_record_and_later_invoices_are_renewals(runtime, tiktok, aws)


def test_a_first_payment_refused_again_on_replay_keeps_its_record_for_the_next_replay(campaign, runtime, tiktok,
                                                                                      aws):
    tiktok.add_fault(REFUSED)
    assert invoice_paid() == QUEUED
    deliver_queued()
    assert replay(runtime) == ["refused_again"]
    [dead] = peek(aws["DEAD_LETTER_QUEUE_URL"])
    assert dead["reason"]["code"] == 40002 and dead["ledger_records"] == RECORDS
    assert_replay_writes_the_record_and_later_invoices_are_renewals(runtime, tiktok, aws)
