"""The request path writes the DeliveryMessage format without pydantic (handoff.py); the model reads it."""

import json
from decimal import Decimal

from zellify_tiktok.handoff import message_body
from zellify_tiktok.messages import DeliveryMessage, parse_message
from zellify_tiktok.records import LedgerRecord
from zellify_tiktok.server_event import Content, ServerEvent, UserData

NOW = 1_796_000_000.25


def payment() -> ServerEvent:
    return ServerEvent(funnel_event="payment_succeeded", name="CompletePayment", event_id="in_1",
                       event_time=1_796_000_000, user=UserData(external_id="e" * 64, email="a" * 64, ip="203.0.113.9",
                                                              user_agent="Mozilla/5.0 «ü»"),
                       value=Decimal("9.99"), currency="USD",
                       contents=(Content("plan_pro", "Pro plan", 1, Decimal("9.99")),), content_type="product",
                       num_items=1, page_url="https://funnel.example.com/checkout")


def test_the_handoff_body_is_the_model_s_message_field_for_field():
    body = message_body(campaign_id="cmp_1", pixel_id="CPIXEL", test_event_code="TEST1", events=[payment()],
                        source="stripe", ledger_records=[LedgerRecord("first-payment:sub_1", 400 * 86400)], now=NOW)
    message = parse_message(body)
    assert message.events == (payment(),)
    assert message.ledger_records == (LedgerRecord("first-payment:sub_1", 400 * 86400),)
    assert (message.campaign_id, message.pixel_id, message.test_event_code, message.source) == (
        "cmp_1", "CPIXEL", "TEST1", "stripe")
    assert message.queued_at.timestamp() == NOW and message.attempts == 0 and message.reason is None
    # What the model itself would write reads back the same.
    again = DeliveryMessage.model_validate_json(message.to_json())
    assert again == message
    assert json.loads(message.to_json())["queued_at"] == json.loads(body)["queued_at"]


def test_a_live_event_carries_no_test_code_and_values_stay_exact():
    body = message_body(campaign_id="cmp_1", pixel_id="CPIXEL", test_event_code=None, events=[payment()],
                        source="beacon", now=NOW)
    assert "test_event_code" not in json.loads(body)
    assert parse_message(body).events[0].value == Decimal("9.99")
