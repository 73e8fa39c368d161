import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from zellify_tiktok.beacon import MAX_BEACON_BYTES, Rejection, decode_json_object, parse_beacon
from zellify_tiktok.errors import BadRequest, PayloadTooLarge
from zellify_tiktok.hashing import hash_phone
from zellify_tiktok.server_event import Content

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
    assert checkout.contents == (Content(content_id="42", content_name="Pro", quantity=2, price=Decimal("9.995")),)


def test_email_ignored_on_other_events():
    events = [{"event": "page_view", "event_id": "a", "email": "ann@example.com"}]
    assert parse_beacon(body(events=events), NOW_MS).events[0].email_hash is None


def test_a_consent_withdrawal_needs_no_event_and_nothing_else_may_have_none():
    beacon = parse_beacon(body(events=[], consent=False), NOW_MS)
    assert beacon.withdraws_consent and beacon.events == [] and beacon.rejected == []
    for consent in (True, None):
        with pytest.raises(BadRequest):
            parse_beacon(body(events=[], consent=consent), NOW_MS)
    assert not parse_beacon(body(consent=False), NOW_MS).withdraws_consent


def test_phone_on_email_capture_is_hashed_in_e164_and_refused_when_no_number():
    events = [{"event": "email_captured", "event_id": "a", "email": "ann@example.com", "phone": "+1 (415) 555-0100"},
              {"event": "email_captured", "event_id": "b", "phone": "415 555 0100"},
              {"event": "email_captured", "event_id": "c", "phone": "+1 call me"},
              {"event": "email_captured", "event_id": "d", "phone": 14155550100},
              {"event": "page_view", "event_id": "e", "phone": "+14155550100"}]
    beacon = parse_beacon(body(events=events), NOW_MS)
    assert rejection_codes(beacon) == {"b": "invalid_phone", "c": "invalid_phone", "d": "invalid_phone"}
    captured, view = beacon.events
    assert captured.phone_hash == hash_phone("+14155550100") and "415" not in captured.phone_hash
    assert view.phone_hash is None  # a phone counts only where it is captured


@pytest.mark.parametrize("where", ["page.url", "page.referrer", "step.id", "contents.content_id",
                                   "contents.content_name", "email", "phone", "event"])
def test_a_lone_surrogate_is_refused_wherever_a_string_enters(where):
    bad = "x\udfffy"
    event = {"event": "checkout_presented", "event_id": "a", "value": 1, "currency": "USD"}
    if where == "email":
        event = {"event": "email_captured", "event_id": "a", "email": f"a{bad}@example.com"}
    elif where == "phone":
        event = {"event": "email_captured", "event_id": "a", "phone": f"+1555{bad}0100"}
    elif where == "event":
        event = {"event": bad, "event_id": "a"}
    elif where.startswith("page."):
        event["page"] = {where.split(".")[1]: bad}
    elif where == "step.id":
        event = {"event": "page_completed", "event_id": "a", "step": {"id": bad}}
    else:
        event["contents"] = [{where.split(".")[1]: bad}]
    raw = json.dumps({"campaign_id": "c", "session_id": "s", "events": [event, {"event": "page_view",
                                                                                 "event_id": "ok"}]})
    beacon = parse_beacon(raw.replace("\\\\udfff", "\\udfff").encode(), NOW_MS)
    assert [e.event_id for e in beacon.events] == ["ok"]
    [rejection] = beacon.rejected
    assert rejection.code in ("invalid_field", "invalid_email", "invalid_phone", "unknown_event")
    rejection.message.encode("utf-8")  # the answer itself stays encodable


@pytest.mark.parametrize("field", ["ttp", "ttclid"])
def test_a_lone_surrogate_in_the_envelope_is_a_400(field):
    raw = json.dumps({"campaign_id": "c", "session_id": "s", field: "PLACEHOLDER",
                      "events": [{"event": "page_view", "event_id": "ok"}]}).replace("PLACEHOLDER", "\\udfff")
    with pytest.raises(BadRequest) as exc:
        parse_beacon(raw.encode(), NOW_MS)
    assert exc.value.details[0]["field"] == field


def test_ids_with_a_trailing_newline_are_refused():
    with pytest.raises(BadRequest):
        parse_beacon(body(session_id="s-1\n"), NOW_MS)
    beacon = parse_beacon(body(events=[{"event": "page_view", "event_id": "e1\n"}]), NOW_MS)
    assert rejection_codes(beacon) == {"e1\n": "invalid_event_id"}


# jiter reads beacons; what it refuses the standard library reads again, and its answer stands.
_STRICT = json.JSONDecoder(parse_float=Decimal, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12)


def _standard_library(raw: bytes):
    try:
        parsed = _STRICT.decode(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return ("refused", None)
    return ("object", parsed) if isinstance(parsed, dict) else ("refused", None)


def _ours(raw: bytes):
    try:
        return ("object", decode_json_object(raw, MAX_BEACON_BYTES))
    except BadRequest:
        return ("refused", None)


@given(st.dictionaries(st.text(), json_values, max_size=5), st.sampled_from(["", " ", "\n"]), st.booleans())
def test_the_fast_reader_reads_what_the_standard_library_reads(obj, padding, escaped):
    # Escaped, a lone surrogate is JSON both read; raw, it is no UTF-8 and both refuse it.
    text = padding + json.dumps(obj, ensure_ascii=escaped) + padding
    raw = text.encode("utf-8", errors="surrogatepass")
    assert _ours(raw) == _standard_library(raw)


@pytest.mark.parametrize("raw", [
    b'{"a": 1.10, "b": 1E+400, "c": 123456789012345678901234567890}',  # exact decimals, big integers
    b'{"a": "\\udfff"}',  # a lone surrogate: only the standard library reads it (refused later, by field)
    '{"a": "\u00e9\U0001f600"}'.encode(), b'{"a": 1, "a": 2}',
    b'{"a": NaN}', b'{"a": 01}', b'{"a": "\x01"}', b'\xef\xbb\xbf{"a": 1}', b'[1]', b'{"a": "\xff"}',
])
def test_edge_bodies_read_as_the_standard_library_reads_them(raw):
    assert _ours(raw) == _standard_library(raw)


def test_a_number_decimal_cannot_hold_is_a_400_not_a_500():
    with pytest.raises(BadRequest) as refused:
        parse_beacon(b'{"campaign_id": "cmp_1", "session_id": "s-1", "events": [], "x": 1e99999999999999999999}',
                     NOW_MS)
    assert refused.value.code == "invalid_json"
