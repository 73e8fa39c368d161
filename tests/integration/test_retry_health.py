"""The DeliveryFunction's health figures when a backlog drains (docs/design.md §9), over virtual time
(tests/integration/virtual_time.py).

Every message leaving the DeliveryQueue takes its events out of `queued`. After an outage that is every
message, not a rare outcome: the figures of one invocation's batch must fit in its budget, which
the Drain bounds (a write never makes the invocation late), so they are added up per bucket
rather than written per message. 200 two-event messages and DynamoDB answering in 100 ms stand for a full
batch of 1000 answered in 20 ms: more per-message writes than the budget holds.
"""

import json
import time
from collections import Counter
from datetime import datetime

import pytest
from botocore.exceptions import ReadTimeoutError
from zellify_tiktok.health_figures import hour_of

from local.template import Template
from tests.integration.conftest import ROOT
from tests.integration.delivery_source import DeliveryEventSource, sent_batches
from tests.integration.helpers import beacon_body, health_totals, post_beacon, put_settings
from tests.integration.virtual_time import VirtualClock, VirtualContext, aws_taking, on_virtual_time

DELIVERY_TIMEOUT_S = next(f.timeout_s for f in Template(ROOT / "template.yaml").functions()
                          if f.name == "DeliveryFunction")
BEACONS = 200
SLOW_DYNAMODB_S = 0.1


def test_a_drained_backlog_takes_every_event_out_of_queued_within_the_invocations_budget(runtime, tiktok, aws,
                                                                                       monkeypatch):
    put_settings()
    tiktok.add_fault({"http_status": 503, "times": BEACONS})
    accepted = []
    with sent_batches() as sent:
        for b in range(BEACONS):
            events = [{"event": "page_view", "event_id": f"bl{b}-pv"},
                      {"event": "page_completed", "event_id": f"bl{b}-step", "step": {"index": 1, "id": "q1"}}]
            status, _, body = post_beacon(beacon_body(events=events, session_id=f"backlog-{b}"))
            assert status == 202
            accepted += body["accepted"]
    queued_at = {json.loads(e["MessageBody"])["queued_at"] for batch in sent for e in batch["Entries"]}
    clock = VirtualClock()
    on_virtual_time(monkeypatch, clock)
    tiktok.clock = clock
    assert health_totals(runtime, "demo", clock())["queued"] == 2 * BEACONS
    tiktok.calls.clear()

    clock.advance(31)  # the first failed deliveries' copies wait out their backoff
    source = DeliveryEventSource(aws)
    context = VirtualContext(clock, DELIVERY_TIMEOUT_S)
    with aws_taking(clock, SLOW_DYNAMODB_S) as called:
        assert source.poll(context) == {"batchItemFailures": []}
    assert context.get_remaining_time_in_millis() > 0, "answered within the function's timeout"
    assert source.depth() == 0 and source.dead_letter_depth() == 0
    assert Counter(tiktok.accepted_ids()) == Counter(accepted) and len(tiktok.calls) == 1
    assert health_totals(runtime, "demo", clock())["queued"] == 0
    # One write per bucket the messages were queued in (two event names, an hour or two), and last_delivery's.
    hours = {hour_of(datetime.fromisoformat(at).timestamp()) for at in queued_at}
    assert Counter(called)["UpdateItem"] <= 2 * len(hours) + 1


@pytest.mark.parametrize("applied", [True, False], ids=["applied", "not-applied"])
def test_a_figure_write_that_timed_out_is_made_again_and_counts_once(applied, runtime, tiktok, aws, monkeypatch):
    """A write whose answer timed out may or may not have been applied by DynamoDB. Not writing it again
    would lose a subtraction (events counted as `queued` for good, as `make loadtest` once saw); writing a
    plain ADD again would count an applied one twice."""
    from zellify_tiktok.repositories.aws import client

    put_settings()
    dynamodb = client("dynamodb")
    monkeypatch.setattr(dynamodb, "transact_write_items", timing_out_once(dynamodb.transact_write_items, applied))
    tiktok.add_fault({"http_status": 503, "times": 1})
    status, _, _ = post_beacon(beacon_body(events=[{"event": "page_view", "event_id": "timeout-pv"}]))
    assert status == 202
    assert health_totals(runtime, "demo", time.time())["queued"] == 1, "its failed first delivery, counted once"
    clock = VirtualClock()
    on_virtual_time(monkeypatch, clock)
    tiktok.clock = clock
    source = DeliveryEventSource(aws)
    clock.advance(31)
    assert source.poll(VirtualContext(clock, DELIVERY_TIMEOUT_S)) == {"batchItemFailures": []}
    assert tiktok.accepted_ids() == ["timeout-pv"] and source.depth() == 0
    assert health_totals(runtime, "demo", clock()) == {"sent": 0, "duplicates": 0, "queued": 0, "dead_lettered": 0}


def timing_out_once(write, applied: bool):
    """Each figures write times out on its first try, after DynamoDB applied it (or before)."""
    seen: set[str] = set()

    def write_once(**request):
        marker = request["TransactItems"][0]["Put"]["Item"]["bucket"]["S"]
        if marker not in seen:
            seen.add(marker)
            if applied:
                write(**request)
            raise ReadTimeoutError(endpoint_url="http://dynamodb.test")
        return write(**request)

    return write_once
