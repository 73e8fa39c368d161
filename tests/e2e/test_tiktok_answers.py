"""Every class of TikTok's answer through the local stack (`make dev`), over HTTP: the stand-in's fault queue
(targeted at this test's own event ids, docs/tiktok.md), the real collector, the DeliveryFunction polling the
local DeliveryQueue, the settings GET; what is queued or dead-lettered read from /_dev/state.

Also the split under the budget: a 50-event beacon TikTok refuses event by event, each answer 150 ms late.
"""

import json
import time
import uuid
from collections import Counter

import pytest

from tests.e2e import polling

pytestmark = pytest.mark.e2e

WAIT_S = 60
LONE_SURROGATE = "\udfff"


def wait_for(predicate, what: str, timeout_s: float = WAIT_S):
    return polling.wait_for(predicate, what, timeout_s)


class Campaign:
    def __init__(self, stack):
        self.stack = stack
        self.id = f"e2e-answers-{uuid.uuid4().hex[:8]}"
        self.pixel_id = f"CE2E{uuid.uuid4().hex[:16].upper()}"
        self.token = f"tok-e2e-answers-{uuid.uuid4().hex[:8]}"

    def beacon(self, events: list[dict]) -> tuple[int, dict]:
        now = int(time.time() * 1000)
        body = {"campaign_id": self.id, "session_id": f"s-{uuid.uuid4()}",
                "events": [{"time": now, **event} for event in events]}
        answer = self.stack.request("POST", "/v1/events", data=json.dumps(body), headers={"Content-Type": "text/plain"})
        return answer.status_code, answer.json()

    def calls(self) -> list[dict]:
        """The stand-in's records of this campaign's calls, oldest first."""
        return [r for r in self.stack.tiktok_requests()
                if isinstance(r["body"], dict) and r["body"].get("event_source_id") == self.pixel_id]

    def settings(self) -> dict:
        return self.stack.admin("GET", f"/v1/campaigns/{self.id}/tiktok").json()


@pytest.fixture
def campaign(tiktok):
    made = Campaign(tiktok)
    answer = tiktok.admin("PUT", f"/v1/campaigns/{made.id}/tiktok", json={
        "pixel_id": made.pixel_id, "access_token": made.token, "enabled": True, "allowed_origins": None,
        "event_names": {}, "limited_data_use": False, "require_consent": False, "report_renewals": False})
    assert answer.status_code == 200, answer.text
    yield made
    tiktok.admin("DELETE", f"/v1/campaigns/{made.id}/tiktok")


def ids(prefix: str, n: int) -> list[str]:
    unique = uuid.uuid4().hex[:8]
    return [f"{prefix}-{unique}-{i}" for i in range(n)]


def page_views(event_ids: list[str]) -> list[dict]:
    return [{"event": "page_view", "event_id": event_id, "page": {"url": "https://funnel.example.com/"}}
            for event_id in event_ids]


def holding(messages: list, event_ids: list[str]) -> list[dict]:
    """The queue messages carrying any of `event_ids`."""
    wanted = set(event_ids)
    return [m for m in messages if isinstance(m, dict) and {e.get("event_id") for e in m.get("events", [])} & wanted]


def event_ids_in(messages: list[dict], event_ids: list[str]) -> list[str]:
    return [e["event_id"] for m in messages for e in m["events"] if e["event_id"] in set(event_ids)]


def accepted_counts(calls: list[dict]) -> Counter:
    return Counter(e["event_id"] for c in calls if c["response"] and c["response"].get("code") == 0
                   for e in c["body"]["data"])


def test_code_0_is_sent_once(campaign):
    events = ids("ok", 3)
    assert campaign.beacon(page_views(events)) == (202, {"accepted": events, "rejected": []})
    assert accepted_counts(campaign.calls()) == Counter(events)
    state = campaign.stack.state()
    assert holding(state["queued"], events) == [] and holding(state["dead_lettered"], events) == []
    assert campaign.settings()["last_delivery"]["code"] == 0


def test_20001_naming_no_event_halves_the_call(campaign):
    events = ids("half", 4)
    campaign.stack.add_fault({"code": 20001, "event_ids": events})
    assert campaign.beacon(page_views(events))[0] == 202
    calls = campaign.calls()
    assert [([e["event_id"] for e in c["body"]["data"]], c["response"]["code"]) for c in calls] == [
        (events, 20001), (events[:2], 0), (events[2:], 0)]
    assert holding(campaign.stack.state()["dead_lettered"], events) == []


def test_a_targeted_20001_dead_letters_only_the_named_event_with_tiktoks_message(campaign):
    events = ids("partial", 10)
    refused = events[2]
    campaign.stack.add_fault({"code": 20001, "event_ids": [refused], "times": 10})
    assert campaign.beacon(page_views(events))[0] == 202
    calls = campaign.calls()
    assert accepted_counts(calls) == Counter(e for e in events if e != refused)
    dead = holding(campaign.stack.state()["dead_lettered"], events)
    assert event_ids_in(dead, events) == [refused]
    lone = next(c for c in calls if [e["event_id"] for e in c["body"]["data"]] == [refused])
    assert dead[0]["reason"] == {"kind": "refused", "code": 20001, "message": lone["response"]["message"],
                                 "http_status": 200}


# fault -> the reason's (code, http_status) it is queued with
TRANSIENT = {
    "40100": ({"code": 40100}, (40100, 200)),
    "40132": ({"code": 40132}, (40132, 200)),
    "50000": ({"code": 50000}, (50000, 200)),
    "50002": ({"code": 50002}, (50002, 200)),
    "51010": ({"code": 51010}, (51010, 200)),
    "60001": ({"code": 60001}, (60001, 200)),
    "http-429": ({"http_status": 429}, (None, 429)),
    "http-503": ({"http_status": 503}, (None, 503)),
    # Past the 3 s a call may take; what TikTok says after that (here a refusal) is never read.
    "timeout": ({"delay_ms": 3500, "code": 50002}, (None, None)),
    "reset": ({"reset": True}, (None, None)),
}


@pytest.mark.parametrize("fault", list(TRANSIENT))
def test_a_transient_answer_is_retried_then_delivered_once(fault, campaign):
    events = ids(f"transient-{fault}", 2)
    injected, (code, http_status) = TRANSIENT[fault]
    # Twice: the DeliveryFunction's first delivery and its first retry; the second retry finds TikTok back.
    campaign.stack.add_fault({**injected, "event_ids": events, "times": 2})
    assert campaign.beacon(page_views(events)) == (202, {"accepted": events, "rejected": []})
    wait_for(lambda: accepted_counts(campaign.calls()) == Counter(events), "the retried delivery", timeout_s=60)
    carrying = [c for c in campaign.calls() if {e["event_id"] for e in c["body"]["data"]} & set(events)]
    failed = carrying[:-1]
    assert len(failed) == 2, carrying
    if code is not None:  # TikTok's code in the stand-in's answer (a timeout's answer is never read)
        assert [(call["response"] or {}).get("code") for call in failed] == [code, code]
    assert "Access-Token" in carrying[-1]["headers"]
    assert accepted_counts(campaign.calls()) == Counter(events), "delivered exactly once"
    state = campaign.stack.state()
    assert holding(state["queued"], events) == [] and holding(state["dead_lettered"], events) == []


TOKEN_CODES = {40102: "has expired", 40104: "was missing", 40105: "is invalid or revoked"}
PERMANENT = {"40001": 40001, "40002-single": 40002, "40102": 40102, "40104": 40104, "40105": 40105,
             "unknown": 47123}


@pytest.mark.parametrize("fault", list(PERMANENT))
def test_a_permanent_answer_is_dead_lettered_with_tiktoks_code_and_message(fault, campaign):
    code = PERMANENT[fault]
    events = ids(f"permanent-{fault}", 1 if fault == "40002-single" else 3)
    campaign.stack.add_fault({"code": code, "event_ids": events})
    assert campaign.beacon(page_views(events))[0] == 202
    [call] = campaign.calls()
    assert call["response"]["code"] == code
    state = campaign.stack.state()
    dead = holding(state["dead_lettered"], events)
    assert sorted(event_ids_in(dead, events)) == sorted(events)
    assert [m["reason"] for m in dead] == [{"kind": "refused", "code": code, "message": call["response"]["message"],
                                            "http_status": 200}]
    assert holding(state["queued"], events) == []
    view = campaign.settings()
    assert (view["last_delivery"]["outcome"], view["last_delivery"]["code"]) == ("permanent_failure", code)
    token_warnings = [w for w in view["warnings"] if "access token" in w]
    if code in TOKEN_CODES:
        assert len(token_warnings) == 1 and TOKEN_CODES[code] in token_warnings[0]
    else:
        assert token_warnings == []


def test_a_50_event_beacon_refused_event_by_event_is_answered_in_time_and_loses_nothing(campaign):
    events = ids("split", 50)
    # TikTok refuses every one of them, alone or in company (40002), each answer 150 ms late: isolating all
    # of them takes 99 calls, about 15 s: the beacon waits for none of them.
    campaign.stack.add_fault({"code": 40002, "event_ids": events, "times": 1000, "delay_ms": 150})
    started = time.monotonic()
    status, body = campaign.beacon(page_views(events))
    answered_in = time.monotonic() - started
    assert status == 202 and body["accepted"] == events
    # The beacon never waits for TikTok (issue 20): far within the collector's 10 s timeout.
    assert answered_in < 8, f"answered after {answered_in:.1f} s"

    # The DeliveryFunction halves, over as many invocations as it takes, until every event has its answer: all
    # dead-lettered, each once, none sent.
    def all_dead() -> list[dict] | None:
        state = campaign.stack.state()
        done = holding(state["dead_lettered"], events)
        return done if sorted(event_ids_in(done, events)) == sorted(events) and not holding(
            state["queued"], events) else None

    dead = wait_for(all_dead, "every event dead-lettered", timeout_s=120)
    assert Counter(event_ids_in(dead, events)) == Counter(events)
    assert {(m["reason"]["kind"], m["reason"]["code"]) for m in dead} == {("refused", 40002)}
    calls = campaign.calls()
    assert accepted_counts(calls) == Counter()
    # The DeliveryFunction started from the whole beacon, not from single events.
    assert any(sorted(e["event_id"] for e in c["body"]["data"]) == sorted(events) for c in calls)


@pytest.mark.parametrize("where", ["page.url", "step.id", "ttp", "content_name"])
def test_lone_surrogates_are_refused_and_the_test_events_page_still_answers(where, campaign):
    stack = campaign.stack
    good, bad = ids(f"surrogate-{where}", 2)
    events = [{"event": "page_view", "event_id": good}]
    envelope: dict = {}
    if where == "page.url":
        events.append({"event": "page_view", "event_id": bad, "page": {"url": f"https://a.example/{LONE_SURROGATE}"}})
    elif where == "step.id":
        events.append({"event": "page_completed", "event_id": bad, "step": {"index": 1, "id": LONE_SURROGATE}})
    elif where == "content_name":
        events.append({"event": "checkout_presented", "event_id": bad, "value": 1, "currency": "USD",
                       "contents": [{"content_id": "p", "content_name": LONE_SURROGATE, "quantity": 1}]})
    else:
        envelope["ttp"] = LONE_SURROGATE
    body = {"campaign_id": campaign.id, "session_id": f"s-{uuid.uuid4()}", **envelope,
            "events": [{"time": int(time.time() * 1000), **e} for e in events]}
    raw = json.dumps(body)
    assert "\\udfff" in raw
    answer = stack.request("POST", "/v1/events", data=raw, headers={"Content-Type": "text/plain"})
    if where == "ttp":
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "invalid_field")
    else:
        assert answer.status_code == 202, answer.text
        assert [(r["event_id"], r["code"]) for r in answer.json()["rejected"]] == [(bad, "invalid_field")]
    assert "\\udfff" not in json.dumps([c["body"] for c in campaign.calls()])
    assert stack.get("/_dev/").status_code == 200
    assert stack.get("/_dev/state").status_code == 200


@pytest.fixture
def pixel_log(stack):
    stack.clear_pixel()
    yield
    stack.clear_pixel()


@pytest.mark.parametrize("log", ["tiktok", "pixel"])
def test_the_test_events_page_answers_whatever_string_its_logs_recorded(log, tiktok, pixel_log):
    """Both stand-ins record what they are sent as it came, lone surrogates included: the page must still show."""
    if log == "tiktok":
        answer = tiktok.request("POST", "/_dev/tiktok/open_api/v1.3/event/track/", data=json.dumps(
            {"event_source": "web", "event_source_id": f"CPIX{LONE_SURROGATE}", "data": [
                {"event": f"Page{LONE_SURROGATE}", "event_id": LONE_SURROGATE, "event_time": int(time.time())}]}),
            headers={"Access-Token": "tok-e2e-surrogate", "Content-Type": "application/json"})
        assert answer.json()["code"] == 40002
    else:
        answer = tiktok.request("POST", "/_dev/pixel/requests", data=json.dumps(
            {"pixel_id": f"CPIX{LONE_SURROGATE}", "method": "track",
             "args": [f"Page{LONE_SURROGATE}", {}, {"event_id": LONE_SURROGATE}]}),
            headers={"Content-Type": "text/plain"})
        assert answer.status_code == 200
    page = tiktok.get("/_dev/")
    assert page.status_code == 200, page.text[:300]
    assert page.headers["Content-Type"].startswith("text/html")
    assert tiktok.get("/_dev/state").status_code == 200
