"""The TikTok fixture bodies (tests/fixtures/tiktok/) posted to the stand-in of a running local stack."""

import pytest

from tests.tiktok_cases import ACCEPTED, REFUSED, TOKEN, load, valid_body

pytestmark = pytest.mark.e2e

TRACK = "/_dev/tiktok/open_api/v1.3/event/track/"
TIKTOK_KEYS = {"code", "message", "request_id", "data"}


def post(stack, body, token: str | None = TOKEN) -> tuple[int, dict]:
    answer = stack.request("POST", TRACK, json=body, headers={"Access-Token": token} if token is not None else {})
    return answer.status_code, answer.json()


def test_accepted_bodies_are_taken_and_refused_ones_named(tiktok):
    for path in ACCEPTED:
        assert post(tiktok, load(path)["body"])[1]["code"] == 0, path.name
    for path in REFUSED:
        case = load(path)
        status, answer = post(tiktok, case["body"])
        assert (status, answer["code"]) == (200, 40002), path.name
        assert answer["message"].startswith(f"Invalid parameter: {case['refused_field']} "), answer["message"]
    records = tiktok.tiktok_requests()
    assert len(records) == len(ACCEPTED) + len(REFUSED)
    assert [r["body"] for r in records] == [load(path)["body"] for path in ACCEPTED + REFUSED]
    assert all(set(r["response"]) == TIKTOK_KEYS for r in records)


def test_tokens_no_token_40104_marked_revoked_40105_marked_expired_40102(tiktok):
    body = load(ACCEPTED[0])["body"]
    assert post(tiktok, body, token=None)[1]["code"] == 40104
    assert post(tiktok, body, token="e2e-token-to-revoke")[1]["code"] == 0
    assert tiktok.mark_token("e2e-token-to-revoke") == [{"token_last4": "voke", "state": "revoked"}]
    tiktok.mark_token("e2e-token-expired", "expired")
    assert post(tiktok, body, token="e2e-token-to-revoke")[1]["code"] == 40105
    assert post(tiktok, body, token="e2e-token-expired")[1]["code"] == 40102
    assert "e2e-token" not in tiktok.get("/_dev/tiktok/tokens").text
    tiktok.clear_token_marks()
    assert post(tiktok, body, token="e2e-token-to-revoke")[1]["code"] == 0


def test_a_targeted_partial_success_answers_only_calls_carrying_its_event(tiktok):
    assert tiktok.add_fault({"code": 20001, "event_ids": ["e7"], "times": 2}, {"code": 50002}) == [
        {"code": 20001, "event_ids": ["e7"], "times": 2}, {"code": 50002, "times": 1}]
    answers = [post(tiktok, valid_body(*ids))[1] for ids in (("e7", "e8"), ("e1",), ("e2",), ("e7",), ("e7",))]
    assert [a["code"] for a in answers] == [20001, 50002, 0, 20001, 0]
    assert answers[1]["message"] == "System timeout"
    assert all(set(a) == TIKTOK_KEYS for a in answers)
    assert tiktok.faults() == []
