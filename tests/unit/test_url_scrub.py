"""Page URLs lose the parameters that carry an email or a phone number; the rest stays as sent (docs/design.md §5)."""

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from zellify_tiktok.url_scrub import NAMES, scrub_url

BASE = "https://funnel.example.com/checkout"


@pytest.mark.parametrize("url, scrubbed", [
    # The issue's own example: both parameters go, and with them the `?` left with nothing after it.
    (f"{BASE}?email=jane.doe%40example.com&phone=%2B14155550142", BASE),
    # Percent-encoded, twice encoded, raw, and `+` for spaces.
    (f"{BASE}?utm_source=tt&u=jane.doe%40example.com&step=2", f"{BASE}?utm_source=tt&step=2"),
    (f"{BASE}?u=jane.doe%2540example.com&step=2", f"{BASE}?step=2"),
    (f"{BASE}?u=jane.doe@example.com&step=2", f"{BASE}?step=2"),
    (f"{BASE}?a=1&contact=%2B1+415+555+0142&c=3", f"{BASE}?a=1&c=3"),
    (f"{BASE}?a=1&contact=(415)%20555-0142", f"{BASE}?a=1"),
    (f"{BASE}?a=1&contact=415.555.0142", f"{BASE}?a=1"),
    (f"{BASE}?a=1&c=%2534155550142", f"{BASE}?a=1"),
    # Listed names go whatever their value, in any case and encoding; a bare flag too.
    (f"{BASE}?Name=Jane&plan=pro", f"{BASE}?plan=pro"),
    (f"{BASE}?plan=pro&FIRST_NAME=Jane&last%5Fname=Doe&E-Mail=x", f"{BASE}?plan=pro"),
    (f"{BASE}?zip=94110&postcode=SW1A&address=Main+St&tel=1&mobile=2&mail=m&plan=pro", f"{BASE}?plan=pro"),
    (f"{BASE}?email&plan=pro", f"{BASE}?plan=pro"),
    # An address in a parameter's name.
    (f"{BASE}?jane%40example.com=1&plan=pro", f"{BASE}?plan=pro"),
    # Fragments: parameters, a route with a query, a bare address.
    (f"{BASE}?plan=pro#email=jane%40example.com&step=2", f"{BASE}?plan=pro#step=2"),
    (f"{BASE}#/pay?phone=4155550142&ok=1", f"{BASE}#/pay?ok=1"),
    (f"{BASE}#/pay?phone=4155550142", f"{BASE}#/pay"),
    (f"{BASE}#jane@example.com", BASE),
    (f"{BASE}?u=jane%40example.com#top", f"{BASE}#top"),
])
def test_personal_parameters_are_removed(url, scrubbed):
    assert scrub_url(url) == scrubbed


@pytest.mark.parametrize("url", [
    BASE,
    f"{BASE}?",
    f"{BASE}#",
    f"{BASE}?q=hello%20world&v=1.2.3&utm_campaign=spring+sale",
    # Not re-encoded, not reordered, empty parts kept.
    f"{BASE}?b=%7E&a=%41&&c=x%2fy#section-2",
    f"{BASE}?ttclid=E.C.P.CsABc0FkZXYtdHRjbGlk&order=123456",  # six digits: not a phone
    f"{BASE}?handle=@jane&ratio=1.5",  # an @ without a domain: not an address
    f"{BASE}#/quiz/3?answer=yes",
    "https://www.tiktok.com/",
    "not a url at all",
])
def test_urls_without_personal_data_are_kept_byte_for_byte(url):
    assert scrub_url(url) == url


def test_a_path_is_never_touched_only_parameters_are():
    # The contract covers parameters; a path is the funnel's own structure.
    assert scrub_url("https://funnel.example.com/step/7?plan=pro") == "https://funnel.example.com/step/7?plan=pro"


def test_a_date_counts_as_digits_and_goes_erring_on_the_safe_side():
    assert scrub_url(f"{BASE}?d=2026-12-06&plan=pro") == f"{BASE}?plan=pro"


_names = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(lambda n: n not in NAMES)
_values = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-._~", max_size=12)


@given(st.lists(st.tuples(_names, _values), max_size=6), st.sampled_from(["", "#top", "#/step?x=1"]))
def test_harmless_parameters_survive_untouched(params, fragment):
    url = BASE + ("?" + "&".join(f"{n}={v}" for n, v in params) if params else "") + fragment
    assert scrub_url(url) == url


@given(st.lists(st.tuples(_names, _values), max_size=4), st.integers(0, 4),
       # A digit in the local part: the harmless parameters hold none, so finding it means it leaked.
       st.from_regex(r"[a-z]{2}[0-9][a-z0-9.]{0,8}[a-z]@[a-z]{2,10}\.(com|org|io)", fullmatch=True),
       st.sampled_from([lambda v: v, lambda v: quote(v, safe=""), lambda v: quote(quote(v, safe=""), safe="")]))
def test_a_planted_email_never_survives_in_any_encoding(params, position, email, encode):
    planted = ("ref", encode(email))
    params = [*params[:position], planted, *params[position:]]
    url = BASE + "?" + "&".join(f"{n}={v}" for n, v in params)
    scrubbed = scrub_url(url)
    assert email.split("@")[0] not in scrubbed and encode(email) not in scrubbed
    assert scrubbed == BASE + ("?" + "&".join(f"{n}={v}" for n, v in params if (n, v) != planted)
                               if len(params) > 1 else "")
