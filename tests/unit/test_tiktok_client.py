"""The TikTok client: TikTok's answer table, isolating refusals, one time budget for all its calls."""

import json

import pytest
from zellify_tiktok.answers import BUDGET_SPENT, TIKTOK_CODES, Outcome, classify, code_info
from zellify_tiktok.budget import Budget
from zellify_tiktok.server_event import ServerEvent, UserData
from zellify_tiktok.tiktok import TikTokClient

from tests.tiktok_fake import FakeTikTok

TOKEN = "tiktok-test-token"  # the fake refuses what cannot be a token (40105)


def event(i, **extra) -> ServerEvent:
    return ServerEvent(funnel_event="page_view", name="PageView", event_id=f"e{i}", event_time=1_700_000_000,
                       user=UserData(external_id="a" * 64), **extra)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def client(fake):
    return TikTokClient("https://tiktok.test/open_api/v1.3/", connect_timeout=1, total_timeout=3, http=fake)


def send(fake, events, *, test_event_code=None, budget=None):
    return client(fake).send(pixel_id="PIX", access_token=TOKEN, events=events, test_event_code=test_event_code,
                             budget=budget or Budget(3))


@pytest.mark.parametrize("status, body, outcome", [
    (200, {"code": 0, "message": "OK"}, Outcome.SENT),
    (200, {"code": 20001, "message": "partial"}, Outcome.PARTIAL),
    (200, {"code": 40100, "message": "slow down"}, Outcome.TRANSIENT),
    (200, {"code": 40132, "message": "frequency limited"}, Outcome.TRANSIENT),
    (200, {"code": 50000, "message": "system error"}, Outcome.TRANSIENT),
    (200, {"code": 50002, "message": "System timeout"}, Outcome.TRANSIENT),
    (200, {"code": 51234, "message": "internal"}, Outcome.TRANSIENT),
    (200, {"code": 60001, "message": "maintenance"}, Outcome.TRANSIENT),
    (429, {"code": 0}, Outcome.TRANSIENT),
    (503, None, Outcome.TRANSIENT),
    (502, {"code": 50002, "message": "gateway"}, Outcome.TRANSIENT),
    (200, {"code": 40001, "message": "no permission"}, Outcome.PERMANENT),
    (200, {"code": 40002, "message": "bad field"}, Outcome.PERMANENT),
    (200, {"code": 40102, "message": "expired"}, Outcome.PERMANENT),
    (200, {"code": 40104, "message": "empty token"}, Outcome.PERMANENT),
    (200, {"code": 40105, "message": "bad token"}, Outcome.PERMANENT),
    (200, {"code": 41234, "message": "something new"}, Outcome.PERMANENT),
    (400, {"code": 0, "message": "OK?"}, Outcome.PERMANENT),
    (404, None, Outcome.PERMANENT),
    (200, None, Outcome.PERMANENT),
])
def test_every_answer_class(status, body, outcome):
    answer = classify(status, json.dumps(body).encode() if body else b"<html>captive portal</html>")
    assert answer.outcome is outcome


def test_the_table_marks_the_token_codes_and_what_splits():
    assert {c.code for c in TIKTOK_CODES.values() if c.token_problem} == {40102, 40104, 40105}
    assert {c.code for c in TIKTOK_CODES.values() if c.isolates} == {20001, 40002, 40062}
    assert code_info(59999).outcome is Outcome.TRANSIENT and code_info(12345).outcome is Outcome.PERMANENT


def test_one_call_with_headers_and_body():
    fake = FakeTikTok()
    result = send(fake, [event(1), event(2)], test_event_code="TEST1")
    assert len(fake.calls) == 1
    call = fake.calls[0]
    assert call["url"] == "https://tiktok.test/open_api/v1.3/event/track/"
    assert call["headers"] == {"Access-Token": TOKEN, "Content-Type": "application/json"}
    assert call["body"]["test_event_code"] == "TEST1" and call["body"]["event_source_id"] == "PIX"
    assert [e["event_id"] for e in call["body"]["data"]] == ["e1", "e2"]
    assert [e.event_id for e in result.sent] == ["e1", "e2"]


@pytest.mark.parametrize("code", [40002, 20001])
def test_a_refusal_in_a_batch_is_halved_until_every_event_has_its_own_answer(code):
    def answer(body):
        bad = any(e["event_id"] == "e5" for e in body["data"])
        return {"code": code, "message": "data[0].event invalid"} if bad else {"code": 0, "message": "OK"}

    fake = FakeTikTok(script=[answer] * 20)
    result = send(fake, [event(i) for i in range(8)])
    assert sorted(e.event_id for e in result.sent) == [f"e{i}" for i in range(8) if i != 5]
    assert [(e.event_id, a.code) for e, a in result.refused] == [("e5", code)]
    assert result.unanswered == []
    assert len(fake.calls) <= 1 + 2 * 3


def test_a_transient_answer_leaves_the_rest_unanswered_rather_than_pressing_on():
    fake = FakeTikTok(script=[{"code": 40002, "message": "bad"}, {"code": 50002, "message": "System timeout"}])
    result = send(fake, [event(i) for i in range(4)])
    assert len(fake.calls) == 2
    assert sorted(e.event_id for e, _ in result.unanswered) == ["e0", "e1", "e2", "e3"]
    assert {a.code for _, a in result.unanswered} == {50002}


def test_transport_errors_are_transient():
    fake = FakeTikTok(script=[FakeTikTok.timeout()])
    result = send(fake, [event(1)])
    assert [(e.event_id, a.outcome) for e, a in result.unanswered] == [("e1", Outcome.TRANSIENT)]


def test_the_budget_covers_all_calls_splitting_included():
    clock = Clock()

    def slow_refusal(body):
        clock.now += 0.15  # TikTok takes 150 ms per answer
        return {"code": 40002, "message": "Invalid parameter"}

    fake = FakeTikTok(script=[slow_refusal] * 200)
    result = send(fake, [event(i) for i in range(50)], budget=Budget(3, clock))
    # 50 refused events would take 99 calls; 3 s of 150 ms answers is about 20 of them.
    assert 15 <= len(fake.calls) <= 21
    answered = {e.event_id for e, _ in result.refused}
    waiting = {e.event_id for e, a in result.unanswered if a is BUDGET_SPENT}
    assert answered | waiting == {f"e{i}" for i in range(50)} and not answered & waiting
    assert result.sent == []


def test_a_call_our_budget_cut_short_is_budget_spent_and_not_taken_for_tiktoks_answer():
    """TikTok slower than what is left of the invocation: the events wait for the DeliveryFunction as budget_spent,
    and the call is no answer of TikTok's (it would overwrite the campaign's last delivery, a token warning)."""
    clock = Clock()
    fake = FakeTikTok(clock=clock)
    fake.add_fault({"delay_ms": 2500})
    result = send(fake, [event(1), event(2)], budget=Budget(1.2, clock))
    assert len(fake.calls) == 1
    assert [(e.event_id, a) for e, a in result.unanswered] == [("e1", BUDGET_SPENT), ("e2", BUDGET_SPENT)]
    assert result.answers == [] and result.last_answer is None

    # The same slowness within a whole call's time is TikTok's failure, and its answer.
    fake.add_fault({"delay_ms": 5000})
    result = send(fake, [event(3)], budget=Budget(10, clock))
    assert [a.outcome for _, a in result.unanswered] == [Outcome.TRANSIENT]
    assert result.unanswered[0][1] is not BUDGET_SPENT and result.last_answer is result.unanswered[0][1]


def test_batches_of_at_most_1000():
    fake = FakeTikTok()
    send(fake, [event(i) for i in range(2500)])
    assert [len(c["body"]["data"]) for c in fake.calls] == [1000, 1000, 500]


def test_a_currency_tiktok_does_not_take_is_sent_without_value():
    from decimal import Decimal

    fake = FakeTikTok()
    odd = event(3, value=Decimal(5), currency="XYZ", content_type="product")
    send(fake, [event(1), odd])
    sent = fake.calls[0]["body"]["data"]
    assert [e["event_id"] for e in sent] == ["e1", "e3"]
    assert sent[1]["properties"] == {"content_type": "product"}


def test_a_token_that_cannot_be_a_header_is_a_permanent_failure():
    class Refusing:
        def request(self, *args, **kwargs):
            raise UnicodeEncodeError("latin-1", "tok✓", 3, 4, "ordinal not in range")

    result = client(Refusing()).send(pixel_id="P", access_token="tok✓", events=[event(1)], test_event_code=None,
                                     budget=Budget(3))
    assert result.refused and not result.unanswered
