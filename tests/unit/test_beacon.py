import json
from decimal import Decimal

import pytest
from zellify_tiktok.beacon import Rejection, parse_beacon
from zellify_tiktok.errors import BadRequest, PayloadTooLarge

NOW_MS = 1_795_615_200_000


def body(events=None, **envelope) -> bytes:
    data = {"campaign_id": "cmp_1", "session_id": "s-1", **envelope}
    data["events"] = events if events is not None else [{"event": "page_view", "event_id": "e1", "time": NOW_MS}]
    return json.dumps(data).encode()


def rejection_codes(beacon):
    return {r.event_id: r.code for r in beacon.rejected}


def test_valid_beacon():
    beacon = parse_beacon(body(ttp="ttp1", ttclid="click", consent=True), NOW_MS)
    assert beacon.campaign_id == "cmp_1" and beacon.ttp == "ttp1" and beacon.ttclid == "click"
    assert [e.event_id for e in beacon.events] == ["e1"]
    assert beacon.events[0].time_s == NOW_MS // 1000


@pytest.mark.parametrize(
    "raw, code",
    [
        (b"\xff\xfe", "invalid_encoding"),
        (b"{not json", "invalid_json"),
        (b"[1,2]", "invalid_json"),
        (b'{"a": NaN}', "invalid_json"),
        (json.dumps({"session_id": "s", "events": []}).encode(), "invalid_field"),
    ],
)
def test_envelope_errors_are_400(raw, code):
    with pytest.raises(BadRequest) as exc:
        parse_beacon(raw, NOW_MS)
    assert exc.value.code == code


@pytest.mark.parametrize("field, value", [("campaign_id", 5), ("session_id", "bad id with spaces"),
                                          ("consent", "yes"), ("ttp", 7), ("events", {})])
def test_envelope_fields_named(field, value):
    data = json.loads(body())
    data[field] = value
    with pytest.raises(BadRequest) as exc:
        parse_beacon(json.dumps(data).encode(), NOW_MS)
    assert exc.value.details[0]["field"] == field


def test_event_count_limits():
    with pytest.raises(BadRequest):
        parse_beacon(body(events=[]), NOW_MS)
    events = [{"event": "page_view", "event_id": f"e{i}"} for i in range(51)]
    with pytest.raises(BadRequest) as exc:
        parse_beacon(body(events=events), NOW_MS)
    assert "51" in exc.value.message


def test_oversize_is_413():
    with pytest.raises(PayloadTooLarge):
        parse_beacon(b" " * (64 * 1024 + 1), NOW_MS)


def test_rejection_codes():
    events = [
        {"event": "nope", "event_id": "a"},
        {"event": "payment_succeeded", "event_id": "b"},
        {"event": "page_view", "event_id": "bad id!"},
        {"event": "email_captured", "event_id": "d", "email": "not-an-email"},
        {"event": "checkout_presented", "event_id": "e", "value": -1, "currency": "USD"},
        {"event": "checkout_presented", "event_id": "f", "value": 1, "currency": "dollars"},
        {"event": "page_view", "event_id": "g", "time": NOW_MS - 8 * 86400 * 1000},
        {"event": "page_view", "event_id": "h", "page": "https://x"},
        {"event": "checkout_presented", "event_id": "i", "value": "9.99", "currency": "USD"},
        "not an object",
        {"event": "page_view", "event_id": "ok"},
    ]
    beacon = parse_beacon(body(events=events), NOW_MS)
    assert rejection_codes(beacon) == {
        "a": "unknown_event",
        "b": "server_only_event",
        "bad id!": "invalid_event_id",
        None: "invalid_field",
        "d": "invalid_email",
        "e": "invalid_value",
        "f": "invalid_currency",
        "g": "too_old",
        "h": "invalid_field",
        "i": "invalid_value",
    }
    assert [e.event_id for e in beacon.events] == ["ok"]
    assert all(isinstance(r, Rejection) and r.message for r in beacon.rejected)


def test_future_or_missing_time_uses_server_time():
    events = [{"event": "page_view", "event_id": "a", "time": NOW_MS + 11 * 60 * 1000},
              {"event": "page_view", "event_id": "b"}]
    beacon = parse_beacon(body(events=events), NOW_MS)
    assert [e.time_s for e in beacon.events] == [NOW_MS // 1000, NOW_MS // 1000]


def test_email_hashed_and_values_exact():
    events = [{"event": "email_captured", "event_id": "a", "email": " Ann@Example.com "},
              {"event": "checkout_presented", "event_id": "b", "value": 19.99, "currency": "usd",
               "contents": [{"content_id": 42, "content_name": "Pro", "quantity": 2, "price": 9.995}]}]
    beacon = parse_beacon(body(events=events), NOW_MS)
    email_event, checkout = beacon.events
    assert len(email_event.email_hash) == 64 and "ann" not in email_event.email_hash
    assert checkout.value == Decimal("19.99") and checkout.currency == "USD"
    assert checkout.contents == [{"content_id": "42", "content_name": "Pro", "quantity": 2, "price": Decimal("9.995")}]


def test_email_ignored_on_other_events():
    events = [{"event": "page_view", "event_id": "a", "email": "ann@example.com"}]
    assert parse_beacon(body(events=events), NOW_MS).events[0].email_hash is None
