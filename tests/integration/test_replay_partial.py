"""Replay (docs/design.md §11) of dead letters that fail again, or are answered only in part.

- Replay never gives up on a message for its number of deliveries: it is dead-lettered already. One that
  fails again stays where it is with its own reason (`failed_again`), however many deliveries failed before.
- A dead letter some of whose events are answered on replay (sent, or refused and parked anew) while others
  get no answer stays in the DeadLetterQueue as a copy of the unanswered ones, with its reason, message id
  and `queued_at`; the original is deleted. The next replay sends only those; nothing is sent or
  dead-lettered twice, and the health figures count each event once.
"""

import json
from collections import Counter
from dataclasses import replace

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from zellify_tiktok.repositories.aws import client
from zellify_tiktok.services.replay import ReplayFilter, replay_dead_letters

from tests.integration.delivery_source import peek, sent_batches
from tests.integration.helpers import beacon_body, health_totals, post_beacon, put_settings, run_health_function

REVOKED = {"code": 40105}
MANY = 1_000_000


def dead_letter_beacon(tiktok, aws, event_ids: list[str]) -> dict:
    """A beacon of page views refused for a revoked token: one DeadLetterQueue message, its body."""
    tiktok.add_fault(REVOKED)
    status, _, body = post_beacon(beacon_body(events=[{"event": "page_view", "event_id": i} for i in event_ids]))
    assert status == 202 and body["accepted"] == event_ids, body
    [message] = peek(aws["DEAD_LETTER_QUEUE_URL"])
    assert ids(message) == event_ids and message["reason"]["code"] == 40105
    tiktok.calls.clear()
    return message


def ids(message: dict) -> list[str]:
    return [e["event_id"] for e in message["events"]]


def replay(runtime, selection: ReplayFilter | None = None) -> list[str]:
    return [item.outcome for item in replay_dead_letters(selection or ReplayFilter(), runtime=runtime)]


def campaign_unreadable(aws):
    def time_out(params, **_):
        if params["TableName"] == aws["CAMPAIGNS_TABLE"]:
            raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
    return time_out


@pytest.mark.parametrize("failure", ["tiktok 503", "campaign unreadable"])
def test_a_dead_letter_with_many_failed_deliveries_failing_again_on_replay_stays_with_its_own_reason(
        failure, runtime, tiktok, aws):
    runtime.config = replace(runtime.config, retry_max_receives=2)
    put_settings()
    dead_letter_beacon(tiktok, aws, ["rx-a", "rx-b"])
    # The message spent a long life in the DeliveryQueue before it got here.
    sqs = boto3.client("sqs")
    [raw] = sqs.receive_message(QueueUrl=aws["DEAD_LETTER_QUEUE_URL"])["Messages"]
    sqs.delete_message(QueueUrl=aws["DEAD_LETTER_QUEUE_URL"], ReceiptHandle=raw["ReceiptHandle"])
    veteran = {**json.loads(raw["Body"]), "attempts": 1000}
    sqs.send_message(QueueUrl=aws["DEAD_LETTER_QUEUE_URL"], MessageBody=json.dumps(veteran))

    events = client("dynamodb").meta.events
    if failure == "tiktok 503":
        tiktok.add_fault({"http_status": 503})
    else:
        runtime.campaigns._cache.clear()
        events.register("provide-client-params.dynamodb.GetItem", campaign_unreadable(aws), unique_id="campaign-down")
    try:
        with sent_batches() as sent:
            assert replay(runtime) == ["failed_again"]
    finally:
        events.unregister("provide-client-params.dynamodb.GetItem", unique_id="campaign-down")
    assert sent == [], "nothing parked anew, as retries_exhausted or otherwise"
    assert peek(aws["DEAD_LETTER_QUEUE_URL"]) == [veteran]
    assert peek(aws["DELIVERY_QUEUE_URL"]) == []
    assert health_totals(runtime, "demo", veteran["events"][0]["event_time"]) == {
        "sent": 0, "duplicates": 0, "queued": 0, "dead_lettered": 2}


def test_a_dead_letter_partly_delivered_on_replay_stays_as_its_unanswered_events_until_a_replay_sends_them(
        runtime, tiktok, aws):
    put_settings()
    original = dead_letter_beacon(tiktok, aws, ["rp-a", "rp-b"])
    # The call is halved once (a 20001 naming no event): TikTok takes rp-a and has no answer for rp-b.
    tiktok.add_fault({"code": 20001}, {"code": 50000, "event_ids": ["rp-b"], "times": MANY})
    assert replay(runtime) == ["failed_again"]
    assert tiktok.accepted_ids() == ["rp-a"]
    [kept] = peek(aws["DEAD_LETTER_QUEUE_URL"])
    assert kept == {**original, "events": [e for e in original["events"] if e["event_id"] == "rp-b"]}
    assert health_totals(runtime, "demo", original["events"][0]["event_time"])["dead_lettered"] == 1

    tiktok.faults.clear()
    assert replay(runtime) == ["replayed"]
    assert Counter(tiktok.accepted_ids()) == Counter(["rp-a", "rp-b"])
    assert peek(aws["DEAD_LETTER_QUEUE_URL"]) == []
    run_health_function(aws)
    assert health_totals(runtime, "demo", original["events"][0]["event_time"]) == {
        "sent": 2, "duplicates": 0, "queued": 0, "dead_lettered": 0}


def test_a_dead_letter_sent_refused_and_unanswered_on_replay_answers_each_event_once(runtime, tiktok, aws):
    put_settings()
    original = dead_letter_beacon(tiktok, aws, ["rq-a", "rq-b", "rq-c"])
    # On replay TikTok takes rq-a, refuses rq-b for good (40002, halved until alone), has no answer for rq-c.
    tiktok.add_fault({"code": 40002, "event_ids": ["rq-b"], "times": MANY},
                     {"code": 50000, "event_ids": ["rq-c"], "times": MANY})
    assert replay(runtime) == ["failed_again"]
    assert tiktok.accepted_ids() == ["rq-a"]
    dead = sorted(peek(aws["DEAD_LETTER_QUEUE_URL"]), key=lambda m: m["reason"]["code"])
    assert [(m["reason"]["code"], ids(m)) for m in dead] == [(40002, ["rq-b"]), (40105, ["rq-c"])]
    kept = dead[1]
    assert (kept["message_id"], kept["queued_at"], kept["reason"]) == (
        original["message_id"], original["queued_at"], original["reason"])
    at = original["events"][0]["event_time"]
    assert health_totals(runtime, "demo", at)["dead_lettered"] == 2

    # The operator replays what the revoked token left, once TikTok answers again.
    tiktok.faults = [fault for fault in tiktok.faults if fault["code"] != 50000]
    assert sorted(replay(runtime, ReplayFilter(code=40105))) == ["replayed", "skipped"]
    assert Counter(tiktok.accepted_ids()) == Counter(["rq-a", "rq-c"])
    [still] = peek(aws["DEAD_LETTER_QUEUE_URL"])
    assert ids(still) == ["rq-b"] and still["reason"]["code"] == 40002
    run_health_function(aws)
    assert health_totals(runtime, "demo", at) == {"sent": 2, "duplicates": 0, "queued": 0, "dead_lettered": 1}
