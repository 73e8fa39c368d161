"""The TikTok stand-in (local/tiktok_standin.py) in-process: fixtures, tokens, every fault kind, targeted faults."""

import json
import re
from pathlib import Path

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from local.tiktok_codes import SDK_NAMES, message
from local.tiktok_standin import ConnectionResetFault, TikTokStandIn, parse_fault
from tests.tiktok_cases import ACCEPTED, FIXTURES, REFUSED, TOKEN, load, valid_body

ROOT = Path(__file__).resolve().parents[2]
TIKTOK_KEYS = {"code", "message", "request_id", "data"}


def request(path: str, *, method: str = "POST", body=None, data: bytes | None = None,
            token: str | None = TOKEN) -> Request:
    headers = {"Access-Token": token} if token is not None else {}
    if body is not None:
        data = json.dumps(body).encode()
    return Request(EnvironBuilder(method=method, path=path, data=data, headers=headers,
                                  content_type="application/json").get_environ())


@pytest.fixture
def standin() -> TikTokStandIn:
    return TikTokStandIn()


def track(standin: TikTokStandIn, body=None, **kwargs) -> tuple[int, dict]:
    response = standin.track(request("/open_api/v1.3/event/track/", body=body, **kwargs))
    return response.status_code, response.get_json()


def add_faults(standin: TikTokStandIn, *faults: dict) -> list[dict]:
    response = standin.faults_endpoint(request("/faults", body=list(faults)))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def mark_token(standin: TikTokStandIn, mark) -> tuple[int, dict]:
    response = standin.tokens_endpoint(request("/tokens", body=mark))
    return response.status_code, response.get_json()


# The fixtures: what TikTok-maintained integrations send is taken, what TikTok refuses is refused.


@pytest.mark.parametrize("path", ACCEPTED, ids=lambda p: p.stem)
def test_accepted_fixtures_are_answered_ok_in_tiktoks_shape(standin, path):
    status, answer = track(standin, load(path)["body"])
    assert status == 200
    assert set(answer) == TIKTOK_KEYS
    assert (answer["code"], answer["message"], answer["data"]) == (0, "OK", {})
    assert re.fullmatch(r"[0-9a-f-]{36}", answer["request_id"])


@pytest.mark.parametrize("path", REFUSED, ids=lambda p: p.stem)
def test_refused_fixtures_are_40002_naming_the_field(standin, path):
    case = load(path)
    status, answer = track(standin, case["body"])
    assert status == 200
    assert set(answer) == TIKTOK_KEYS
    assert answer["code"] == 40002
    assert answer["message"].startswith(f"Invalid parameter: {case['refused_field']} "), answer["message"]


def test_fixtures_are_listed_in_their_readme():
    readme = (FIXTURES / "README.md").read_text()
    for path in ACCEPTED + REFUSED:
        assert f"`{path.stem}`" in readme, path.name
    assert ACCEPTED and REFUSED


@pytest.mark.parametrize(("raw", "what"), [
    (b'{"event_source": "web", "event_source_id": "P", "data": [{"value": NaN}]}', "NaN is no JSON"),
    (b"not json", "no JSON at all"),
    (b'["a list"]', "no object"),
])
def test_a_body_that_is_no_json_object_is_40002(standin, raw, what):
    status, answer = track(standin, data=raw)
    assert (status, answer["code"]) == (200, 40002), what
    assert answer["message"] == "Invalid parameter: the request body must be a JSON object"


def test_more_than_1000_events_is_40002_on_data_and_1000_are_taken(standin):
    ids = [f"e{i}" for i in range(1001)]
    assert track(standin, valid_body(*ids))[1]["message"].startswith("Invalid parameter: data must hold at most")
    assert track(standin, valid_body(*ids[:1000]))[1]["code"] == 0


# Tokens


@pytest.mark.parametrize("token", [None, "", "   "])
def test_no_access_token_is_40104(standin, token):
    status, answer = track(standin, valid_body(), token=token)
    assert (status, answer["code"], answer["message"]) == (200, 40104, message(40104))
    assert set(answer) == TIKTOK_KEYS


@pytest.mark.parametrize("token", ["short", "with space in it", "tab\tseparated-token", "tok\u00e9n-latin-1",
                                   "x" * 1025])
def test_a_token_that_cannot_be_a_token_is_40105(standin, token):
    status, answer = track(standin, valid_body(), token=token)
    assert (status, answer["code"], answer["message"]) == (200, 40105, message(40105))


def test_the_token_is_checked_before_the_body(standin):
    body = load(FIXTURES / "refused" / "unhashed_email.json")["body"]
    assert track(standin, body, token=None)[1]["code"] == 40104
    assert track(standin, body, token="bad")[1]["code"] == 40105
    assert track(standin, body)[1]["code"] == 40002


def test_any_readable_token_is_valid_until_marked_revoked_or_expired(standin):
    assert track(standin, valid_body(), token="dev-tiktok-token")[1]["code"] == 0
    assert mark_token(standin, {"token": "dev-tiktok-token"}) == (200, {"tokens": [
        {"token_last4": "oken", "state": "revoked"}]})
    assert mark_token(standin, {"token": "an-expired-token-1234", "state": "expired"})[0] == 200
    assert track(standin, valid_body(), token="dev-tiktok-token")[1]["code"] == 40105
    assert track(standin, valid_body(), token="an-expired-token-1234")[1]["code"] == 40102
    assert track(standin, valid_body(), token="another-token-5678")[1]["code"] == 0


def test_token_marks_never_show_the_token_and_delete_clears_them(standin):
    mark_token(standin, {"token": "secret-token-value-9876", "state": "revoked"})
    listed = standin.tokens_endpoint(request("/tokens", method="GET")).get_json()
    assert "secret-token-value" not in json.dumps(listed)
    assert listed == {"tokens": [{"token_last4": "9876", "state": "revoked"}]}
    assert standin.tokens_endpoint(request("/tokens", method="DELETE")).get_json() == {"tokens": []}
    assert track(standin, valid_body(), token="secret-token-value-9876")[1]["code"] == 0


@pytest.mark.parametrize("mark", [{"token": ""}, {"token": 7}, {"state": "revoked"}, {"token": "t", "state": "gone"},
                                  {"token": "t", "extra": 1}, ["t"], "t"])
def test_invalid_token_marks_are_400_in_the_error_shape(standin, mark):
    status, answer = mark_token(standin, mark)
    assert status == 400
    assert set(answer["error"]) == {"code", "message", "details"}
    assert answer["error"]["code"] == "invalid_token_mark"


# Faults: every kind, and any code with TikTok's message for it.


@pytest.mark.parametrize("code", [*SDK_NAMES, 12345])
def test_any_code_is_taken_as_a_fault_with_tiktoks_message(standin, code):
    add_faults(standin, {"code": code})
    status, answer = track(standin, valid_body())
    assert status == 200
    assert set(answer) == TIKTOK_KEYS
    assert (answer["code"], answer["message"]) == (code, message(code))
    assert track(standin, valid_body())[1]["code"] == 0


def test_sdk_messages_read_as_words():
    assert message(50002) == "System timeout"
    assert message(40062) == "PII not hashed"
    assert message(52103) == "RDS timeout error"
    assert message(99999) == "Unknown error"
    assert all(message(code) and "_" not in message(code) for code in SDK_NAMES)


def test_a_faults_own_message_wins(standin):
    add_faults(standin, {"code": 50002, "message": "System busy, try later"})
    assert track(standin, valid_body())[1]["message"] == "System busy, try later"


def test_faults_are_used_oldest_first_each_times_times(standin):
    queue = add_faults(standin, {"code": 40100, "times": 2}, {"http_status": 503})
    assert queue == [{"code": 40100, "times": 2}, {"http_status": 503, "times": 1}]
    answers = [track(standin, valid_body()) for _ in range(4)]
    assert [(status, answer["code"]) for status, answer in answers] == [(200, 40100), (200, 40100), (503, None),
                                                                      (200, 0)]
    assert standin.faults() == []
    assert [r["response"] for r in standin.records()] == [answer for _, answer in answers]


def test_an_http_status_fault_keeps_tiktoks_keys_and_names_its_status(standin):
    add_faults(standin, {"http_status": 429, "code": 40100}, {"http_status": 502, "message": "Bad Gateway (nginx)"})
    status, answer = track(standin, valid_body())
    assert status == 429
    assert answer == {"code": 40100, "message": "Too Many Requests", "request_id": answer["request_id"], "data": {},
                      "http_status": 429}
    status, answer = track(standin, valid_body())
    assert (status, answer["code"], answer["message"], answer["http_status"]) == (502, None, "Bad Gateway (nginx)", 502)


def test_a_fault_may_combine_a_delay_and_a_code(standin):
    add_faults(standin, {"delay_ms": 1, "code": 40001}, {"delay_ms": 1})
    assert track(standin, valid_body())[1]["code"] == 40001
    assert track(standin, valid_body())[1]["code"] == 0  # a delay alone answers as TikTok would
    assert track(standin, valid_body(), token=None)[1]["code"] == 40104


def test_a_reset_fault_drops_the_call_without_an_answer(standin):
    add_faults(standin, {"reset": True})
    with pytest.raises(ConnectionResetFault):
        standin.track(request("/open_api/v1.3/event/track/", body=valid_body()))
    assert standin.records()[0]["response"]["connection_reset"] is True
    assert track(standin, valid_body())[1]["code"] == 0


def test_a_code_fault_comes_before_the_checks(standin):
    add_faults(standin, {"code": 40100})
    assert track(standin, valid_body(), token=None)[1]["code"] == 40100


# Targeted faults


def test_a_targeted_fault_answers_only_calls_carrying_its_event_ids(standin):
    add_faults(standin, {"code": 20001, "event_ids": ["e7"], "times": 3})
    assert track(standin, valid_body("e1", "e2"))[1]["code"] == 0
    assert standin.faults() == [{"code": 20001, "event_ids": ["e7"], "times": 3}]  # not used up
    partial = track(standin, valid_body("e6", "e7", "e8"))[1]
    assert (partial["code"], partial["data"]) == (20001, {})
    assert set(partial) == TIKTOK_KEYS
    assert track(standin, valid_body("e7"))[1]["code"] == 20001
    assert track(standin, valid_body("e8"))[1]["code"] == 0
    assert standin.faults() == [{"code": 20001, "event_ids": ["e7"], "times": 1}]
    assert track(standin, valid_body("e7", "e9"))[1]["code"] == 20001
    assert standin.faults() == []
    assert track(standin, valid_body("e7"))[1]["code"] == 0


def test_a_targeted_40002_names_the_event_it_refuses(standin):
    add_faults(standin, {"code": 40002, "event_ids": ["e3", "e9"], "times": 5})
    answer = track(standin, valid_body("e1", "e2", "e3", "e4"))[1]
    assert answer["code"] == 40002
    assert answer["message"].startswith("Invalid parameter: data[2] ")
    assert "e3" in answer["message"]


def test_each_call_uses_the_oldest_fault_that_applies_to_it(standin):
    add_faults(standin, {"code": 40002, "event_ids": ["bad"]}, {"code": 40100},
               {"http_status": 503, "event_ids": ["x"]})
    assert track(standin, valid_body("ok"))[1]["code"] == 40100
    assert track(standin, valid_body("ok"))[1]["code"] == 0
    assert track(standin, valid_body("ok", "x"))[0] == 503
    assert track(standin, valid_body("bad", "x"))[1]["code"] == 40002
    assert standin.faults() == []


def test_a_targeted_fault_may_be_an_http_error_a_delay_or_a_reset(standin):
    add_faults(standin, {"http_status": 500, "event_ids": ["e1"]}, {"reset": True, "event_ids": ["e2"]},
               {"delay_ms": 1, "code": 50002, "event_ids": ["e3"]})
    assert track(standin, valid_body("e3"))[1]["code"] == 50002
    with pytest.raises(ConnectionResetFault):
        standin.track(request("/open_api/v1.3/event/track/", body=valid_body("e2")))
    assert track(standin, valid_body("e1"))[0] == 500


@pytest.mark.parametrize("fault", [
    {"cod": 40100}, {"times": 2}, {"code": 40100, "times": 0}, {"http_status": 200}, {"code": "40100"},
    {"code": 20001, "event_ids": []}, {"code": 20001, "event_ids": "e7"}, {"code": 20001, "event_ids": [7]},
    {"code": 20001, "event_ids": [""]}, {"delay_ms": -1}, {"reset": "yes"}, "x",
])
def test_invalid_faults_are_refused(fault):
    with pytest.raises(ValueError):
        parse_fault(fault)


def test_the_faults_endpoint_answers_400_in_the_error_shape_and_queues_nothing(standin):
    response = standin.faults_endpoint(request("/faults", body=[{"code": 40100}, {"code": 1, "event_ids": []}]))
    assert response.status_code == 400
    assert set(response.get_json()["error"]) == {"code", "message", "details"}
    assert standin.faults() == []


# docs/tiktok.md is the project's reference for the same table.


def test_docs_list_every_code_of_the_sdk_table():
    docs = (ROOT / "docs" / "tiktok.md").read_text()
    listed = {int(code) for code in re.findall(r"^\| (\d+) \|", docs, flags=re.MULTILINE)}
    assert set(SDK_NAMES) <= listed, sorted(set(SDK_NAMES) - listed)
    for code, name in SDK_NAMES.items():
        assert re.search(rf"^\| {code} \| {name} \|", docs, flags=re.MULTILINE), (code, name)
