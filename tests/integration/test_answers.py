"""Every class of TikTok's answer (docs/design.md §7, docs/tiktok.md), through the in-memory TikTok's faults
(the stand-in's own fault format), the real collector, DeliveryFunction and settings handlers under moto.

- 0: sent, once, recorded in the ledger;
- 20001 on a multi-event call: halved until every event has an answer of its own; a lone event TikTok
  still refuses is dead-lettered with TikTok's message, the rest sent;
- 40100, 40132, 50000, 50002, 51xxx, 60001, HTTP 429 and 503, a timeout, a reset: queued (reason `transient`),
  delivered by the DeliveryFunction once the fault clears, once;
- 40001, 40002 (a single event), 40102, 40104, 40105, a code TikTok's table does not have: dead-lettered with
  TikTok's code and message; the token codes also show in the settings GET (last_delivery, a warning).
"""

import json

import boto3
import pytest
from zellify_tiktok.records import ledger_key

from local.tiktok_codes import message as tiktok_message
from tests.integration.delivery_source import DeliveryEventSource
from tests.integration.helpers import ADMIN_SETTINGS, beacon_body, post_beacon, put_settings, settings_request
from tests.integration.virtual_time import VirtualClock, VirtualContext, on_virtual_time

PIXEL = ADMIN_SETTINGS["pixel_id"]
# The sample beacon's events (events/post_events.json) and their TikTok names.
SAMPLE = {"ev-0001-page": "PageView", "ev-0002-step": "PageCompleted", "ev-0003-email": "CompleteRegistration",
          "ev-0004-checkout": "InitiateCheckout"}


def ledger_keys(aws) -> set[str]:
    items = boto3.client("dynamodb").scan(TableName=aws["SENT_EVENTS_TABLE"])["Items"]
    return {item["pk"]["S"] for item in items}


def event_ids(messages: list[dict]) -> list[str]:
    return sorted(e["event_id"] for m in messages for e in m["events"])


def sizes(tiktok) -> list[list[str]]:
    return [[e["event_id"] for e in call["body"]["data"]] for call in tiktok.calls]


def test_code_0_is_sent_once_and_recorded(runtime, tiktok, aws, sqs_messages):
    put_settings()
    status, _, body = post_beacon(beacon_body())
    assert status == 202 and sorted(body["accepted"]) == sorted(SAMPLE)
    assert sorted(tiktok.accepted_ids()) == sorted(SAMPLE)
    assert ledger_keys(aws) == {ledger_key(PIXEL, name, event_id) for event_id, name in SAMPLE.items()}
    assert sqs_messages("DELIVERY_QUEUE_URL") == [] and sqs_messages("DEAD_LETTER_QUEUE_URL") == []
    last = settings_request("GET")[1]["last_delivery"]
    assert (last["outcome"], last["code"]) == ("sent", 0)


def test_20001_naming_no_event_halves_the_call_until_every_event_has_its_own_answer(runtime, tiktok, sqs_messages):
    put_settings()
    tiktok.add_fault({"code": 20001})  # the whole call, once: TikTok took some events and says not which
    status, _, body = post_beacon(beacon_body())
    assert status == 202
    assert sizes(tiktok) == [list(SAMPLE), list(SAMPLE)[:2], list(SAMPLE)[2:]]
    assert [call["answer"] for call in tiktok.calls] == [20001, 0, 0]
    assert sorted(tiktok.accepted_ids()) == sorted(SAMPLE)
    assert sqs_messages("DEAD_LETTER_QUEUE_URL") == [] and sqs_messages("DELIVERY_QUEUE_URL") == []


def test_a_targeted_20001_dead_letters_only_the_refused_event_with_tiktoks_message(runtime, tiktok, aws,
                                                                                   sqs_messages):
    put_settings()
    tiktok.add_fault({"code": 20001, "event_ids": ["ev-0003-email"], "times": 10})
    status, _, body = post_beacon(beacon_body())
    assert status == 202 and len(body["accepted"]) == 4
    assert sorted(tiktok.accepted_ids()) == ["ev-0001-page", "ev-0002-step", "ev-0004-checkout"]
    dead = sqs_messages("DEAD_LETTER_QUEUE_URL")
    assert event_ids(dead) == ["ev-0003-email"]
    assert dead[0]["reason"] == {"kind": "refused", "code": 20001, "message": tiktok_message(20001),
                                 "http_status": 200}
    assert sqs_messages("DELIVERY_QUEUE_URL") == []
    assert ledger_key(PIXEL, "CompleteRegistration", "ev-0003-email") not in ledger_keys(aws)


def test_partial_success_of_a_10_event_call_sends_9_and_dead_letters_e3(runtime, tiktok, aws, sqs_messages):
    put_settings()
    ids = [f"e{i}" for i in range(1, 11)]
    tiktok.add_fault({"code": 20001, "event_ids": ["e3"], "times": 10})
    events = [{"event": "page_view", "event_id": event_id} for event_id in ids]
    status, _, body = post_beacon(beacon_body(events=events))
    assert status == 202 and body["accepted"] == ids
    assert tiktok.calls[0]["answer"] == 20001 and len(tiktok.calls[0]["body"]["data"]) == 10
    assert sorted(tiktok.accepted_ids()) == sorted(set(ids) - {"e3"})  # each once
    dead = sqs_messages("DEAD_LETTER_QUEUE_URL")
    assert event_ids(dead) == ["e3"]
    assert (dead[0]["reason"]["code"], dead[0]["reason"]["message"]) == (20001, tiktok_message(20001))
    assert ledger_keys(aws) == {ledger_key(PIXEL, "PageView", event_id) for event_id in ids if event_id != "e3"}
    assert sqs_messages("DELIVERY_QUEUE_URL") == []


TRANSIENT = {
    "40100": {"code": 40100},
    "40132": {"code": 40132},
    "50000": {"code": 50000},
    "50002": {"code": 50002},
    "51010": {"code": 51010},
    "60001": {"code": 60001},
    "http-429": {"http_status": 429},
    "http-503": {"http_status": 503},
    "timeout": {"delay_ms": 3500},  # past the collector's 3 s for TikTok
    "reset": {"reset": True},
}


@pytest.mark.parametrize("fault", list(TRANSIENT))
def test_a_transient_answer_is_retried_then_delivered_once(fault, runtime, tiktok, aws,
                                                                                monkeypatch, sqs_messages):
    clock = VirtualClock()
    on_virtual_time(monkeypatch, clock)
    tiktok.clock = clock
    put_settings()
    tiktok.add_fault(TRANSIENT[fault])
    status, _, body = post_beacon(beacon_body())
    assert status == 202 and sorted(body["accepted"]) == sorted(SAMPLE)
    assert tiktok.accepted_ids() == [] and ledger_keys(aws) == set()

    clock.advance(31)  # the failed first delivery's copy waits out its backoff
    source = DeliveryEventSource(aws)
    records = source.receive()
    queued = [json.loads(record["body"]) for record in records]
    assert event_ids(queued) == sorted(SAMPLE)
    assert {m["reason"]["kind"] for m in queued} == {"transient"}
    code, http_status = TRANSIENT[fault].get("code"), TRANSIENT[fault].get("http_status")
    if code is not None:
        assert {m["reason"].get("code") for m in queued} == {code}
    if http_status is not None:
        assert {m["reason"].get("http_status") for m in queued} == {http_status}
    assert "tt-access-token" not in json.dumps(queued)

    # The fault is spent: the DeliveryFunction delivers, once, and the queue is empty.
    assert source.invoke(records) == {"batchItemFailures": []}
    assert sorted(tiktok.accepted_ids()) == sorted(SAMPLE)
    assert source.depth() == 0 and sqs_messages("DEAD_LETTER_QUEUE_URL") == []
    assert source.poll() is None


TOKEN_CODES = {40102: "has expired", 40104: "was missing", 40105: "is invalid or revoked"}
PERMANENT = {
    "40001": {"code": 40001, "message": "No permission to operate pixel code: C4ABCDEF0123456789AB"},
    "40002-single": {"code": 40002, "message": "Invalid parameter: data[0].event"},
    "40102": {"code": 40102, "message": "Access token has expired"},
    "40104": {"code": 40104, "message": "Access token is empty"},
    "40105": {"code": 40105, "message": "Access token is incorrect or has been revoked."},
    "unknown": {"code": 47123, "message": "Something TikTok's table does not know"},
}


@pytest.mark.parametrize("fault", list(PERMANENT))
def test_a_permanent_answer_is_dead_lettered_with_tiktoks_code_and_message(fault, runtime, tiktok, aws,
                                                                           sqs_messages):
    put_settings()
    tiktok.add_fault(PERMANENT[fault])
    code, message = PERMANENT[fault]["code"], PERMANENT[fault]["message"]
    # 40002 is the one code TikTok also gives for one event of a call: a single event, so no halving.
    events = [{"event": "page_view", "event_id": "ev-single"}] if fault == "40002-single" else None
    status, _, body = post_beacon(beacon_body(events=events))
    assert status == 202
    assert len(tiktok.calls) == 1 and tiktok.accepted_ids() == []
    dead = sqs_messages("DEAD_LETTER_QUEUE_URL")
    assert event_ids(dead) == sorted(body["accepted"])
    assert {json.dumps(m["reason"], sort_keys=True) for m in dead} == {json.dumps(
        {"kind": "refused", "code": code, "message": message, "http_status": 200}, sort_keys=True)}
    assert sqs_messages("DELIVERY_QUEUE_URL") == [] and ledger_keys(aws) == set()

    view = settings_request("GET")[1]
    last = view["last_delivery"]
    assert (last["outcome"], last["code"], last["message"]) == ("permanent_failure", code, message)
    token_warnings = [w for w in view["warnings"] if "access token" in w]
    if code in TOKEN_CODES:
        assert len(token_warnings) == 1 and TOKEN_CODES[code] in token_warnings[0]
        assert str(code) in token_warnings[0]
    else:
        assert token_warnings == []
        assert any(str(code) in w and message in w for w in view["warnings"])


def test_a_new_token_clears_the_warning_about_the_old_one_and_other_answers_stay(runtime, tiktok, sqs_messages):
    put_settings()
    tiktok.add_fault(PERMANENT["40105"])
    assert post_beacon(beacon_body())[0] == 202
    assert any("access token" in w for w in settings_request("GET")[1]["warnings"])

    # Settings saved again without touching the token: the warning stays, the token is still the bad one.
    settings = {k: v for k, v in ADMIN_SETTINGS.items() if k != "access_token"}
    status, view = settings_request("PUT", body=json.dumps(settings))
    assert status == 200 and view["last_delivery"]["code"] == 40105
    assert any("access token" in w for w in view["warnings"])

    status, view = put_settings(access_token="tt-access-token-rotated-0000")
    assert status == 200 and view["last_delivery"] is None
    assert not any("access token" in w for w in view["warnings"])

    # An answer that is not the token's survives a new token: it says something about the events.
    tiktok.add_fault(PERMANENT["40001"])
    assert post_beacon(beacon_body(events=[{"event": "page_view", "event_id": "after-rotation"}]))[0] == 202
    status, view = put_settings(access_token="tt-access-token-rotated-0001")
    assert view["last_delivery"]["code"] == 40001


@pytest.mark.parametrize("delay_ms", [150, 400])
def test_a_50_event_beacon_refused_event_by_event_is_split_across_invocations_and_nothing_is_lost(
        delay_ms, runtime, tiktok, aws, monkeypatch, sqs_messages):
    """Isolating 50 refusals takes 99 calls, more than one DeliveryFunction invocation's budget when TikTok is
    slow: whatever has no answer when the budget is spent is requeued (budget_spent) and taken up by the next
    invocation; every event ends dead-lettered once."""
    clock = VirtualClock()
    on_virtual_time(monkeypatch, clock)
    tiktok.clock = clock
    put_settings()
    ids = [f"split-{i}" for i in range(50)]
    tiktok.add_fault({"code": 40002, "event_ids": ids, "times": 1000, "delay_ms": delay_ms})
    started = clock()
    status, _, body = post_beacon(beacon_body(events=[{"event": "page_view", "event_id": i} for i in ids]),
                                  context=VirtualContext(clock, 10), deliver=False)
    assert status == 202 and body["accepted"] == ids
    assert clock() == started and tiktok.calls == [], "the request never waits for TikTok"

    source = DeliveryEventSource(aws)
    while source.poll(VirtualContext(clock, 30)) is not None:
        clock.advance(1)
    dead = sqs_messages("DEAD_LETTER_QUEUE_URL")
    assert sorted(event_ids(dead)) == sorted(ids), "every event dead-lettered, once"
    assert {(m["reason"]["kind"], m["reason"]["code"]) for m in dead} == {("refused", 40002)}
    assert tiktok.accepted_ids() == [] and source.depth() == 0
    if delay_ms == 400:
        assert source.invocations > 1
