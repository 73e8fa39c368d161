"""The one delivery path (docs/design.md §7): the request queues, the DeliveryFunction delivers in batches.

Handlers under moto; the DeliveryFunction is invoked as its SQS event source mapping would invoke it
(tests/integration/delivery_source.py), over virtual time where backoffs matter.
"""

import json
import time
from dataclasses import replace

import boto3
from zellify_tiktok.messages import DeliveryMessage

from tests.integration.delivery_source import DeliveryEventSource, peek, sent_batches, visibility_changes
from tests.integration.helpers import (
    DeliveryContext,
    beacon_body,
    deliver_queued,
    health_totals,
    post_beacon,
    put_settings,
    run_health_function,
)
from tests.integration.virtual_time import VirtualContext

HOUR_S = 3600


def page_views(*event_ids: str) -> list[dict]:
    return [{"event": "page_view", "event_id": event_id} for event_id in event_ids]


def queued_bodies(aws) -> list[str]:
    """The DeliveryQueue's visible message bodies, left where they are."""
    got = boto3.client("sqs").receive_message(QueueUrl=aws["DELIVERY_QUEUE_URL"], MaxNumberOfMessages=10,
                                              VisibilityTimeout=0).get("Messages", [])
    return [message["Body"] for message in got]


def test_a_beacon_is_answered_with_one_send_message_and_no_tiktok_call(runtime, tiktok, aws):
    put_settings()
    with sent_batches() as sent:
        status, _, body = post_beacon(beacon_body(), deliver=False)
    assert status == 202 and len(body["accepted"]) == 4
    assert tiktok.calls == []
    assert [batch["QueueUrl"] for batch in sent] == [aws["DELIVERY_QUEUE_URL"]]
    [message] = [DeliveryMessage.model_validate_json(b) for b in queued_bodies(aws)]
    assert [e.event_id for e in message.events] == body["accepted"] and message.reason is None


def test_twenty_beacons_reach_tiktok_in_one_call(runtime, tiktok, aws):
    put_settings()
    for n in range(20):
        status, _, _ = post_beacon(beacon_body(events=page_views(f"batch-{n}")), deliver=False)
        assert status == 202
    deliver_queued()
    assert len(tiktok.calls) == 1
    assert sorted(tiktok.accepted_ids()) == sorted(f"batch-{n}" for n in range(20))
    assert DeliveryEventSource(aws).depth() == 0


def test_a_message_delivered_twice_by_sqs_sends_its_events_once(runtime, tiktok, aws):
    """SQS delivers at least once; a producer whose SendMessageBatch partly failed sends the same body again."""
    put_settings()
    post_beacon(beacon_body(events=page_views("twice-a", "twice-b")), deliver=False)
    [body] = queued_bodies(aws)
    boto3.client("sqs").send_message(QueueUrl=aws["DELIVERY_QUEUE_URL"], MessageBody=body)
    deliver_queued()  # both copies in one batch: sent once, the second settled by the first
    boto3.client("sqs").send_message(QueueUrl=aws["DELIVERY_QUEUE_URL"], MessageBody=body)
    deliver_queued()  # a later copy: found in the ledger
    assert sorted(tiktok.accepted_ids()) == ["twice-a", "twice-b"]
    assert len(tiktok.calls) == 1
    run_health_function(aws)
    totals = health_totals(runtime, "demo", tiktok.calls[0]["at"])
    # Only the later copy counts as repeats: the ledger cannot tell it from the funnel sending them again.
    assert totals["sent"] == 2 and totals["duplicates"] == 2 and totals["queued"] == 0


def test_an_unparseable_message_is_dead_lettered_with_its_reason_and_the_rest_delivered(runtime, tiktok, aws):
    put_settings()
    post_beacon(beacon_body(events=page_views("good-1")), deliver=False)
    boto3.client("sqs").send_message(QueueUrl=aws["DELIVERY_QUEUE_URL"], MessageBody="{not json")
    answers = deliver_queued()
    assert answers == [{"batchItemFailures": []}]
    assert tiktok.accepted_ids() == ["good-1"]
    [dead] = peek(aws["DEAD_LETTER_QUEUE_URL"])
    assert dead["kind"] == "unreadable" and dead["reason"] == {"kind": "unreadable", "message": "not JSON"}
    assert dead["body"] == "{not json"


def test_a_tiktok_outage_is_retried_with_doubling_backoff_and_delivered_once_it_ends(runtime, tiktok, aws, clock):
    put_settings()
    tiktok.add_fault({"http_status": 503, "times": 5})
    post_beacon(beacon_body(events=page_views("outage-1")), deliver=False)
    source = DeliveryEventSource(aws)
    with visibility_changes() as backoffs, sent_batches() as sent:
        for _ in range(6):
            answer = source.poll(VirtualContext(clock, 30))
            assert answer is not None
            clock.advance(HOUR_S)
    # The first failure leaves as a copy delayed 30 s (it then counts as queued), later ones back off in place.
    assert [entry["DelaySeconds"] for batch in sent for entry in batch["Entries"]] == [30]
    assert backoffs == [60, 120, 240, 480]
    assert answer == {"batchItemFailures": []}
    assert tiktok.accepted_ids() == ["outage-1"] and source.depth() == 0 and source.dead_letter_depth() == 0
    run_health_function(aws)
    assert health_totals(runtime, "demo", clock()) == {"sent": 1, "duplicates": 0, "queued": 0, "dead_lettered": 0}


def test_events_waiting_for_a_retry_count_as_queued_and_leave_it_once_sent(runtime, tiktok, aws, clock):
    put_settings()
    tiktok.add_fault({"http_status": 503})
    post_beacon(beacon_body(events=page_views("wait-1", "wait-2")), deliver=False)
    assert health_totals(runtime, "demo", clock())["queued"] == 0  # a first delivery waits for nothing
    source = DeliveryEventSource(aws)
    source.poll(VirtualContext(clock, 30))
    assert health_totals(runtime, "demo", clock())["queued"] == 2
    clock.advance(31)
    source.poll(VirtualContext(clock, 30))
    assert health_totals(runtime, "demo", clock())["queued"] == 0


def test_a_refusal_is_dead_lettered_with_tiktoks_code_and_message(runtime, tiktok, aws):
    put_settings()
    tiktok.add_fault({"code": 40001, "message": "no permission"})
    post_beacon(beacon_body(events=page_views("refused-1")))
    [dead] = peek(aws["DEAD_LETTER_QUEUE_URL"])
    assert [e["event_id"] for e in dead["events"]] == ["refused-1"]
    assert dead["reason"]["kind"] == "refused" and dead["reason"]["code"] == 40001
    assert dead["reason"]["message"] == "no permission"
    assert "tt-access-token" not in json.dumps(dead)


def test_a_first_payment_record_dynamodb_leaves_unprocessed_is_never_counted_as_written(runtime, tiktok, aws,
                                                                                         monkeypatch):
    """The event stays unanswered (its message is retried); the next delivery finds the event in the ledger and
    writes the record alone, without a second TikTok call."""
    from zellify_tiktok.handoff import submit
    from zellify_tiktok.records import LedgerRecord
    from zellify_tiktok.repositories.aws import client

    put_settings()
    runtime.config = replace(runtime.config, retry_backoff_base_s=0)  # the retry at once
    record = LedgerRecord("first-payment:sub_unprocessed", 400 * 86400)
    event = page_view_event(runtime, "unprocessed-1")
    submit(runtime.delivery_queue, campaign_id="demo", pixel_id=event_pixel(runtime), test_event_code=None,
           events=[event], source="stripe", ledger_records=[record], now=time.time())
    dynamodb = client("dynamodb")
    real_write = dynamodb.batch_write_item

    def leave_the_record_unprocessed(RequestItems):
        table, puts = next(iter(RequestItems.items()))
        kept = [p for p in puts if p["PutRequest"]["Item"]["pk"]["S"] != record.key]
        left = [p for p in puts if p["PutRequest"]["Item"]["pk"]["S"] == record.key]
        answer = real_write(RequestItems={table: kept}) if kept else {}
        return {**answer, "UnprocessedItems": {table: left} if left else {}}

    monkeypatch.setattr(dynamodb, "batch_write_item", leave_the_record_unprocessed)
    source = DeliveryEventSource(aws)
    assert source.poll(DeliveryContext()) == {"batchItemFailures": []}
    assert ledger_item(aws, record.key) is None
    assert source.depth() == 1, "the event waits for a retry: its record was not written"
    monkeypatch.setattr(dynamodb, "batch_write_item", real_write)
    assert source.poll(DeliveryContext()) == {"batchItemFailures": []}
    assert ledger_item(aws, record.key) is not None and source.depth() == 0
    assert tiktok.accepted_ids() == ["unprocessed-1"], "sent once; the retry only wrote the record"


def page_view_event(runtime, event_id: str):
    from zellify_tiktok.server_event import ServerEvent, UserData

    return ServerEvent(funnel_event="page_view", name="PageView", event_id=event_id, event_time=int(time.time()),
                       user=UserData(external_id="a" * 64))


def event_pixel(runtime) -> str:
    return runtime.campaigns.get("demo").pixel_id


def ledger_item(aws, key: str) -> dict | None:
    return boto3.client("dynamodb").get_item(TableName=aws["SENT_EVENTS_TABLE"], Key={"pk": {"S": key}}).get("Item")
