"""tests/tiktok_fake.py answers as the local TikTok stand-in does, so a payload TikTok would refuse fails a test."""

import json

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from local.tiktok_standin import TikTokStandIn
from tests.tiktok_cases import ACCEPTED, FIXTURES, REFUSED, TOKEN, load, valid_body
from tests.tiktok_fake import FakeTikTok

URL = "https://tiktok.test/open_api/v1.3/event/track/"


def post(fake: FakeTikTok, body, token: str | None = TOKEN) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", **({"Access-Token": token} if token is not None else {})}
    response = fake.request("POST", URL, body=json.dumps(body).encode(), headers=headers)
    return response.status, json.loads(response.data)


def standin_answer(body, token: str | None = TOKEN) -> dict:
    headers = {"Access-Token": token} if token is not None else {}
    environ = EnvironBuilder(method="POST", path="/open_api/v1.3/event/track/", json=body, headers=headers)
    return TikTokStandIn().track(Request(environ.get_environ())).get_json()


@pytest.mark.parametrize("path", ACCEPTED + REFUSED, ids=lambda p: f"{p.parent.name}/{p.stem}")
@pytest.mark.parametrize("token", [TOKEN, None, "bad"])
def test_the_fake_answers_every_fixture_as_the_stand_in_does(path, token):
    body = load(path)["body"]
    status, answer = post(FakeTikTok(), body, token)
    expected = standin_answer(body, token)
    assert status == 200
    assert set(answer) == set(expected) == {"code", "message", "request_id", "data"}
    assert (answer["code"], answer["message"]) == (expected["code"], expected["message"])


def test_a_scripted_answer_never_hides_a_refused_payload():
    refused = load(FIXTURES / "refused" / "numeric_content_id.json")["body"]
    fake = FakeTikTok(script=[{"code": 0, "message": "OK"}, 503])
    assert post(fake, refused)[1]["code"] == 40002
    assert post(fake, valid_body(), token=None)[1]["code"] == 40104
    assert len(fake.script) == 2  # still there for the next valid call
    assert post(fake, valid_body()) == (200, {"code": 0, "message": "OK"})
    assert post(fake, valid_body())[0] == 503
    assert [call["body"] for call in fake.calls][0] == refused


def test_scripted_answers_still_work_for_valid_calls():
    def partial(body):
        return {"code": 20001, "message": f"{len(body['data'])} seen"}

    fake = FakeTikTok(script=[partial, FakeTikTok.timeout()])
    assert post(fake, valid_body("a", "b"))[1] == {"code": 20001, "message": "2 seen"}
    with pytest.raises(type(FakeTikTok.timeout())):
        post(fake, valid_body())
    assert post(fake, valid_body())[1]["code"] == 0
    assert [e["event_id"] for e in fake.events] == ["a", "b", "pi_fixture", "pi_fixture"]


def test_token_states_revoke_or_expire_a_token():
    fake = FakeTikTok(token_states={"revoked-token-0001": "revoked", "expired-token-0002": "expired"})
    assert post(fake, valid_body(), "revoked-token-0001")[1]["code"] == 40105
    assert post(fake, valid_body(), "expired-token-0002")[1]["code"] == 40102
    assert post(fake, valid_body())[1]["code"] == 0
