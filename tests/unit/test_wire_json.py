"""The JSON the functions write: answers (orjson, as the standard library with default=str would write
them) and queue messages (a visitor's `user` object, once made, stays out of them)."""

import json
from datetime import UTC, datetime
from decimal import Decimal

from zellify_tiktok.answers import Answer, Outcome, classify
from zellify_tiktok.api import to_json
from zellify_tiktok.messages import DeliveryMessage, QueueReason, parse_message
from zellify_tiktok.reasons import ReasonKind
from zellify_tiktok.server_event import ServerEvent, UserData

STANDARD = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)


def test_answers_read_as_the_standard_library_writes_them():
    body = {"revenue": {"USD": Decimal("12.50")}, "at": datetime(2026, 12, 1, 14, 0, tzinfo=UTC),
            "name": "caf\u00e9", "n": 3, "ratio": 0.25, "none": None, "list": (1, 2), 7: "int key"}
    assert json.loads(to_json(body)) == json.loads(STANDARD.encode(body))
    assert json.loads(to_json(body))["at"] == "2026-12-01 14:00:00+00:00"


def test_an_integer_beyond_64_bits_still_has_an_answer():
    assert json.loads(to_json({"big": 2**70})) == {"big": 2**70}


def test_a_users_tiktok_object_is_made_once_and_kept_out_of_queue_messages():
    user = UserData(external_id="a" * 64, ttp="ttp-1", ip="203.0.113.9")
    event = ServerEvent("page_view", "ViewContent", "e-1", 1_795_615_200, user)
    untouched = DeliveryMessage(campaign_id="c", pixel_id="p", source="beacon", events=(event,),
                             reason=QueueReason.of(ReasonKind.TRANSIENT, Answer(Outcome.TRANSIENT, None, "HTTP 503")))
    before = untouched.to_json()
    assert user.present() is user.present() == {"external_id": "a" * 64, "ttp": "ttp-1", "ip": "203.0.113.9"}
    assert user.match_keys() == ("external_id", "ttp", "ip")
    assert untouched.to_json() == before
    assert parse_message(before).events[0].user == user


def test_a_lone_surrogate_is_written_escaped_as_the_standard_library_did():
    assert to_json({"text": "\udfff"}) == '{"text":"\\udfff"}'


def test_tiktok_answers_the_fast_reader_refuses_are_still_understood():
    for body in (b'\xef\xbb\xbf{"code": 0, "message": "OK"}', '{"code": 0, "message": "OK"}'.encode("utf-16"),
                 b'{"code": 0, "message": "\\udfff"}'):
        assert classify(200, body).outcome is Outcome.SENT, body
