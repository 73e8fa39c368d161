from decimal import Decimal

from zellify_tiktok.beacon import BeaconEvent
from zellify_tiktok.campaign import Campaign
from zellify_tiktok.payload import beacon_tiktok_event, json_number, track_body, user_data

CAMPAIGN = Campaign(campaign_id="c", pixel_id="PIXEL12345", has_token=True,
                    event_names={"page_view": "Pageview"}, limited_data_use=True)


def test_user_data_takes_every_known_key_and_nothing_else():
    session = {"external_id": "h1", "email": "h2", "ttp": "t", "ttclid": "", "ip": "1.2.3.4",
               "user_agent": "UA", "consent": True, "last_seen": 5}
    assert user_data(session) == {"external_id": "h1", "email": "h2", "ttp": "t", "ip": "1.2.3.4",
                                  "user_agent": "UA"}


def test_numbers_stay_numbers():
    assert json_number(Decimal("9.99")) == 9.99 and isinstance(json_number(Decimal("10.0")), int)


def test_page_completed_carries_step_and_override_name():
    event = BeaconEvent(event="page_completed", event_id="e1", time_s=100, step={"index": 0, "id": "quiz-1"})
    assert beacon_tiktok_event(event, CAMPAIGN, {"external_id": "h"}) == {
        "event": "PageCompleted", "event_time": 100, "event_id": "e1", "user": {"external_id": "h"},
        "properties": {"content_name": "quiz-1"}, "limited_data_use": True,
    }
    view = BeaconEvent(event="page_view", event_id="e2", time_s=100, page={"url": "https://f/1"})
    built = beacon_tiktok_event(view, CAMPAIGN, {})
    assert built["event"] == "Pageview" and built["page"] == {"url": "https://f/1"} and "properties" not in built


def test_checkout_value_currency_contents():
    event = BeaconEvent(event="checkout_presented", event_id="e3", time_s=1, value=Decimal("19.99"),
                        currency="EUR", contents=[{"content_id": "p", "quantity": 1, "price": Decimal("19.99")}])
    assert beacon_tiktok_event(event, CAMPAIGN, {})["properties"] == {
        "value": 19.99, "currency": "EUR", "contents": [{"content_id": "p", "quantity": 1, "price": 19.99}],
        "content_type": "product",
    }


def test_track_body_with_and_without_test_code():
    assert track_body("P", [{"x": 1}]) == {"event_source": "web", "event_source_id": "P", "data": [{"x": 1}]}
    assert track_body("P", [], "TEST1")["test_event_code"] == "TEST1"
