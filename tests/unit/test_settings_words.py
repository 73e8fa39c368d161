"""The settings body's refusals read as plain words (docs/design.md §10): a marketer fixes every field from the
message alone, which names what is wrong and what a right value looks like, never a pattern or pydantic's words."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zellify_tiktok.errors import Unprocessable
from zellify_tiktok.settings_input import RULES, CampaignSettingsInput, parse_settings

ENGINEER_WORDS = ("pattern", "regex", "Value error", "String should", "Input should", "validation error", "^[",
                  "\\x", "type=", "pydantic", "Field required", "Extra inputs")
VALID = {"pixel_id": "C4ABCDEF0123456789AB"}
FIELDS = list(CampaignSettingsInput.model_fields)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4),
    max_leaves=8,
)
# Values near each field's rule, which random JSON rarely hits.
NEAR_MISSES = {
    "pixel_id": ["x", "C4AB-CDEF-0123", "A" * 65, "", "Ç4ABCDEF01234"],
    "access_token": ["short", "é" * 10, "a" * 1025, ""],
    "test_event_code": ["T", "TEST 123!", "T" * 65, ""],
    "test_event_code_expires_at": ["tomorrow", "2026-12-07T18:35:00", "0001-01-01T00:00:00+01:00", 5],
    "allowed_origins": [["ftp://x.example"], ["https://x.example/path"], ["https://a.example"] * 51, "x", [3]],
    "event_names": [{"nope": "Purchase"}, {"payment_succeeded": "Buy now"}, {"page_view": 5}, [], "Purchase"],
    "stripe_account": ["bogus", "acct_", "acct_a-b", 12],
    "enabled": ["yes", 1, None],
    "access": ["growth", ["no spaces"], ["g"] * 21, [3]],
}


def refusals(body: dict) -> list[dict]:
    with pytest.raises(Unprocessable) as refused:
        parse_settings(body)
    assert refused.value.details, body
    return refused.value.details


def assert_plain(detail: dict) -> None:
    message = detail["message"]
    assert isinstance(message, str) and message.strip(), detail
    for word in ENGINEER_WORDS:
        assert word.lower() not in message.lower(), (word, detail)
    assert message.rstrip().endswith("."), detail


@pytest.mark.parametrize(("field", "value"), [(f, v) for f, values in NEAR_MISSES.items() for v in values])
def test_every_near_miss_reads_as_plain_words_naming_its_field(field, value):
    details = refusals({**VALID, field: value})
    assert [d["field"].split(".")[0] for d in details] == [field] * len(details)
    for detail in details:
        assert_plain(detail)
        # ... and says what a right value looks like.
        assert RULES[field] in detail["message"] or "A TikTok event name is" in detail["message"]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(FIELDS), value=json_values)
def test_any_invalid_value_of_any_field_reads_as_plain_words(field, value):
    try:
        parse_settings({**VALID, field: value})
    except Unprocessable as refused:
        for detail in refused.details:
            assert_plain(detail)
            assert detail["field"].split(".")[0] == field


@given(extra=st.text(min_size=1, max_size=30).filter(lambda name: name not in FIELDS))
def test_an_unknown_setting_is_named_and_the_settings_listed(extra):
    (detail,) = refusals({**VALID, extra: 1})
    assert detail["field"] == extra
    assert_plain(detail)
    assert "pixel_id" in detail["message"]


def test_a_missing_pixel_id_says_it_is_missing_and_what_one_looks_like():
    (detail,) = refusals({})
    assert detail == {"field": "pixel_id", "message": "The Pixel ID is missing. " + RULES["pixel_id"]}


def test_every_invalid_field_is_refused_at_once():
    details = refusals({"pixel_id": "x", "access_token": "short", "test_event_code": "T!", "enabled": "yes",
                        "allowed_origins": ["ftp://x"], "event_names": {"nope": "P"}, "stripe_account": "bogus"})
    assert {d["field"] for d in details} == {"pixel_id", "access_token", "test_event_code", "enabled",
                                             "allowed_origins", "event_names", "stripe_account"}


def test_a_token_is_never_repeated_in_its_refusal():
    token = "sécret-token-value"
    (detail,) = refusals({**VALID, "access_token": token})
    assert token not in detail["message"] and "é" not in detail["message"]


def test_spaces_pasted_in_a_pixel_id_token_or_test_code_are_removed():
    settings_, _ = parse_settings({"pixel_id": " C4AB CDEF\t0123 4567\n89AB ", "access_token": " tok en-1234 \n",
                                   "test_event_code": "TEST 12345 "})
    assert (settings_.pixel_id, settings_.access_token, settings_.test_event_code) == (
        "C4ABCDEF0123456789AB", "token-1234", "TEST12345")
