import json

import pytest
from zellify_tiktok.tiktok import Outcome, TikTokClient, check_event, classify

from tests.tiktok_fake import FakeTikTok

TOKEN = "tiktok-test-token"  # the fake refuses what cannot be a token (40105)


def event(i, **extra):
    return {"event": "PageView", "event_time": 1, "event_id": f"e{i}", "user": {}, **extra}


def client(fake):
    return TikTokClient("https://tiktok.test/open_api/v1.3/", connect_timeout=1, total_timeout=3, http=fake)


@pytest.mark.parametrize("status, body, outcome", [
    (200, {"code": 0, "message": "OK"}, Outcome.SENT),
    (200, {"code": 20001, "message": "partial"}, Outcome.SENT),
    (200, {"code": 40100, "message": "slow down"}, Outcome.TRANSIENT),
    (429, {"code": 0}, Outcome.TRANSIENT),
    (503, None, Outcome.TRANSIENT),
    (200, {"code": 40105, "message": "bad token"}, Outcome.PERMANENT),
    (200, {"code": 40001, "message": "no permission"}, Outcome.PERMANENT),
    (200, {"code": 40002, "message": "bad field"}, Outcome.PERMANENT),
    (404, None, Outcome.PERMANENT),
])
def test_classification(status, body, outcome):
    answer = classify(status, json.dumps(body).encode() if body else b"<html>")
    assert answer.outcome is outcome


def test_one_call_with_headers_and_body():
    fake = FakeTikTok()
    result = client(fake).track(pixel_id="PIX", access_token=TOKEN, events=[event(1), event(2)],
                                test_event_code="TEST1")
    assert len(fake.calls) == 1
    call = fake.calls[0]
    assert call["url"] == "https://tiktok.test/open_api/v1.3/event/track/"
    assert call["headers"] == {"Access-Token": TOKEN, "Content-Type": "application/json"}
    assert call["body"] == {"event_source": "web", "event_source_id": "PIX", "test_event_code": "TEST1",
                            "data": [event(1), event(2)]}
    assert [e["event_id"] for e in result.sent] == ["e1", "e2"]


def test_40002_in_a_batch_isolates_the_bad_event():
    def answer(body):
        bad = any(e["event_id"] == "e5" for e in body["data"])
        return {"code": 40002, "message": "data[0].event invalid"} if bad else {"code": 0, "message": "OK"}

    fake = FakeTikTok(script=[answer] * 20)
    result = client(fake).track(pixel_id="P", access_token=TOKEN, events=[event(i) for i in range(8)])
    assert sorted(e["event_id"] for e in result.sent) == [f"e{i}" for i in range(8) if i != 5]
    assert [(e["event_id"], a.code) for e, a in result.permanent] == [("e5", 40002)]
    assert len(fake.calls) <= 1 + 2 * 3


def test_transport_errors_are_transient():
    fake = FakeTikTok(script=[FakeTikTok.timeout()])
    result = client(fake).track(pixel_id="P", access_token=TOKEN, events=[event(1)])
    assert [e["event_id"] for e in result.transient] == ["e1"]
    assert result.transient_answer.outcome is Outcome.TRANSIENT


def test_batches_of_at_most_1000():
    fake = FakeTikTok()
    client(fake).track(pixel_id="P", access_token=TOKEN, events=[event(i) for i in range(2500)])
    assert [len(c["body"]["data"]) for c in fake.calls] == [1000, 1000, 500]


def test_checked_before_joining_a_batch():
    fake = FakeTikTok()
    bad = event(2, properties={"contents": [{"content_id": 7}]})
    odd_currency = event(3, properties={"value": 5, "currency": "XYZ", "content_type": "product"})
    result = client(fake).track(pixel_id="P", access_token=TOKEN, events=[event(1), bad, odd_currency])
    sent = fake.calls[0]["body"]["data"]
    assert [e["event_id"] for e in sent] == ["e1", "e3"]
    assert sent[1]["properties"] == {"content_type": "product"}
    assert result.permanent[0][0]["event_id"] == "e2"


def test_check_event_requires_types():
    assert check_event({"event": "X", "event_time": "1", "event_id": "a", "user": {}})[1]
    assert check_event(event(1))[1] is None


def test_http_200_without_a_tiktok_answer_is_permanent_and_40100_always_transient():
    assert classify(200, b"<html>captive portal</html>").outcome is Outcome.PERMANENT
    assert classify(400, b'{"code": 40100, "message": "Too many requests"}').outcome is Outcome.TRANSIENT


def test_a_token_that_cannot_be_a_header_is_a_permanent_failure():
    class Refusing:
        def request(self, *args, **kwargs):
            raise UnicodeEncodeError("latin-1", "tok✓", 3, 4, "ordinal not in range")

    result = client(Refusing()).track(pixel_id="P", access_token="tok✓", events=[event(1)])
    assert result.permanent and not result.transient
