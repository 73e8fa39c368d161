"""Over HTTP against the local stack: a beacon produces the exact Events API request (pinned by a golden
file), once even when repeated; a pixel-only campaign sends nothing."""

import hashlib
import json
import os
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "local_beacon_track_request.json"
USER_AGENT = "Mozilla/5.0 (golden test)"


def sample_beacon(session_id: str, **envelope) -> dict:
    body = json.loads(json.loads((ROOT / "events" / "post_events.json").read_text())["body"])
    now = int(time.time() * 1000)
    for event in body["events"]:
        event["time"] = now
        event["event_id"] = f"{event['event_id']}-{session_id}"
    return {**body, "session_id": session_id, **envelope}


def post(stack, body: dict):
    return stack.request("POST", "/v1/events", data=json.dumps(body),
                         headers={"Content-Type": "text/plain;charset=UTF-8", "User-Agent": USER_AGENT})


def pinned(record: dict, session_id: str) -> dict:
    """The request as the stand-in received it, with what moves between runs replaced."""
    text = json.dumps({"headers": {k: record["headers"][k] for k in ("Access-Token", "Content-Type")},
                       "body": record["body"]}).replace(session_id, "SESSION")
    pinned_record = json.loads(text)
    for event in pinned_record["body"]["data"]:
        event["event_time"] = 1795615199
        event["user"]["external_id"] = "HASH_OF_SESSION"
    return pinned_record


def test_a_beacon_gives_the_golden_request_once(stack, tiktok):
    session_id = f"golden-{uuid.uuid4()}"
    body = sample_beacon(session_id)
    answer = post(stack, body)
    assert answer.status_code == 202, answer.text
    (record,) = tiktok.tiktok_requests()
    assert record["response"]["code"] == 0
    expected_id = hashlib.sha256(session_id.lower().encode()).hexdigest()
    assert {e["user"]["external_id"] for e in record["body"]["data"]} == {expected_id}
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(pinned(record, session_id), indent=2) + "\n")
    assert pinned(record, session_id) == json.loads(GOLDEN.read_text())
    assert post(stack, body).status_code == 202
    assert len(tiktok.tiktok_requests()) == 1, "a repeated beacon is not sent again"


def test_a_pixel_only_campaign_sends_nothing(stack, tiktok):
    settings = {"pixel_id": "CPIXELONLY0000000001", "access_token": None, "enabled": True}
    assert stack.admin("PUT", "/v1/campaigns/pixel-only/tiktok", json=settings).status_code == 200
    answer = post(stack, sample_beacon(f"po-{uuid.uuid4()}", campaign_id="pixel-only"))
    assert answer.status_code == 202 and len(answer.json()["accepted"]) == 4
    tracker = stack.get("/v1/campaigns/pixel-only/tracker.js")
    assert tracker.status_code == 200 and '"server_side": false' in tracker.text
    assert tiktok.tiktok_requests() == []
