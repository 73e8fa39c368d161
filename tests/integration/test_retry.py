import json
import os

import boto3
import delivery_app
from zellify_tiktok.services.delivery import backoff_seconds

from tests.integration.conftest import LambdaContext
from tests.integration.delivery_source import sqs_operations, visibility_changes
from tests.integration.helpers import beacon_body, post_beacon, put_settings


def sqs_event(queue_env: str, aws: dict) -> dict:
    """Receive what is on the queue and shape it as Lambda's SQS event."""
    sqs = boto3.client("sqs")
    records = []
    while True:
        got = sqs.receive_message(QueueUrl=aws[queue_env], MaxNumberOfMessages=10,
                                  AttributeNames=["All"]).get("Messages", [])
        if not got:
            break
        for m in got:
            records.append({"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                            "attributes": m["Attributes"], "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                            "eventSource": "aws:sqs",
                            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:DeliveryQueue",
                            "awsRegion": "us-east-1"})
    return {"Records": records}


def queue_beacons(tiktok, count: int, events_per_beacon: int = 3, *, retried: bool = False) -> None:
    """`count` beacons' messages on the DeliveryQueue, not delivered yet; with `retried`, as the copies a first
    failed delivery leaves (attempts 1: their events wait for a retry)."""
    for b in range(count):
        events = [{"event": "page_view", "event_id": f"b{b}-e{i}"} for i in range(events_per_beacon)]
        assert post_beacon(beacon_body(events=events, session_id=f"s{b}"), deliver=False)[0] == 202
    if retried:
        sqs = boto3.client("sqs")
        url = os.environ["DELIVERY_QUEUE_URL"]
        for record in sqs_event("DELIVERY_QUEUE_URL", os.environ)["Records"]:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=record["receiptHandle"])
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({**json.loads(record["body"]), "attempts": 1}))


def test_queued_events_are_delivered_in_one_grouped_call(runtime, tiktok, aws):
    put_settings()
    queue_beacons(tiktok, 12)
    tiktok.calls.clear()
    event = sqs_event("DELIVERY_QUEUE_URL", aws)
    assert len(event["Records"]) == 12
    response = delivery_app.lambda_handler(event, LambdaContext())
    assert response == {"batchItemFailures": []}
    assert len(tiktok.calls) == 1 and len(tiktok.events) == 36
    # Delivered events are in the ledger: a redelivered message sends nothing.
    response = delivery_app.lambda_handler(event, LambdaContext())
    assert len(tiktok.calls) == 1


def test_transient_failure_reports_the_records_and_backs_off(runtime, tiktok, aws):
    put_settings()
    queue_beacons(tiktok, 2, retried=True)
    config = runtime.config
    sqs = boto3.client("sqs")
    for receives in (1, 2):
        event = sqs_event("DELIVERY_QUEUE_URL", aws)
        assert {r["attributes"]["ApproximateReceiveCount"] for r in event["Records"]} == {str(receives)}
        tiktok.script = [{"code": 40100, "message": "Too many requests"}]
        with visibility_changes() as visibility:
            response = delivery_app.lambda_handler(event, LambdaContext())
        assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == sorted(
            r["messageId"] for r in event["Records"])
        # Each record hidden for exactly its backoff: 60 s after its second failed delivery, 120 s after its third.
        failures = 1 + receives
        backoff = backoff_seconds(failures, base_s=config.retry_backoff_base_s, cap_s=config.retry_backoff_cap_s)
        assert backoff == 30 * 2 ** receives
        assert visibility == [backoff, backoff]
        assert sqs.receive_message(QueueUrl=aws["DELIVERY_QUEUE_URL"]).get("Messages") is None
        for record in event["Records"]:  # the backoff waited out
            sqs.change_message_visibility(QueueUrl=aws["DELIVERY_QUEUE_URL"], ReceiptHandle=record["receiptHandle"],
                                          VisibilityTimeout=0)


def test_a_failed_batch_backs_off_ten_records_a_call(runtime, tiktok, aws):
    # After an outage a batch holds up to 1000 records: one call per record could outlast the function.
    put_settings()
    queue_beacons(tiktok, 25, events_per_beacon=1, retried=True)
    event = sqs_event("DELIVERY_QUEUE_URL", aws)
    tiktok.script = [503]
    with sqs_operations() as calls, visibility_changes() as visibility:
        response = delivery_app.lambda_handler(event, LambdaContext())
    assert len(response["batchItemFailures"]) == 25
    assert calls == ["ChangeMessageVisibilityBatch"] * 3
    assert visibility == [60] * 25


def test_a_refused_backoff_still_reports_the_records(runtime, tiktok, aws, service_logs):
    put_settings()
    queue_beacons(tiktok, 2, events_per_beacon=1, retried=True)
    event = sqs_event("DELIVERY_QUEUE_URL", aws)
    event["Records"][0]["receiptHandle"] = "no-such-receipt"  # SQS refuses this entry of the batch
    tiktok.script = [503]
    response = delivery_app.lambda_handler(event, LambdaContext())
    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == sorted(
        r["messageId"] for r in event["Records"])
    lines = [json.loads(line) for line in service_logs.getvalue().splitlines()]
    assert [line["records"] for line in lines if line["message"] == "backoff not applied"] == [1]


def test_one_bad_event_is_dead_lettered_and_the_rest_delivered(runtime, tiktok, aws, sqs_messages):
    put_settings()
    queue_beacons(tiktok, 4)
    event = sqs_event("DELIVERY_QUEUE_URL", aws)

    def answer(body):
        bad = any(e["event_id"] == "b2-e1" for e in body["data"])
        return {"code": 40002, "message": "Invalid parameter: data[0]"} if bad else {"code": 0, "message": "OK"}

    tiktok.calls.clear()
    tiktok.script = [answer] * 30
    response = delivery_app.lambda_handler(event, LambdaContext())
    assert response == {"batchItemFailures": []}
    sent = {e["event_id"] for call in tiktok.calls if call["body"]["data"] for e in call["body"]["data"]}
    assert "b2-e1" in sent  # it was tried
    dead = sqs_messages("DEAD_LETTER_QUEUE_URL")
    assert [e["event_id"] for m in dead for e in m["events"]] == ["b2-e1"]
    assert dead[0]["reason"]["code"] == 40002 and "access" not in json.dumps(dead).lower()


def test_unreadable_message_is_dead_lettered(runtime, aws, sqs_messages):
    event = {"Records": [{"messageId": "m1", "receiptHandle": "h", "body": "garbage", "attributes": {}}]}
    assert delivery_app.lambda_handler(event, LambdaContext()) == {"batchItemFailures": []}
    assert sqs_messages("DEAD_LETTER_QUEUE_URL")[0]["kind"] == "unreadable"


def test_deleted_campaign_dead_letters_its_messages(runtime, tiktok, aws, sqs_messages):
    put_settings()
    queue_beacons(tiktok, 1)
    event = sqs_event("DELIVERY_QUEUE_URL", aws)
    from tests.integration.helpers import settings_request

    settings_request("DELETE")
    runtime.campaigns._cache.clear()
    assert delivery_app.lambda_handler(event, LambdaContext()) == {"batchItemFailures": []}
    [parked] = sqs_messages("DEAD_LETTER_QUEUE_URL")
    assert parked["reason"]["kind"] == "no_token" and len(parked["events"]) == 3


def test_sample_sqs_event_is_processed(runtime, tiktok):
    from tests.integration.conftest import load_event

    put_settings()
    response = delivery_app.lambda_handler(load_event("delivery_sqs.json"), LambdaContext())
    assert response == {"batchItemFailures": []}
    assert [e["event_id"] for e in tiktok.events] == ["ev-0001-page", "ev-0002-step"]


def test_groups_beyond_the_time_budget_come_back_at_once_without_spending_a_receive(runtime, tiktok, aws):
    put_settings()
    queue_beacons(tiktok, 2)
    event = sqs_event("DELIVERY_QUEUE_URL", aws)
    tiktok.calls.clear()

    class AlmostOutOfTime(LambdaContext):
        @staticmethod
        def get_remaining_time_in_millis():
            return 4_000

    response = delivery_app.lambda_handler(event, AlmostOutOfTime())
    # The originals are let go; copies, never attempted, are visible again right away with a fresh count.
    assert response == {"batchItemFailures": []}
    assert tiktok.calls == []
    copies = sqs_event("DELIVERY_QUEUE_URL", aws)["Records"]
    assert sorted(json.loads(c["body"])["message_id"] for c in copies) == sorted(
        json.loads(r["body"])["message_id"] for r in event["Records"])
    assert {c["attributes"]["ApproximateReceiveCount"] for c in copies} == {"1"}
    assert {json.loads(c["body"]).get("attempts", 0) for c in copies} == {0}
