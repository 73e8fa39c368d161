"""The faults issue 10 found in review, one test each, through the real handlers under moto.

(The DeliveryQueue backlog that must drain without a dead letter is in test_outage.py, with the other tests
that run the DeliveryQueue on virtual time.)
"""

import json

import collect_app
import pytest

from tests.integration.conftest import load_event
from tests.integration.delivery_source import DeliveryEventSource
from tests.integration.helpers import beacon_body, call, post_beacon, put_settings, settings_request

PIXEL_A = "CPIXELAAAAAAAAAAAAAA"
PIXEL_B = "CPIXELBBBBBBBBBBBBBB"
LONE_SURROGATE = "\udfff"  # json.dumps writes it as the escape "\udfff", which any JSON parser takes


def records_of(logs, request_id: str) -> list[dict]:
    lines = [json.loads(line) for line in logs.getvalue().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("correlation_id") == request_id]


def with_request_id(event: dict, request_id: str) -> dict:
    event["requestContext"]["requestId"] = request_id
    return event


def test_the_campaign_id_in_the_logs_does_not_outlive_its_invocation(runtime, tiktok, service_logs):
    put_settings("cmp-a", allowed_origins=None)
    beacon = load_event("post_events.json")
    beacon["body"] = json.dumps(beacon_body(campaign_id="cmp-a"))
    assert call(collect_app, with_request_id(beacon, "req-campaign-a"))[0] == 202
    assert records_of(service_logs, "req-campaign-a")
    assert all(r.get("campaign_id") == "cmp-a" for r in records_of(service_logs, "req-campaign-a")
               if r["message"] == "beacon queued")

    unknown = load_event("post_events.json")
    unknown["body"] = json.dumps(beacon_body(campaign_id="cmp-unknown"))
    assert call(collect_app, with_request_id(unknown, "req-unknown-campaign"))[0] == 404
    tracker = load_event("get_tracker.json")
    tracker["rawPath"] = tracker["requestContext"]["http"]["path"] = "/v1/campaigns/cmp-unknown/tracker.js"
    tracker["pathParameters"] = {"campaign_id": "cmp-unknown"}
    assert call(collect_app, with_request_id(tracker, "req-unknown-tracker"))[0] == 404

    for request_id in ("req-unknown-campaign", "req-unknown-tracker"):
        later = records_of(service_logs, request_id)
        assert later, f"{request_id} logged nothing"
        assert [r for r in later if "campaign_id" in r] == [], f"{request_id} carries an earlier campaign_id"


def test_a_retry_for_the_campaigns_old_pixel_leaves_its_current_pixel_in_the_cache(runtime, tiktok, aws):
    # Events queued while the campaign had pixel B; the operator then moves it to pixel A.
    put_settings(pixel_id=PIXEL_B)
    assert post_beacon(beacon_body(events=[{"event": "page_view", "event_id": "for-b"}]), deliver=False)[0] == 202
    put_settings(pixel_id=PIXEL_A)
    tiktok.calls.clear()
    # Within the cache's 60 s: the delivery (to B, as built) records TikTok's answer on the campaign,
    assert DeliveryEventSource(aws).poll() == {"batchItemFailures": []}
    assert [(c["body"]["event_source_id"], c["answer"]) for c in tiktok.calls] == [(PIXEL_B, 0)]
    # and the next beacon still goes to the campaign's pixel, A.
    assert post_beacon(beacon_body(events=[{"event": "page_view", "event_id": "for-a"}]))[0] == 202
    assert [(c["body"]["event_source_id"], [e["event_id"] for e in c["body"]["data"]]) for c in tiktok.calls[1:]] == [
        (PIXEL_A, ["for-a"])]
    # (Read last: the settings GET reads the campaign afresh, which would hide a stale cache.)
    view = settings_request("GET")[1]
    assert (view["pixel_id"], view["last_delivery"]["outcome"]) == (PIXEL_A, "sent")


def surrogate_in(where: str) -> tuple[dict, str]:
    """A beacon with a good event and one carrying a lone surrogate at `where`; the bad event's id."""
    good = {"event": "page_view", "event_id": "good-1", "page": {"url": "https://funnel.example.com/"}}
    bad: dict = {"event": "page_view", "event_id": "bad-1"}
    envelope: dict = {}
    if where == "page.url":
        bad["page"] = {"url": f"https://funnel.example.com/{LONE_SURROGATE}"}
    elif where == "step.id":
        bad = {"event": "page_completed", "event_id": "bad-1", "step": {"index": 1, "id": f"quiz{LONE_SURROGATE}"}}
    elif where == "content_name":
        bad = {"event": "checkout_presented", "event_id": "bad-1", "value": 9.99, "currency": "USD",
               "contents": [{"content_id": "plan_pro", "content_name": f"Pro {LONE_SURROGATE}", "quantity": 1}]}
    elif where == "ttp":
        envelope["ttp"] = f"ttp{LONE_SURROGATE}"
    return beacon_body(events=[good, bad], **envelope), "bad-1"


@pytest.mark.parametrize("where", ["page.url", "step.id", "content_name", "ttp"])
def test_a_lone_surrogate_is_refused_as_invalid_field_and_never_reaches_tiktok(where, runtime, tiktok, aws):
    put_settings()
    beacon, bad_id = surrogate_in(where)
    raw = json.dumps(beacon)
    assert "\\udfff" in raw and raw.isascii()
    status, _, body = post_beacon(raw)
    if where == "ttp":
        # An envelope field: the whole beacon is refused.
        assert status == 400 and body["error"]["code"] == "invalid_field"
        assert [d["field"] for d in body["error"]["details"]] == ["ttp"]
        assert tiktok.calls == []
    else:
        assert status == 202, body
        assert body["accepted"] == ["good-1"]
        assert [(r["event_id"], r["code"]) for r in body["rejected"]] == [(bad_id, "invalid_field")]
        assert [e["event_id"] for e in tiktok.events] == ["good-1"]
    assert "\\udfff" not in json.dumps([c["body"] for c in tiktok.calls])
    # The session of the visitor was stored (no surrogate reached DynamoDB), so a next beacon works.
    status, _, _ = post_beacon(beacon_body(events=[{"event": "page_view", "event_id": "after-1"}]))
    assert status == 202


def test_a_beacon_of_only_lone_surrogates_is_422_naming_invalid_field(runtime, tiktok):
    put_settings()
    beacon, _ = surrogate_in("page.url")
    beacon["events"] = beacon["events"][1:]
    status, _, body = post_beacon(json.dumps(beacon))
    assert status == 422 and body["error"]["code"] == "no_valid_events"
    assert [d["code"] for d in body["error"]["details"]] == ["invalid_field"]
    assert tiktok.calls == []


@pytest.mark.parametrize(("field", "value"), [
    ("event_names", {"page_view": "Pageview\n"}),
    ("allowed_origins", ["https://a.com\n"]),
])
def test_a_trailing_newline_in_a_validated_setting_is_422(field, value, runtime):
    status, body = put_settings(**{field: value})
    assert status == 422, body
    assert field in [d["field"] for d in body["error"]["details"]]
    assert settings_request("GET")[0] == 404  # nothing stored
