"""ServerEvent building (the event table's rules) and its one translation into TikTok's JSON."""

from decimal import Decimal

from zellify_tiktok.payload import json_number, tiktok_event, track_body
from zellify_tiktok.server_event import Content, Naming, UserData, server_event

NAMING = Naming(event_names={"page_view": "Pageview"}, limited_data_use=True)


def test_user_carries_every_known_key_and_nothing_empty():
    user = UserData(external_id="h1", email="h2", phone=None, ttp="t", ttclid="", ip="1.2.3.4", user_agent="UA")
    assert user.present() == {"external_id": "h1", "email": "h2", "ttp": "t", "ip": "1.2.3.4", "user_agent": "UA"}


def test_numbers_stay_numbers():
    assert json_number(Decimal("9.99")) == 9.99 and isinstance(json_number(Decimal("10.0")), int)


def test_page_completed_carries_step_and_override_name():
    event = server_event("page_completed", NAMING, event_id="e1", event_time=100, user=UserData(external_id="h"),
                         step_id="quiz-1")
    assert tiktok_event(event) == {
        "event": "PageCompleted", "event_time": 100, "event_id": "e1", "user": {"external_id": "h"},
        "properties": {"content_name": "quiz-1"}, "limited_data_use": True,
    }
    view = server_event("page_view", NAMING, event_id="e2", event_time=100, user=UserData(), page_url="https://f/1")
    built = tiktok_event(view)
    assert built["event"] == "Pageview" and built["page"] == {"url": "https://f/1"} and "properties" not in built


def test_a_referrer_without_the_pages_url_is_left_out():
    event = server_event("page_view", NAMING, event_id="e", event_time=1, user=UserData(), page_referrer="https://r")
    assert "page" not in tiktok_event(event)


def test_checkout_value_currency_contents():
    event = server_event("checkout_presented", NAMING, event_id="e3", event_time=1, user=UserData(),
                         value=Decimal("19.99"), currency="EUR",
                         contents=[Content(content_id="p", quantity=1, price=Decimal("19.99"))])
    assert tiktok_event(event)["properties"] == {
        "value": 19.99, "currency": "EUR", "contents": [{"content_id": "p", "quantity": 1, "price": 19.99}],
        "content_type": "product",
    }


def test_payment_counts_its_items_and_is_a_product():
    event = server_event("payment_succeeded", NAMING, event_id="pi_1", event_time=1, user=UserData(),
                         value=Decimal(30), currency="USD",
                         contents=[Content(content_id="a", quantity=2), Content(content_id="b")])
    assert tiktok_event(event)["properties"] == {
        "value": 30, "currency": "USD", "contents": [{"content_id": "a", "quantity": 2}, {"content_id": "b"}],
        "content_type": "product", "num_items": 3,
    }


def test_trial_and_subscribe_report_value_zero_whatever_they_are_given():
    for name in ("trial_started", "subscription_started"):
        event = server_event(name, NAMING, event_id="sub_1", event_time=1, user=UserData(), value=Decimal(50),
                             currency="USD")
        assert tiktok_event(event)["properties"] == {"value": 0, "currency": "USD"}


def test_a_value_without_currency_or_on_an_event_without_value_is_dropped():
    no_currency = server_event("checkout_presented", NAMING, event_id="e", event_time=1, user=UserData(),
                               value=Decimal(5))
    lead = server_event("lead", NAMING, event_id="e", event_time=1, user=UserData(), value=Decimal(5),
                        currency="USD")
    assert "properties" not in tiktok_event(no_currency) and "properties" not in tiktok_event(lead)


def test_track_body_with_and_without_test_code():
    event = server_event("lead", NAMING, event_id="e", event_time=1, user=UserData())
    assert track_body("P", [event]) == {"event_source": "web", "event_source_id": "P", "data": [tiktok_event(event)]}
    assert track_body("P", [], "TEST1")["test_event_code"] == "TEST1"
