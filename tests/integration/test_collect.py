import base64
import gzip
import json
import os
from pathlib import Path

import boto3
import collect_app
import pytest

from tests.integration.conftest import LambdaContext, load_event
from tests.integration.helpers import beacon_body, call, deliver_queued, post_beacon, put_settings

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "beacon_track_request.json"
RAW_EMAIL = "Ann@Example.com"
SOURCE_IP = json.loads((Path(__file__).resolve().parents[2] / "events" / "post_events.json").read_text())[
    "requestContext"]["http"]["sourceIp"]
TRACKER_SOURCE = Path(collect_app.__file__).with_name("tracker.js")


def normalised(call_record: dict) -> dict:
    """The TikTok request with the only moving part (event_time) pinned."""
    body = json.loads(json.dumps(call_record["body"]))
    for event in body["data"]:
        event["event_time"] = 1795615199
    return {"url": call_record["url"], "headers": call_record["headers"], "body": body}


def test_beacon_produces_the_golden_events_api_request(runtime, tiktok):
    put_settings()
    status, headers, body = post_beacon(beacon_body())
    assert status == 202
    assert body == {"accepted": ["ev-0001-page", "ev-0002-step", "ev-0003-email", "ev-0004-checkout"],
                    "rejected": []}
    assert len(tiktok.calls) == 1
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(normalised(tiktok.calls[0]), indent=2) + "\n")
    assert normalised(tiktok.calls[0]) == json.loads(GOLDEN.read_text())


def test_repeated_beacon_is_sent_once(runtime, tiktok):
    put_settings()
    assert post_beacon(beacon_body())[0] == 202
    status, _, body = post_beacon(beacon_body())
    assert status == 202 and len(body["accepted"]) == 4
    assert len(tiktok.calls) == 1


def test_repeats_inside_one_beacon_are_sent_once(runtime, tiktok):
    put_settings()
    event = {"event": "page_view", "event_id": "same"}
    status, _, body = post_beacon(beacon_body(events=[event, event]))
    assert status == 202 and body["accepted"] == ["same", "same"]
    assert [e["event_id"] for e in tiktok.events] == ["same"]


def test_pixel_only_campaign_accepts_and_sends_nothing(runtime, tiktok, aws):
    put_settings(access_token=None)
    status, _, body = post_beacon(beacon_body())
    assert status == 202 and len(body["accepted"]) == 4
    assert tiktok.calls == []
    assert boto3.client("dynamodb").scan(TableName=aws["SESSIONS_TABLE"])["Count"] == 0


def test_mixed_beacon_sends_the_good_event_and_names_the_bad(runtime, tiktok):
    put_settings()
    events = [{"event": "page_view", "event_id": "good"}, {"event": "payment_succeeded", "event_id": "pi_1"},
              {"event": "page_view", "event_id": "bad id"}]
    status, _, body = post_beacon(beacon_body(events=events))
    assert status == 202 and body["accepted"] == ["good"]
    assert [(r["event_id"], r["code"]) for r in body["rejected"]] == [("pi_1", "server_only_event"),
                                                                      ("bad id", "invalid_event_id")]
    assert [e["event_id"] for e in tiktok.events] == ["good"]


@pytest.mark.parametrize("raw, status, code", [
    ("not json", 400, "invalid_json"),
    ("[]", 400, "invalid_json"),
    (json.dumps({"campaign_id": "demo", "session_id": "s", "events": []}), 400, "invalid_field"),
    (json.dumps({"campaign_id": "demo", "session_id": "s", "events": "x"}), 400, "invalid_field"),
    (json.dumps({"campaign_id": "ghost", "session_id": "s", "events": [{"event": "page_view", "event_id": "a"}]}),
     404, "unknown_campaign"),
    (json.dumps({"campaign_id": "demo", "session_id": "s", "events": [{"event": "x", "event_id": "a"}]}),
     422, "no_valid_events"),
    ("x" * (64 * 1024 + 1), 413, "payload_too_large"),
])
def test_bad_input_status_and_error_shape(runtime, tiktok, raw, status, code):
    put_settings()
    got_status, headers, body = post_beacon(raw)
    assert got_status == status
    assert body["error"]["code"] == code and body["error"]["message"] and isinstance(body["error"]["details"], list)
    assert headers["Content-Type"] == "application/json"
    assert tiktok.calls == []


def test_invalid_utf8_base64_body_is_400(runtime):
    put_settings()
    status, _, body = post_beacon(b"\xff\xfe{}", base64_encoded=True)
    assert status == 400 and body["error"]["code"] == "invalid_encoding"


def test_base64_encoded_beacon_is_accepted(runtime, tiktok):
    put_settings()
    assert post_beacon(beacon_body(), base64_encoded=True)[0] == 202
    assert len(tiktok.events) == 4


def test_all_invalid_lists_rejections_in_details(runtime):
    put_settings()
    status, _, body = post_beacon(beacon_body(events=[{"event": "trial_started", "event_id": "sub_1"}]))
    assert status == 422 and body["error"]["details"][0]["code"] == "server_only_event"


def test_origin_check(runtime, tiktok):
    put_settings()
    assert post_beacon(beacon_body(), origin="https://evil.example")[0] == 403
    assert post_beacon(beacon_body(), origin="null")[0] == 403
    assert post_beacon(beacon_body(), origin=None)[0] == 202
    assert len(tiktok.calls) == 1


def test_disabled_campaign_is_404(runtime):
    put_settings(enabled=False)
    assert post_beacon(beacon_body())[0] == 404


def test_cors_preflight_is_answered_by_the_function(runtime):
    status, headers, _ = call(collect_app, load_event("options_events.json"))
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in headers["Access-Control-Allow-Methods"]
    status, headers, _ = post_beacon(beacon_body())
    assert headers.get("Access-Control-Allow-Origin") == "*"


def test_session_never_forgets_and_never_stores_the_raw_email(runtime, tiktok, aws):
    put_settings()
    post_beacon(beacon_body())
    later = beacon_body(events=[{"event": "page_view", "event_id": "later"}], ttp=None, ttclid=None)
    post_beacon(later, headers={"user-agent": ""})
    last = tiktok.events[-1]
    assert set(last["user"]) == {"external_id", "email", "ttp", "ttclid", "ip", "user_agent"}
    assert last["user"]["ttclid"] == "E.C.P.CsABc0FkZXYtdHRjbGlk"
    dump = json.dumps(boto3.client("dynamodb").scan(TableName=aws["SESSIONS_TABLE"])["Items"])
    assert RAW_EMAIL.lower() not in dump.lower() and last["user"]["email"] in dump


def test_beacon_is_queued_without_token_or_raw_email_and_answered_before_any_tiktok_call(runtime, tiktok,
                                                                                         sqs_messages):
    put_settings()
    status, _, body = post_beacon(beacon_body(), deliver=False)
    assert status == 202 and len(body["accepted"]) == 4
    assert tiktok.calls == []
    messages = sqs_messages("DELIVERY_QUEUE_URL")
    assert len(messages) == 1 and len(messages[0]["events"]) == 4
    dump = json.dumps(messages)
    assert "tt-access-token" not in dump and RAW_EMAIL.lower() not in dump.lower()
    assert messages[0]["campaign_id"] == "demo" and "reason" not in messages[0]


def test_transient_failure_comes_back_after_its_backoff_and_is_sent_then(runtime, tiktok, clock, aws):
    from tests.integration.delivery_source import DeliveryEventSource

    put_settings()
    tiktok.script = [503]
    status, _, _ = post_beacon(beacon_body())
    assert status == 202 and len(tiktok.calls) == 1
    source = DeliveryEventSource(aws)
    assert source.depth() == 1 and source.poll() is None  # hidden for its backoff
    clock.advance(31)
    deliver_queued()
    assert len(tiktok.calls) == 2 and tiktok.calls[-1]["answer"] == 0
    assert source.depth() == 0


def test_permanent_failure_is_dead_lettered_with_tiktoks_answer(runtime, tiktok, sqs_messages):
    put_settings()
    tiktok.script = [{"code": 40105, "message": "Access token is invalid"}]
    assert post_beacon(beacon_body())[0] == 202
    dead = sqs_messages("DEAD_LETTER_QUEUE_URL")
    assert dead[0]["reason"]["code"] == 40105 and dead[0]["reason"]["kind"] == "refused"
    from tests.integration.helpers import settings_request

    view = settings_request("GET")[1]
    assert view["last_delivery"]["code"] == 40105
    assert any("40105" in w for w in view["warnings"])


def test_require_consent_without_consent_stores_and_sends_nothing(runtime, tiktok, aws):
    put_settings(require_consent=True)
    status, _, body = post_beacon(beacon_body(consent=False))
    assert status == 202 and len(body["accepted"]) == 4
    assert tiktok.calls == []
    assert boto3.client("dynamodb").scan(TableName=aws["SESSIONS_TABLE"])["Count"] == 0
    post_beacon(beacon_body(consent=True))
    assert len(tiktok.calls) == 1


def test_test_event_code_is_sent_until_it_expires(runtime, tiktok):
    put_settings(test_event_code="TEST777")
    post_beacon(beacon_body(events=[{"event": "page_view", "event_id": "a"}]))
    assert tiktok.calls[-1]["body"]["test_event_code"] == "TEST777"
    put_settings(test_event_code="TEST777", test_event_code_expires_at="2020-01-01T00:00:00+00:00")
    runtime.campaigns._cache.clear()
    post_beacon(beacon_body(events=[{"event": "page_view", "event_id": "b"}]))
    assert "test_event_code" not in tiktok.calls[-1]["body"]


def test_tracker_js_bakes_config_and_never_the_token(runtime):
    put_settings(event_names={"payment_succeeded": "Purchase"})
    status, headers, script = call(collect_app, load_event("get_tracker.json"))
    assert status == 200
    assert headers["Content-Type"].startswith("application/javascript")
    assert headers["Cache-Control"] == "public, max-age=300"
    assert "C4ABCDEF0123456789AB" in script and '"Purchase"' in script
    assert "tt-access-token" not in script and "cdef" not in script
    event = load_event("get_tracker.json")
    event["pathParameters"] = {"campaign_id": "ghost"}
    event["rawPath"] = "/v1/campaigns/ghost/tracker.js"
    assert call(collect_app, event)[0] == 404


def tracker_request(**headers: str) -> dict:
    event = load_event("get_tracker.json")
    event["headers"].update(headers)
    return event


def test_tracker_js_is_served_minified_and_gzip_when_accepted(runtime):
    put_settings(event_names={"payment_succeeded": "Purchase"})
    response = collect_app.lambda_handler(tracker_request(**{"accept-encoding": "gzip, deflate, br"}),
                                          LambdaContext())
    assert response["statusCode"] == 200
    headers = response["headers"]
    assert headers["Content-Encoding"] == "gzip" and headers["Vary"] == "Accept-Encoding"
    assert headers["Content-Type"].startswith("application/javascript")
    assert headers["Cache-Control"] == "public, max-age=300"
    # API Gateway's HTTP API passes a binary body on only when it is flagged base64.
    assert response["isBase64Encoded"] is True
    compressed = base64.b64decode(response["body"])
    script = gzip.decompress(compressed).decode()
    assert '"Purchase"' in script and "/*__ZT_CONFIG__*/" not in script
    # The minified build (functions/collect/Makefile), not the readable source with its comments.
    assert "\n// " not in script and len(script) < 0.6 * len(TRACKER_SOURCE.read_text())
    assert len(compressed) <= 5000
    _, plain_headers, plain = call(collect_app, tracker_request())
    assert plain == script and "Content-Encoding" not in plain_headers
    assert plain_headers["ETag"] != headers["ETag"]


def test_tracker_js_revalidates_with_304_until_the_campaign_changes(runtime):
    put_settings()
    status, headers, _ = call(collect_app, tracker_request(**{"accept-encoding": "gzip"}))
    etag = headers["ETag"]
    response = collect_app.lambda_handler(
        tracker_request(**{"accept-encoding": "gzip", "if-none-match": etag}), LambdaContext())
    assert response["statusCode"] == 304 and not response["body"]
    assert response["headers"]["ETag"] == etag and response["headers"]["Cache-Control"] == "public, max-age=300"
    # The script is rendered per campaign: other settings, other bytes, another ETag.
    put_settings(event_names={"payment_succeeded": "Purchase"})
    runtime.campaigns._cache.clear()
    status, headers, _ = call(collect_app, tracker_request(**{"accept-encoding": "gzip", "if-none-match": etag}))
    assert status == 200 and headers["ETag"] != etag


@pytest.mark.parametrize("if_none_match", ["not-quoted", '"unterminated', 'W/', '"a" "b"'])
def test_tracker_js_with_a_malformed_if_none_match_gets_the_script(runtime, if_none_match):
    put_settings()
    status, headers, script = call(collect_app, tracker_request(**{"if-none-match": if_none_match}))
    assert status == 200 and "C4ABCDEF0123456789AB" in script


def test_unknown_route_has_the_error_shape(runtime):
    event = load_event("get_tracker.json")
    event["rawPath"] = "/v1/nothing"
    event["requestContext"]["http"]["path"] = "/v1/nothing"
    status, _, body = call(collect_app, event)
    assert status == 404 and body["error"]["code"] == "route_not_found"


ORIGIN_SECRET = "origin-secret-0123456789"


@pytest.mark.parametrize(("headers", "ip"), [
    # Through CloudFront: it adds the origin secret, and the viewer's address is the visitor's.
    ({"cloudfront-viewer-address": "198.51.100.7:53012", "x-origin-verify": ORIGIN_SECRET}, "198.51.100.7"),
    ({"cloudfront-viewer-address": "[2001:db8::7]:53012", "x-origin-verify": ORIGIN_SECRET}, "2001:db8::7"),
    # Around CloudFront (the execute-api URL): the header is anyone's to set, so sourceIp it is.
    ({"cloudfront-viewer-address": "198.51.100.7:53012"}, SOURCE_IP),
    ({"cloudfront-viewer-address": "198.51.100.7:53012", "x-origin-verify": "guessed"}, SOURCE_IP),
    ({"cloudfront-viewer-address": "198.51.100.7:53012", "x-origin-verify": ""}, SOURCE_IP),
])
def test_behind_cloudfront_the_viewer_address_counts_only_with_the_origin_secret(runtime, tiktok, monkeypatch,
                                                                               headers, ip):
    from zellify_tiktok.config import get_config

    monkeypatch.setenv("CLIENT_IP_HEADER", "cloudfront-viewer-address")
    monkeypatch.setenv("ORIGIN_VERIFY_SECRET", ORIGIN_SECRET)
    get_config.cache_clear()
    put_settings()
    assert post_beacon(beacon_body(events=[{"event": "page_view", "event_id": "cf"}]), headers=headers)[0] == 202
    assert tiktok.events[-1]["user"]["ip"] == ip
    get_config.cache_clear()


def test_without_an_origin_secret_the_proxy_header_is_never_trusted(runtime, tiktok, monkeypatch):
    from zellify_tiktok.config import get_config

    monkeypatch.setenv("CLIENT_IP_HEADER", "cloudfront-viewer-address")
    monkeypatch.delenv("ORIGIN_VERIFY_SECRET", raising=False)
    get_config.cache_clear()
    put_settings()
    post_beacon(beacon_body(events=[{"event": "page_view", "event_id": "cf"}]),
                headers={"cloudfront-viewer-address": "198.51.100.7:53012", "x-origin-verify": ""})
    assert tiktok.events[-1]["user"]["ip"] == SOURCE_IP
    get_config.cache_clear()


def test_consent_withdrawn_later_is_recorded(runtime, tiktok, aws):
    put_settings(require_consent=True)
    post_beacon(beacon_body(consent=True))
    post_beacon(beacon_body(events=[{"event": "page_view", "event_id": "after"}], consent=False))
    assert runtime.sessions.get("demo", beacon_body()["session_id"]).consent is False
    assert [e["event_id"] for e in tiktok.events if e["event_id"] == "after"] == []


def test_origins_match_whatever_the_case(runtime, tiktok):
    put_settings(allowed_origins=["https://Funnel.Example.com"])
    assert post_beacon(beacon_body(), origin="https://funnel.example.com")[0] == 202


def test_a_stored_withdrawal_wins_over_a_later_beacon_that_says_nothing(runtime, tiktok):
    put_settings()
    session = {"session_id": "withdrawn-session"}
    assert post_beacon(beacon_body(events=[{"event": "page_view", "event_id": "w-before"}], consent=True,
                                   **session))[0] == 202
    status, _, answer = post_beacon(beacon_body(events=[], consent=False, **session))
    assert (status, answer) == (202, {"accepted": [], "rejected": []})
    # A later page of the funnel does not repeat zt('consent', false): its beacon carries no consent.
    later = beacon_body(events=[{"event": "page_view", "event_id": "w-after"}], **session)
    later.pop("consent", None)
    assert post_beacon(later)[0] == 202
    assert [e["event_id"] for e in tiktok.events] == ["w-before"]


def test_a_session_that_withdrew_consent_keeps_nothing_a_later_silent_beacon_brings(runtime, tiktok):
    """Not only is nothing sent: the email a later page identifies is not stored on the session either."""
    put_settings()
    session = {"session_id": "withdrawn-no-merge"}
    assert post_beacon(beacon_body(events=[{"event": "page_view", "event_id": "m-before"}], consent=True,
                                   **session))[0] == 202
    assert post_beacon(beacon_body(events=[], consent=False, **session))[0] == 202
    later = beacon_body(events=[{"event": "email_captured", "event_id": "m-after", "email": "later@example.com"}],
                        **session)
    later.pop("consent", None)
    assert post_beacon(later)[0] == 202
    stored = runtime.sessions.get("demo", "withdrawn-no-merge")
    assert stored.consent is False and stored.user.email is None
    # Giving consent again is what lifts the refusal.
    assert post_beacon(beacon_body(events=[{"event": "page_view", "event_id": "m-again"}], consent=True,
                                   **session))[0] == 202
    assert [e["event_id"] for e in tiktok.events] == ["m-before", "m-again"]


def test_every_answer_to_a_cross_origin_request_carries_cors_and_no_other_does(runtime):
    put_settings()
    for body in (beacon_body(), b"{not json", beacon_body(campaign_id="nobody")):
        status, headers, _ = post_beacon(body)
        assert status in (202, 400, 404)
        assert headers["Access-Control-Allow-Origin"] == "*", status
        assert headers["Access-Control-Allow-Headers"] == "Content-Type"
        status, headers, _ = post_beacon(body, origin=None)
        assert not any(name.lower().startswith("access-control-") for name in headers), status
    status, headers, body = call(collect_app, load_event("options_events.json"))
    assert (status, body) == (204, None)
    assert headers["Access-Control-Allow-Methods"] == "OPTIONS,POST"
    assert headers["Access-Control-Max-Age"] == "600"
