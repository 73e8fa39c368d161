"""The DeliveryQueue over hours of virtual time (tests/integration/virtual_time.py): moto's SQS, the budgets and
TikTok's latency on one clock, the DeliveryFunction invoked as its event source mapping would
(tests/integration/delivery_source.py), so visibility, backoff, receive counts and SQS's redrive all apply.

- a 6-hour TikTok outage: every event queued meanwhile is delivered once TikTok is back, exactly once,
  none dead-lettered, each retry after the backoff the DeliveryFunction set (docs/design.md §7, issue 11);
- a backlog ten times what one invocation can deliver drains with nothing dead-lettered, although it
  takes more receives than SQS allows one message: the deferred are copies, not receives (issue 10);
- a deferred copy keeps the failed deliveries of its original, so its backoff and its end stay right.
"""

from collections import Counter
from dataclasses import replace

import boto3
import pytest
from zellify_tiktok.services.delivery import backoff_seconds

from local.template import Template
from tests.integration.conftest import ROOT
from tests.integration.delivery_source import DeliveryEventSource, visibility_changes
from tests.integration.helpers import beacon_body, post_beacon, put_settings
from tests.integration.virtual_time import VirtualContext

DELIVERY_TIMEOUT_S = next(f.timeout_s for f in Template(ROOT / "template.yaml").functions()
                          if f.name == "DeliveryFunction")
HOUR_S = 3600
OUTAGE_S = 6 * HOUR_S
# Lambda polls the queue without pause; here a visible message waits at most this long for its receive.
POLL_EVERY_S = 20
BEACON_EVERY_S = 15 * 60


def attempt_times(tiktok, event_id: str) -> list[float]:
    return [call["at"] for call in tiktok.calls if any(e["event_id"] == event_id for e in call["body"]["data"])]


OUTAGES = {
    "50002": {"code": 50002},  # TikTok's SYS_TIMEOUT, with HTTP 200
    "http-503": {"http_status": 503},
    "timeouts": {"delay_ms": 30_000},
}


@pytest.mark.parametrize("outage", list(OUTAGES))
def test_a_6_hour_tiktok_outage_is_outlasted_each_event_delivered_once_none_dead_lettered(outage, clock, runtime,
                                                                                          tiktok, aws):
    put_settings()
    source = DeliveryEventSource(aws)
    start = clock()
    tiktok.add_fault({**OUTAGES[outage], "times": 1_000_000})
    accepted: list[str] = []
    beacons = 0
    while clock() < start + OUTAGE_S + 2 * HOUR_S:
        if clock() >= start + OUTAGE_S:
            tiktok.faults.clear()  # TikTok is back
            if source.depth() == 0:
                break
        elif clock() >= start + beacons * BEACON_EVERY_S:
            events = [{"event": "page_view", "event_id": f"b{beacons}-pv"},
                      {"event": "page_completed", "event_id": f"b{beacons}-step", "step": {"index": 1, "id": "q1"}}]
            status, _, body = post_beacon(beacon_body(events=events, session_id=f"outage-{beacons}"))
            assert status == 202
            accepted += body["accepted"]
            beacons += 1
        source.poll(VirtualContext(clock, DELIVERY_TIMEOUT_S))
        clock.advance(POLL_EVERY_S)

    assert beacons == OUTAGE_S // BEACON_EVERY_S and clock() - start >= OUTAGE_S
    assert Counter(tiktok.accepted_ids()) == Counter(accepted), "each accepted event delivered exactly once"
    assert source.depth() == 0 and source.dead_letter_depth() == 0
    assert not any(call["answer"] == 0 for call in tiktok.calls if call["at"] < start + OUTAGE_S)

    # The first beacon's retries: each one after the backoff its previous failure set, as SQS showed it.
    first = attempt_times(tiktok, "b0-pv")
    failed = [at for at in first if at < start + OUTAGE_S]
    assert len(failed) >= 10, f"retried only {len(failed)} times in 6 hours"
    config = runtime.config
    # Calls are timed at their start; the backoff runs from their failure, a TikTok timeout later at most.
    slack = POLL_EVERY_S + config.tiktok_total_timeout_s
    # The first delivery's failure leaves a copy delayed by the first backoff; later ones back off in place.
    for failures, (earlier, later) in enumerate(zip(first, first[1:], strict=False), start=1):
        wait = backoff_seconds(failures, base_s=config.retry_backoff_base_s, cap_s=config.retry_backoff_cap_s)
        assert wait <= later - earlier <= wait + slack, (failures, later - earlier, wait)
    assert max(source.receives.values()) < config.retry_max_receives


def test_a_backlog_ten_times_one_invocations_capacity_drains_with_nothing_dead_lettered(clock, runtime, tiktok,
                                                                                       aws):
    # SQS dead-letters a message on its 4th receive here, and so does the DeliveryFunction on a 3rd failure.
    max_receives = 3
    runtime.config = replace(runtime.config, retry_max_receives=max_receives)
    sqs = boto3.client("sqs")
    dead_letter_arn = sqs.get_queue_attributes(QueueUrl=aws["DEAD_LETTER_QUEUE_URL"], AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=aws["DELIVERY_QUEUE_URL"], Attributes={"RedrivePolicy": (
        f'{{"deadLetterTargetArn": "{dead_letter_arn}", "maxReceiveCount": "{max_receives}"}}')})
    # Ten campaigns (ten groups, one TikTok call each), two queued messages each.
    groups = 10
    for g in range(groups):
        assert put_settings(f"cmp-{g}", pixel_id=f"CPIXEL{g:014d}", allowed_origins=None)[0] == 200
    tiktok.add_fault({"http_status": 503, "times": 2 * groups})
    accepted = []
    for g in range(groups):
        for m in range(2):
            status, _, body = post_beacon(beacon_body(campaign_id=f"cmp-{g}", session_id=f"s-{g}-{m}",
                                                      events=[{"event": "page_view", "event_id": f"g{g}-m{m}"}]))
            assert status == 202
            accepted += body["accepted"]
    tiktok.calls.clear()
    source = DeliveryEventSource(aws)
    assert source.depth() == 2 * groups
    # A 10 s invocation has 5 s of budget, of which 3 s are kept for the ledger and the settling; a call
    # takes 1 s.
    tiktok.latency_s = 1.0
    while source.depth() and source.invocations < 5 * groups:
        source.poll(VirtualContext(clock, 10))
        clock.advance(1)

    assert source.dead_letter_depth() == 0 and source.depth() == 0
    assert Counter(tiktok.accepted_ids()) == Counter(accepted)
    assert [len({call["body"]["event_source_id"]}) for call in tiktok.calls] == [1] * groups
    # A 10 s invocation (5 s of budget) delivers a group or two: the backlog takes several invocations, and
    # the last message is received more often than SQS or the DeliveryFunction allows a failing one.
    assert groups // 2 <= source.invocations < groups + 1
    assert max(source.receives.values()) > max_receives


def test_a_deferred_copy_keeps_the_failed_deliveries_of_its_original(clock, runtime, tiktok, aws):
    put_settings()
    tiktok.add_fault({"http_status": 503})
    assert post_beacon(beacon_body(events=[{"event": "page_view", "event_id": "kept-1"}]))[0] == 202
    source = DeliveryEventSource(aws)
    config = runtime.config

    def backoff(failures: int) -> int:
        return backoff_seconds(failures, base_s=config.retry_backoff_base_s, cap_s=config.retry_backoff_cap_s)

    # The first delivery failed: a copy (attempts 1) waits out the first backoff.
    clock.advance(backoff(1) + 1)
    tiktok.add_fault({"http_status": 503})
    with visibility_changes() as visibility:
        response = source.poll(VirtualContext(clock, DELIVERY_TIMEOUT_S))
        assert response is not None and len(response["batchItemFailures"]) == 1
        clock.advance(backoff(2) + 1)
        # The next receive comes to an invocation without time for it: let go, a copy queued.
        assert source.poll(VirtualContext(clock, 5.2)) == {"batchItemFailures": []}
        [copy] = source.receive()
        assert copy["attributes"]["ApproximateReceiveCount"] == "1"
        assert '"attempts":2' in copy["body"]
        # The copy fails: its backoff is the third failure's.
        tiktok.add_fault({"http_status": 503})
        assert len(source.invoke([copy], VirtualContext(clock, DELIVERY_TIMEOUT_S))["batchItemFailures"]) == 1
    # 30 s doubling per failed delivery (the configured base): the copy's first failure is the third.
    assert visibility == [backoff(2), backoff(3)] == [60, 120]
    assert source.dead_letter_depth() == 0
    clock.advance(backoff(3) + 1)
    assert source.poll(VirtualContext(clock, DELIVERY_TIMEOUT_S)) == {"batchItemFailures": []}
    assert tiktok.accepted_ids() == ["kept-1"]


def test_a_message_failing_on_its_last_allowed_delivery_is_dead_lettered_by_the_delivery_function(clock, runtime,
                                                                                               tiktok, aws):
    runtime.config = replace(runtime.config, retry_max_receives=2)
    put_settings()
    tiktok.add_fault({"http_status": 503, "times": 3})
    assert post_beacon(beacon_body(events=[{"event": "page_view", "event_id": "last-1"}]))[0] == 202
    source = DeliveryEventSource(aws)
    # The first delivery failed (a copy waits out its backoff).
    clock.advance(HOUR_S)
    # The second failure is the last allowed: parked in the DeadLetterQueue with its reason, not left to SQS.
    assert source.poll(VirtualContext(clock, DELIVERY_TIMEOUT_S)) == {"batchItemFailures": []}
    assert source.depth() == 0
    [parked] = source.sqs.receive_message(QueueUrl=source.dead_letter_url).get("Messages", [])
    assert '"kind":"retries_exhausted"' in parked["Body"] and "last-1" in parked["Body"]


def test_a_queued_batch_needing_several_invocations_to_isolate_its_refusals_dead_letters_each_event_once(
        clock, runtime, tiktok, aws, sqs_messages):
    put_settings()
    ids = [f"iso-{i}" for i in range(50)]
    tiktok.add_fault({"http_status": 503})
    assert post_beacon(beacon_body(events=[{"event": "page_view", "event_id": i} for i in ids]))[0] == 202
    # TikTok refuses each of them, alone or in company, 400 ms an answer: 99 calls, more than one invocation.
    tiktok.add_fault({"code": 40002, "event_ids": ids, "times": 100_000, "delay_ms": 400})
    source = DeliveryEventSource(aws)
    while source.depth() and source.invocations < 2 * runtime.config.retry_max_receives:
        source.poll(VirtualContext(clock, DELIVERY_TIMEOUT_S))
        clock.advance(HOUR_S)  # past any backoff
    assert source.invocations > 1 and source.depth() == 0
    dead = sqs_messages("DEAD_LETTER_QUEUE_URL")
    assert Counter(e["event_id"] for m in dead for e in m["events"]) == Counter(ids), "each dead-lettered once"
    assert {m["reason"]["code"] for m in dead} == {40002}
    assert tiktok.accepted_ids() == []
