"""DeliveryQueue messages TikTok answered only in part (docs/design.md §7, §9, §11), over virtual time
(tests/integration/virtual_time.py) with the DeliveryFunction invoked as its event source mapping would
(tests/integration/delivery_source.py).

A message some of whose events were answered (sent, or refused for good) while others got no answer is
narrowed to the unanswered ones: a copy of those is queued, delayed by the message's backoff (SQS delays at
most 15 minutes), carrying its failed deliveries in `attempts` and its `queued_at`, and the record is let go.
So an event TikTok took is never sent again and one it refused is dead-lettered once, however long the
rest waits; the health figures follow each event once.

Also: a campaign that cannot be read on a message's last allowed delivery dead-letters it
(`retries_exhausted`), and a DeadLetterQueue that cannot take TikTok's refusals leaves them in their message
(the record failed, nothing escaping as a failed invocation).
"""

import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from zellify_tiktok.access import terminal_operator
from zellify_tiktok.repositories.aws import client
from zellify_tiktok.repositories.queues import MAX_DELAY_S
from zellify_tiktok.services.delivery import backoff_seconds
from zellify_tiktok.services.health import health_view

from local.template import Template
from tests.integration.conftest import ROOT
from tests.integration.delivery_source import (
    DeliveryEventSource,
    peek,
    queue_refusing,
    sent_batches,
    visibility_changes,
)
from tests.integration.helpers import beacon_body, health_totals, post_beacon, put_settings, run_health_function
from tests.integration.virtual_time import VirtualContext

DELIVERY_TIMEOUT_S = next(f.timeout_s for f in Template(ROOT / "template.yaml").functions()
                          if f.name == "DeliveryFunction")
HOUR_S = 3600
POLL_EVERY_S = 20
# One beacon's page views: TikTok takes two, refuses one for good and answers the last one 50000 (SYS_ERROR).
SENT, REFUSED, PENDING = ["nar-a", "nar-b"], ["nar-c"], ["nar-d"]
ALL = SENT + REFUSED + PENDING


def backoff(runtime, failures: int) -> int:
    config = runtime.config
    return backoff_seconds(failures, base_s=config.retry_backoff_base_s, cap_s=config.retry_backoff_cap_s)


def queue_beacon(tiktok, aws, event_ids: list[str]) -> dict:
    """A beacon of page views: one DeliveryQueue message, not delivered yet, whose body is returned."""
    with sent_batches() as sent:  # read as sent: a receive would count in the message's receives
        status, _, body = post_beacon(beacon_body(events=[{"event": "page_view", "event_id": i} for i in event_ids]),
                                      deliver=False)
    assert status == 202 and body["accepted"] == event_ids, body
    [[entry]] = [batch["Entries"] for batch in sent if batch["QueueUrl"] == aws["DELIVERY_QUEUE_URL"]]
    message = json.loads(entry["MessageBody"])
    assert ids(message) == event_ids
    return message


def with_attempts(aws, attempts: int) -> dict:
    """The DeliveryQueue's one message put back as a copy that already failed `attempts` deliveries."""
    sqs = boto3.client("sqs")
    [raw] = sqs.receive_message(QueueUrl=aws["DELIVERY_QUEUE_URL"])["Messages"]
    sqs.delete_message(QueueUrl=aws["DELIVERY_QUEUE_URL"], ReceiptHandle=raw["ReceiptHandle"])
    message = {**json.loads(raw["Body"]), "attempts": attempts}
    sqs.send_message(QueueUrl=aws["DELIVERY_QUEUE_URL"], MessageBody=json.dumps(message))
    return message


def answer_partly(tiktok) -> None:
    """TikTok refuses nar-c (40002: halved until it stands alone) and has no answer for nar-d, until told."""
    tiktok.add_fault({"code": 40002, "event_ids": REFUSED, "times": 1_000_000},
                     {"code": 50000, "event_ids": PENDING, "times": 1_000_000})


def tiktok_back_for_the_pending(tiktok) -> None:
    tiktok.faults = [fault for fault in tiktok.faults if fault.get("code") != 50000]


def calls_carrying(tiktok, event_id: str) -> int:
    return sum(1 for call in tiktok.calls if any(e["event_id"] == event_id for e in call["body"]["data"]))


def ids(message: dict) -> list[str]:
    return [e["event_id"] for e in message["events"]]


def delayed(aws) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=aws["DELIVERY_QUEUE_URL"], AttributeNames=["ApproximateNumberOfMessagesDelayed"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesDelayed"])


def figures(runtime, clock) -> list[dict]:
    return health_view("demo", "24", runtime, now=datetime.fromtimestamp(clock(), UTC),
                       caller=terminal_operator())["events"]


def test_a_partly_answered_message_is_narrowed_until_its_pending_event_is_sent_each_event_answered_once(
        clock, runtime, tiktok, aws):
    put_settings()
    original = queue_beacon(tiktok, aws, ALL)
    answer_partly(tiktok)
    tiktok.calls.clear()
    source = DeliveryEventSource(aws)
    with sent_batches() as sent, visibility_changes() as visibility:
        # The record is let go (no backoff set on it): a narrowed copy takes its place.
        assert source.poll(VirtualContext(clock, DELIVERY_TIMEOUT_S)) == {"batchItemFailures": []}
    assert visibility == []
    # The narrowed copy first: were it refused, nothing of the record would be dead-lettered yet.
    assert [(b["QueueUrl"], [ids(json.loads(e["MessageBody"])) for e in b["Entries"]]) for b in sent] == [
        (aws["DELIVERY_QUEUE_URL"], [PENDING]), (aws["DEAD_LETTER_QUEUE_URL"], [REFUSED])]
    [entry] = sent[0]["Entries"]
    assert entry["DelaySeconds"] == backoff(runtime, 1) == 30
    copy = json.loads(entry["MessageBody"])
    assert copy["attempts"] == 1, "the failed delivery the copy's receive count no longer shows"
    assert (copy["message_id"], copy["queued_at"]) == (original["message_id"], original["queued_at"])
    assert copy["reason"]["kind"] == "transient" and copy["reason"]["code"] == 50000

    # SQS holds the copy back for its delay.
    assert source.depth() == delayed(aws) == 1 and source.receive() == []
    clock.advance(29)
    assert source.receive() == []
    clock.advance(2)
    [record] = source.receive()
    assert record["attributes"]["ApproximateReceiveCount"] == "1" and json.loads(record["body"]) == copy
    # The copy fails as a whole: its record backs off by the second failed delivery's backoff.
    with visibility_changes() as visibility:
        assert len(source.invoke([record], VirtualContext(clock, DELIVERY_TIMEOUT_S))["batchItemFailures"]) == 1
    assert visibility == [backoff(runtime, 2)]
    # (Sent events are counted from the ledger's stream, by the HealthFunction run at the end.)
    assert health_totals(runtime, "demo", clock()) == {"sent": 0, "duplicates": 0, "queued": 1, "dead_lettered": 1}

    # The outage goes on for hours, then TikTok takes nar-d.
    outage_ends = clock() + 3 * HOUR_S
    while clock() < outage_ends:
        source.poll(VirtualContext(clock, DELIVERY_TIMEOUT_S))
        clock.advance(POLL_EVERY_S)
    assert tiktok.accepted_ids() == SENT and calls_carrying(tiktok, "nar-d") > 5
    tiktok_back_for_the_pending(tiktok)
    while source.depth() and clock() < outage_ends + 2 * HOUR_S:
        source.poll(VirtualContext(clock, DELIVERY_TIMEOUT_S))
        clock.advance(POLL_EVERY_S)

    assert source.depth() == 0
    assert Counter(tiktok.accepted_ids()) == Counter(SENT + PENDING), "each answered event sent once"
    # Only the first delivery carried the answered events: the whole call and its first half; nar-c alone too.
    assert calls_carrying(tiktok, "nar-a") == calls_carrying(tiktok, "nar-b") == 2
    assert calls_carrying(tiktok, "nar-c") == 3
    [dead] = peek(aws["DEAD_LETTER_QUEUE_URL"])
    assert ids(dead) == REFUSED and dead["reason"]["code"] == 40002
    run_health_function(aws)
    assert figures(runtime, clock) == [
        {"event": "PageView", "sent": 3, "duplicates": 0, "queued": 0, "dead_lettered": 1}]
    assert health_totals(runtime, "demo", clock()) == {"sent": 3, "duplicates": 0, "queued": 0, "dead_lettered": 1}


def test_in_one_call_a_narrowed_message_is_requeued_and_an_unanswered_one_backs_off_whole(clock, runtime, tiktok,
                                                                                           aws):
    put_settings()
    queue_beacon(tiktok, aws, ALL)
    queue_beacon(tiktok, aws, ["nar-e", "nar-f"])
    answer_partly(tiktok)
    tiktok.calls.clear()
    source = DeliveryEventSource(aws)
    with sent_batches() as sent, visibility_changes() as visibility:
        response = source.poll(VirtualContext(clock, DELIVERY_TIMEOUT_S))
    # One call for both, halved: [a b c] → a, [b c] → b, c refused; [d e f] has no answer (50000 for nar-d).
    assert [[e["event_id"] for e in call["body"]["data"]] for call in tiktok.calls][0] == ALL + ["nar-e", "nar-f"]
    assert tiktok.accepted_ids() == SENT
    # A first delivery leaves as a copy either way: narrowed to nar-d, or whole ([e f]); the two copies come
    # back at the same time for the same pixel, so they travel as one delayed message.
    assert response == {"batchItemFailures": []} and visibility == []
    assert source.depth() == 1 and delayed(aws) == 1
    requeued = [json.loads(e["MessageBody"]) for b in sent if b["QueueUrl"] == aws["DELIVERY_QUEUE_URL"]
                for e in b["Entries"]]
    assert [ids(m) for m in requeued] == [PENDING + ["nar-e", "nar-f"]]
    assert requeued[0]["attempts"] == 1 and requeued[0]["reason"]["code"] == 50000

    clock.advance(backoff(runtime, 1) + 1)
    tiktok_back_for_the_pending(tiktok)
    assert source.poll(VirtualContext(clock, DELIVERY_TIMEOUT_S)) == {"batchItemFailures": []}
    assert source.depth() == 0
    assert Counter(tiktok.accepted_ids()) == Counter(SENT + PENDING + ["nar-e", "nar-f"])
    assert [ids(m) for m in peek(aws["DEAD_LETTER_QUEUE_URL"])] == [REFUSED]
    run_health_function(aws)
    assert health_totals(runtime, "demo", clock()) == {"sent": 5, "duplicates": 0, "queued": 0, "dead_lettered": 1}


@pytest.mark.parametrize("attempts", [0, 3, 5, 9])
def test_a_narrowed_copy_is_delayed_by_its_backoff_at_most_the_15_minutes_sqs_allows(attempts, clock, runtime,
                                                                                   tiktok, aws):
    put_settings()
    queue_beacon(tiktok, aws, ALL)
    original = with_attempts(aws, attempts)
    answer_partly(tiktok)
    source = DeliveryEventSource(aws)
    with sent_batches() as sent:
        assert source.poll(VirtualContext(clock, DELIVERY_TIMEOUT_S)) == {"batchItemFailures": []}
    [entry] = [e for b in sent if b["QueueUrl"] == aws["DELIVERY_QUEUE_URL"] for e in b["Entries"]]
    failures = attempts + 1
    assert entry["DelaySeconds"] == min(backoff(runtime, failures), MAX_DELAY_S)
    assert {0: 30, 3: 240, 5: 900, 9: 900}[attempts] == entry["DelaySeconds"]
    copy = json.loads(entry["MessageBody"])
    assert (ids(copy), copy["attempts"], copy["queued_at"]) == (PENDING, failures, original["queued_at"])
    clock.advance(entry["DelaySeconds"] - 1)
    assert source.receive() == []
    clock.advance(2)
    assert [json.loads(r["body"]) for r in source.receive()] == [copy]


def test_a_narrowed_copy_failing_on_its_last_allowed_delivery_dead_letters_only_its_pending_events(clock, runtime,
                                                                                                  tiktok, aws):
    runtime.config = replace(runtime.config, retry_max_receives=2)
    put_settings()
    queue_beacon(tiktok, aws, ALL)
    answer_partly(tiktok)
    source = DeliveryEventSource(aws)
    assert source.poll(VirtualContext(clock, DELIVERY_TIMEOUT_S)) == {"batchItemFailures": []}
    clock.advance(backoff(runtime, 1) + 1)
    # The copy's first receive is the message's second failed delivery, the last one allowed.
    assert source.poll(VirtualContext(clock, DELIVERY_TIMEOUT_S)) == {"batchItemFailures": []}
    assert source.depth() == 0
    dead = sorted(peek(aws["DEAD_LETTER_QUEUE_URL"]), key=lambda m: m["reason"]["kind"])
    assert [(m["reason"]["kind"], ids(m)) for m in dead] == [("refused", REFUSED), ("retries_exhausted", PENDING)]
    assert dead[1]["reason"]["code"] == 50000
    assert tiktok.accepted_ids() == SENT
    run_health_function(aws)
    assert health_totals(runtime, "demo", clock()) == {"sent": 2, "duplicates": 0, "queued": 0, "dead_lettered": 2}


def test_a_campaign_unreadable_on_the_last_allowed_delivery_dead_letters_the_message_as_retries_exhausted(
        clock, runtime, tiktok, aws):
    runtime.config = replace(runtime.config, retry_max_receives=2)
    put_settings()
    queue_beacon(tiktok, aws, ALL)
    tiktok.calls.clear()
    runtime.campaigns._cache.clear()  # a fresh container: no campaign to serve stale
    reads = []

    def campaign_read_times_out(params, **_):
        if params["TableName"] == aws["CAMPAIGNS_TABLE"]:
            reads.append(params["Key"])
            raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")

    events = client("dynamodb").meta.events
    events.register("provide-client-params.dynamodb.GetItem", campaign_read_times_out, unique_id="campaign-down")
    source = DeliveryEventSource(aws)
    try:
        with visibility_changes() as visibility:
            response = source.poll(VirtualContext(clock, DELIVERY_TIMEOUT_S))
        # The first failed delivery leaves a copy, delayed by its backoff; the second is the last allowed.
        assert response == {"batchItemFailures": []} and visibility == []
        clock.advance(backoff(runtime, 1) + 1)
        assert source.poll(VirtualContext(clock, DELIVERY_TIMEOUT_S)) == {"batchItemFailures": []}
    finally:
        events.unregister("provide-client-params.dynamodb.GetItem", unique_id="campaign-down")

    assert len(reads) == 2 and tiktok.calls == []
    assert source.depth() == 0
    [dead] = peek(aws["DEAD_LETTER_QUEUE_URL"])
    assert dead["reason"]["kind"] == "retries_exhausted" and ids(dead) == ALL
    assert dead["reason"]["message"] == "campaign could not be read: ReadTimeoutError"
    assert health_totals(runtime, "demo", clock()) == {"sent": 0, "duplicates": 0, "queued": 0, "dead_lettered": 4}


def test_a_dead_letter_queue_down_keeps_the_refused_events_in_their_message_until_it_takes_them(clock, runtime,
                                                                                               tiktok, aws):
    put_settings()
    queue_beacon(tiktok, aws, ["dlq-a", "dlq-b"])
    tiktok.add_fault({"code": 40002, "event_ids": ["dlq-b"], "times": 1_000_000})
    tiktok.calls.clear()
    dead_letter_url = runtime.dead_letter_queue.url
    runtime.dead_letter_queue.url = dead_letter_url.rsplit("/", 1)[0] + "/gone"
    source = DeliveryEventSource(aws)
    # Not a failed invocation: dlq-a was sent, and the record comes back whole after its backoff (dlq-a is then
    # found in the ledger, dlq-b refused again).
    response = source.poll(VirtualContext(clock, DELIVERY_TIMEOUT_S))
    assert len(response["batchItemFailures"]) == 1
    assert tiktok.accepted_ids() == ["dlq-a"]
    assert source.dead_letter_depth() == 0
    runtime.dead_letter_queue.url = dead_letter_url
    clock.advance(backoff(runtime, 1) + 1)
    assert source.poll(VirtualContext(clock, DELIVERY_TIMEOUT_S)) == {"batchItemFailures": []}
    assert source.depth() == 0 and tiktok.accepted_ids() == ["dlq-a"]
    [dead] = peek(aws["DEAD_LETTER_QUEUE_URL"])
    assert ids(dead) == ["dlq-b"] and dead["reason"]["code"] == 40002
    run_health_function(aws)
    assert health_totals(runtime, "demo", clock()) == {"sent": 1, "duplicates": 0, "queued": 0, "dead_lettered": 1}


def test_a_narrowed_copy_the_delivery_queue_refuses_still_answers_each_event_once(clock, runtime, tiktok, aws):
    """The record comes back whole instead: nothing of it was dead-lettered yet, and its sent events are found
    in the ledger (no second TikTok send, no duplicate counted: they are our own retry's)."""
    put_settings()
    queue_beacon(tiktok, aws, ALL)
    answer_partly(tiktok)
    source = DeliveryEventSource(aws)
    with queue_refusing(aws["DELIVERY_QUEUE_URL"]):
        # The record comes back after its backoff, whole: the copy could not take its place.
        assert len(source.poll(VirtualContext(clock, DELIVERY_TIMEOUT_S))["batchItemFailures"]) == 1
    assert peek(aws["DEAD_LETTER_QUEUE_URL"]) == []
    tiktok_back_for_the_pending(tiktok)
    clock.advance(backoff(runtime, 1) + 1)
    assert source.poll(VirtualContext(clock, DELIVERY_TIMEOUT_S)) == {"batchItemFailures": []}

    assert source.depth() == 0
    assert Counter(tiktok.accepted_ids()) == Counter(SENT + PENDING)
    run_health_function(aws)
    assert health_totals(runtime, "demo", clock()) == {"sent": 3, "duplicates": 0, "queued": 0, "dead_lettered": 1}
    assert [ids(m) for m in peek(aws["DEAD_LETTER_QUEUE_URL"])] == [REFUSED], "dead-lettered once"


def test_during_an_outage_the_copies_of_a_group_travel_as_one_message_and_a_payment_copy_alone(clock, runtime,
                                                                                             tiktok, aws):
    """An outage must not grow the queue by a message per beacon: the copies that come back together go as one
    message. A copy with extra ledger records (a first payment's) stays alone, its records with its own event."""
    from zellify_tiktok.handoff import submit
    from zellify_tiktok.records import LedgerRecord
    from zellify_tiktok.server_event import ServerEvent, UserData

    put_settings()
    beacons = [[f"out-{n}-a", f"out-{n}-b"] for n in range(12)]
    for event_ids in beacons:
        queue_beacon(tiktok, aws, event_ids)
    record = LedgerRecord("first-payment:sub_outage", 400 * 86400)
    payment = ServerEvent(funnel_event="page_view", name="PageView", event_id="out-pay", event_time=int(clock()),
                          user=UserData(external_id="a" * 64))
    submit(runtime.delivery_queue, campaign_id="demo", pixel_id=runtime.campaigns.get("demo").pixel_id,
           test_event_code=None, events=[payment], source="stripe", ledger_records=[record], now=clock())
    tiktok.add_fault({"http_status": 503, "times": 1_000_000})
    source = DeliveryEventSource(aws)
    with sent_batches() as sent:
        assert source.poll(VirtualContext(clock, DELIVERY_TIMEOUT_S)) == {"batchItemFailures": []}
    requeued = [json.loads(e["MessageBody"]) for b in sent if b["QueueUrl"] == aws["DELIVERY_QUEUE_URL"]
                for e in b["Entries"]]
    assert sorted(len(m["events"]) for m in requeued) == [1, 24], "13 messages came back as 2"
    [alone] = [m for m in requeued if m["ledger_records"]]
    assert ids(alone) == ["out-pay"] and alone["ledger_records"] == [{"key": record.key, "ttl_s": record.ttl_s}]
    run_health_function(aws)
    assert health_totals(runtime, "demo", clock())["queued"] == 25

    tiktok.faults.clear()
    clock.advance(backoff(runtime, 1) + 1)
    while source.depth():
        source.poll(VirtualContext(clock, DELIVERY_TIMEOUT_S))
        clock.advance(POLL_EVERY_S)
    assert Counter(tiktok.accepted_ids()) == Counter([*(i for b in beacons for i in b), "out-pay"])
    assert boto3.client("dynamodb").get_item(TableName=aws["SENT_EVENTS_TABLE"],
                                             Key={"pk": {"S": record.key}}).get("Item") is not None
    run_health_function(aws)
    assert health_totals(runtime, "demo", clock()) == {"sent": 25, "duplicates": 0, "queued": 0, "dead_lettered": 0}



def test_the_same_message_twice_in_a_batch_is_delivered_once_and_not_counted_as_a_repeat(clock, runtime, tiktok,
                                                                                        aws):
    """A SendMessage tried again after a timeout SQS had in fact taken queues the message twice; SQS may hand
    both over in one batch. The funnel sent each event once: health counts no duplicate."""
    from zellify_tiktok.handoff import message_body
    from zellify_tiktok.server_event import ServerEvent, UserData

    put_settings()
    events = [ServerEvent(funnel_event="page_view", name="PageView", event_id=event_id, event_time=int(clock()),
                          user=UserData(external_id="a" * 64)) for event_id in ("twin-a", "twin-b")]
    body = message_body(campaign_id="demo", pixel_id=runtime.campaigns.get("demo").pixel_id, test_event_code=None,
                        events=events, source="beacon", now=clock())
    for _ in range(2):
        boto3.client("sqs").send_message(QueueUrl=aws["DELIVERY_QUEUE_URL"], MessageBody=body)
    source = DeliveryEventSource(aws)
    assert source.poll(VirtualContext(clock, DELIVERY_TIMEOUT_S)) == {"batchItemFailures": []}
    assert tiktok.accepted_ids() == ["twin-a", "twin-b"] and source.depth() == 0
    run_health_function(aws)
    assert health_totals(runtime, "demo", clock()) == {"sent": 2, "duplicates": 0, "queued": 0, "dead_lettered": 0}
