"""AWS and TikTok slow at once, the worst case (docs/design.md §7): the collector still answers inside its
Lambda timeout, and nothing is lost.

Time is virtual (tests/integration/virtual_time.py): every call of the layer's boto3 clients takes the
longest one call can take with the layer's botocore configuration (`CALL_WORST_CASE_S`), TikTok answers
later than any timeout, and the invocation's budget and Lambda context run on the same clock. The answer
must come before the function's timeout less the margin the layer keeps for shaping it (the invocation's
budget): what the budget arithmetic promises.
"""

import boto3
import pytest
from zellify_tiktok.api import ANSWER_MARGIN_S
from zellify_tiktok.repositories.aws import CALL_WORST_CASE_S

from local.template import Template
from tests.integration.conftest import ROOT
from tests.integration.helpers import beacon_body, post_beacon, put_settings
from tests.integration.virtual_time import VirtualContext, aws_taking

COLLECT_TIMEOUT_S = next(f.timeout_s for f in Template(ROOT / "template.yaml").functions()
                         if f.name == "CollectFunction")
# Latest moment the answer may leave: the function's timeout less the margin kept for answering.
ANSWER_BY_S = COLLECT_TIMEOUT_S - ANSWER_MARGIN_S


def tiktok_never_answering_in_time(tiktok) -> None:
    tiktok.add_fault({"delay_ms": 60_000, "times": 1000})


def queued_ids(sqs_messages) -> list[str]:
    return sorted(e["event_id"] for m in sqs_messages("DELIVERY_QUEUE_URL") for e in m["events"])


def ledger_items(aws) -> list[dict]:
    return boto3.client("dynamodb").scan(TableName=aws["SENT_EVENTS_TABLE"])["Items"]


@pytest.mark.parametrize("container", ["cold", "warm"])
def test_every_aws_call_and_tiktok_taking_their_full_timeouts_still_answer_202_in_time(container, clock, runtime,
                                                                                     tiktok, sqs_messages):
    put_settings()
    if container == "warm":
        # Campaign and token cached, the beacon time noted: TikTok gets its time, the AWS writes stay slow.
        assert post_beacon(beacon_body(events=[{"event": "page_view", "event_id": "warm-up"}]))[0] == 202
        tiktok.calls.clear()
    else:
        runtime.campaigns._cache.clear()
        runtime.secrets.provider.clear_cache()
    tiktok_never_answering_in_time(tiktok)
    started = clock()
    with aws_taking(clock, CALL_WORST_CASE_S) as called:
        status, _, body = post_beacon(beacon_body(), context=VirtualContext(clock, COLLECT_TIMEOUT_S), deliver=False)
    elapsed = clock() - started
    assert status == 202, body
    assert elapsed <= ANSWER_BY_S, (f"answered after {elapsed:.1f} s of the function's {COLLECT_TIMEOUT_S} s "
                                    f"(AWS calls, {CALL_WORST_CASE_S} s each: {called})")
    # The request never waited for TikTok: every accepted event waits in the DeliveryQueue.
    assert tiktok.accepted_ids() == []
    assert queued_ids(sqs_messages) == sorted(body["accepted"])


@pytest.mark.parametrize("down", ["timing out", "refusing"])
def test_sqs_and_dynamodb_down_answer_503_in_time_and_lose_nothing_beyond_that_answer(down, clock, runtime, tiktok,
                                                                                      aws, sqs_messages):
    put_settings()
    assert post_beacon(beacon_body(events=[{"event": "page_view", "event_id": "warm-up"}]))[0] == 202
    tiktok.calls.clear()
    took = CALL_WORST_CASE_S if down == "timing out" else 0.0
    started = clock()
    with aws_taking(clock, took, failing=("dynamodb", "sqs")):
        status, _, body = post_beacon(beacon_body(), context=VirtualContext(clock, COLLECT_TIMEOUT_S), deliver=False)
    elapsed = clock() - started
    assert status == 503 and body["error"]["code"] == "service_unavailable"
    assert elapsed <= ANSWER_BY_S
    # The 503 is the whole loss: nothing half-sent, nothing recorded as sent, so the client's resend after
    # the outage is delivered, each event once.
    assert tiktok.accepted_ids() == []
    assert [item["pk"]["S"].rsplit("#", 1)[1] for item in ledger_items(aws)] == ["warm-up"]
    assert queued_ids(sqs_messages) == []
    status, _, again = post_beacon(beacon_body(), context=VirtualContext(clock, COLLECT_TIMEOUT_S))
    assert status == 202
    assert sorted(tiktok.accepted_ids()) == sorted(again["accepted"])
