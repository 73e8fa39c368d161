"""No personal data in page URLs (docs/design.md §5). Pure functions, no I/O.

Funnels often carry the visitor's email or phone in the URL (`/checkout?email=jane%40example.com`).
Before an event is stored, queued or sent, `page.url` and `page.referrer` lose every query parameter
and every fragment part whose name is one of NAMES or whose value holds an email address or a phone
number; everything else is kept byte for byte as the browser sent it (nothing is re-encoded).

A parameter is judged on its decoded form: percent-escapes (twice encoded too) and `+` for a space,
so `jane.doe%40example.com` and `%2B1%20415%20555%200142` are caught as `jane.doe@example.com` and
`+1 415 555 0142`. Erring on the safe side, a phone number is any run of 7 or more digits, with or
without `+` and separators (spaces, dots, dashes, brackets): a date like `2026-12-06` goes too.
"""

import re
from urllib.parse import unquote, unquote_plus

# Parameter names dropped whatever their value, compared decoded and in lower case.
NAMES = frozenset({"email", "e-mail", "mail", "phone", "tel", "mobile", "first_name", "last_name", "name",
                   "address", "zip", "postcode"})
# Something@something.tld, loosely: a value that merely looks like an address is dropped.
_EMAIL = re.compile(r"[^\s@]@[^\s@]*[^\s@.]\.[^\s@.]")
# 7 or more digits; between two of them at most three separators. Linear: each repetition takes a digit.
_PHONE = re.compile(r"\d(?:[\s().\-]{0,3}\d){6,}")
# Percent-decoding stops after this many rounds: enough for a twice-encoded value.
_DECODE_ROUNDS = 3


def _decoded(text: str) -> str:
    value = unquote_plus(text)
    for _ in range(_DECODE_ROUNDS - 1):
        if "%" not in value:
            break
        again = unquote(value)
        if again == value:
            break
        value = again
    return value


def holds_personal_data(text: str) -> bool:
    """Whether a decoded piece of text holds an email address or a phone number."""
    return bool(_EMAIL.search(text) or _PHONE.search(text))


def _personal(part: str) -> bool:
    name = part.partition("=")[0]
    return _decoded(name).strip().lower() in NAMES or holds_personal_data(_decoded(part))


def _scrub_parameters(query: str) -> str | None:
    """`a=1&email=…&b=2` without the personal parts; None when nothing was removed."""
    parts = query.split("&")
    kept = [part for part in parts if not _personal(part)]
    return None if len(kept) == len(parts) else "&".join(kept)


def _scrub_fragment(fragment: str) -> str | None:
    """A fragment is parameters (`#email=…&step=2`), a route with a query (`#/pay?email=…`), or an anchor.

    Answers None when nothing was removed.
    """
    route, sep, query = fragment.partition("?")
    if sep:
        scrubbed_route = "" if route and holds_personal_data(_decoded(route)) else route
        scrubbed_query = _scrub_parameters(query)
        if scrubbed_query is None and scrubbed_route == route:
            return None
        query = query if scrubbed_query is None else scrubbed_query
        return scrubbed_route + (f"?{query}" if query else "")
    return _scrub_parameters(fragment)


def scrub_url(url: str) -> str:
    """`url` without the query parameters and fragment parts that carry personal data (module docstring)."""
    if "?" not in url and "#" not in url:
        return url
    rest, hash_sign, fragment = url.partition("#")
    base, question_mark, query = rest.partition("?")
    scrubbed_query = _scrub_parameters(query) if question_mark else None
    scrubbed_fragment = _scrub_fragment(fragment) if hash_sign else None
    if scrubbed_query is None and scrubbed_fragment is None:
        return url
    # What was scrubbed empty loses its `?` or `#` too; the rest stays as sent.
    if scrubbed_query is not None:
        question_mark, query = ("?" if scrubbed_query else ""), scrubbed_query
    if scrubbed_fragment is not None:
        hash_sign, fragment = ("#" if scrubbed_fragment else ""), scrubbed_fragment
    return f"{base}{question_mark}{query}{hash_sign}{fragment}"
