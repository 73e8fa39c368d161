"""tracker.js's HTTP caching: content negotiation for gzip, entity tags, 304 on revalidation."""

import gzip

import pytest
from zellify_tiktok.http_cache import accepts_gzip, conditional_response, etag_matches

SCRIPT = "!function(){var t={\"campaign_id\":\"demo\"};console.log(t)}();\n" * 50
JS = "application/javascript; charset=utf-8"
CACHE = "public, max-age=300"


def answer(accept_encoding=None, if_none_match=None, content=SCRIPT):
    return conditional_response(content, content_type=JS, cache_control=CACHE,
                                accept_encoding=accept_encoding, if_none_match=if_none_match)


@pytest.mark.parametrize(("header", "accepted"), [
    ("gzip, deflate, br, zstd", True),  # what browsers send
    ("GZIP", True),
    ("x-gzip", True),
    ("deflate, gzip;q=0.5", True),
    ("*", True),
    ("br;q=1.0, *;q=0.1", True),
    ("gzip;q=0", False),
    ("gzip;q=0.000", False),
    ("gzip;q=0, *", False),  # named codings win over *
    ("*;q=0", False),
    ("br", False),
    ("identity", False),
    ("", False),
    (None, False),
    ("gzip;q=high", False),  # an unreadable element counts for nothing
    ("gzip;q=2", False),
    ("br, gzip;q=oops, *;q=0", False),
])
def test_gzip_is_chosen_only_when_accept_encoding_allows_it(header, accepted):
    assert accepts_gzip(header) is accepted


@pytest.mark.parametrize(("header", "matches"), [
    ('"abc"', True),
    ('W/"abc"', True),  # If-None-Match compares weakly
    ('"x", "abc"', True),
    (' "x" ,W/"abc" ', True),
    ("*", True),
    ('"abd"', False),
    ("abc", False),  # not quoted: malformed
    ('"abc', False),
    ('"abc" "x"', False),
    ('"a"b"', False),
    ("", False),
    (None, False),
])
def test_if_none_match_comparison(header, matches):
    assert etag_matches(header, '"abc"') is matches


def test_gzip_answer_holds_the_script_compressed_with_its_headers():
    result = answer("gzip, deflate, br")
    assert result.status == 200 and isinstance(result.body, bytes)
    assert gzip.decompress(result.body).decode() == SCRIPT
    assert len(result.body) < len(SCRIPT.encode()) / 5
    assert result.headers["Content-Encoding"] == "gzip"
    assert result.headers["Content-Type"] == JS
    assert result.headers["Cache-Control"] == CACHE
    assert result.headers["Vary"] == "Accept-Encoding"
    assert result.headers["ETag"].startswith('"') and result.headers["ETag"].endswith('-gzip"')


def test_uncompressed_answer_is_text_and_tagged_apart_from_the_gzip_one():
    plain, compressed = answer("br"), answer("gzip")
    assert plain.status == 200 and plain.body == SCRIPT and "Content-Encoding" not in plain.headers
    assert plain.headers["Vary"] == "Accept-Encoding" and plain.headers["Cache-Control"] == CACHE
    # Strong validators differ between codings of the same content.
    assert plain.headers["ETag"] != compressed.headers["ETag"]


def test_the_etag_follows_the_rendered_bytes():
    other = SCRIPT.replace("demo", "demp")
    assert answer("gzip").headers["ETag"] == answer("gzip").headers["ETag"]
    assert answer("gzip", content=other).headers["ETag"] != answer("gzip").headers["ETag"]
    assert answer(content=other).headers["ETag"] != answer().headers["ETag"]


@pytest.mark.parametrize("encoding", ["gzip, br", None])
def test_a_matching_if_none_match_gets_304_without_a_body(encoding):
    etag = answer(encoding).headers["ETag"]
    for header in (etag, f"W/{etag}", f'"stale", {etag}', "*"):
        result = answer(encoding, header)
        assert result.status == 304 and result.body == ""
        assert result.headers == {"ETag": etag, "Cache-Control": CACHE, "Vary": "Accept-Encoding"}


def test_a_stale_or_malformed_if_none_match_gets_the_script():
    current = answer("gzip").headers["ETag"]
    stale = answer("gzip", content=SCRIPT + "//").headers["ETag"]
    for header in (stale, current.strip('"'), current[:-1], "W/", ",,,", "\x00"):
        result = answer("gzip", header)
        assert result.status == 200 and gzip.decompress(result.body).decode() == SCRIPT, header
