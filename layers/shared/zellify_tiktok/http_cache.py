"""Compressed, revalidatable answers for what browsers fetch on every page (tracker.js, docs/design.md §6.2).

gzip when the request's Accept-Encoding allows it, an ETag computed from the rendered bytes (one per
content coding, as strong validators must be), 304 Not Modified for a matching If-None-Match, and
`Vary: Accept-Encoding` so shared caches keep the two codings apart.

Powertools' own `compress=True` is not used: it compresses whenever "gzip" appears anywhere in
Accept-Encoding (`gzip;q=0` included), sets no Vary, and runs after the handler, too late for an ETag.
"""

import gzip
import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

# One element of Accept-Encoding: a coding and an optional weight (RFC 9110 §12.5.3).
_CODING = re.compile(r"^\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*(?:;\s*q\s*=\s*(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?))?\s*$")
# One entity tag of an If-None-Match list, and the comma after it (RFC 9110 §8.8.3).
_ENTITY_TAG = re.compile(r'\s*(?:W/)?("[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|\Z)')


@dataclass(frozen=True)
class ConditionalResponse:
    """What to send: `body` is text for an uncompressed answer and bytes for a gzip one, so Powertools'
    Response base64-encodes exactly the binary body (API Gateway needs `isBase64Encoded` for it)."""

    status: int  # 200, or 304 Not Modified with an empty body
    body: str | bytes
    headers: dict[str, str]


def conditional_response(content: str, *, content_type: str, cache_control: str,
                         accept_encoding: str | None, if_none_match: str | None) -> ConditionalResponse:
    """The answer to a GET of `content` (already rendered), given the request's two headers."""
    data = content.encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()[:32]
    compress = accepts_gzip(accept_encoding)
    etag = f'"{digest}-gzip"' if compress else f'"{digest}"'
    headers = {"ETag": etag, "Cache-Control": cache_control, "Vary": "Accept-Encoding"}
    if etag_matches(if_none_match, etag):
        return ConditionalResponse(304, "", headers)
    headers["Content-Type"] = content_type
    if compress:
        return ConditionalResponse(200, _gzip(data), {**headers, "Content-Encoding": "gzip"})
    return ConditionalResponse(200, content, headers)


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether gzip is acceptable: named with a weight above 0, or covered by `*` (an unreadable element
    counts for nothing, and a header that cannot be read at all means no compression)."""
    weights: dict[str, float] = {}
    for element in (accept_encoding or "").split(","):
        if not element.strip():
            continue
        match = _CODING.match(element)
        if match:
            weights[match.group(1).lower()] = float(match.group(2) or 1)
    for coding in ("gzip", "x-gzip", "*"):
        if coding in weights:
            return weights[coding] > 0
    return False


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match's weak comparison (RFC 9110 §13.1.2); a malformed header matches nothing."""
    header = (if_none_match or "").strip()
    if not header:
        return False
    if header == "*":
        return True
    tags, position = [], 0
    while position < len(header):
        match = _ENTITY_TAG.match(header, position)
        if not match:
            return False
        tags.append(match.group(1))
        position = match.end()
    return etag.removeprefix("W/") in tags


@lru_cache(maxsize=64)
def _gzip(data: bytes) -> bytes:
    # Every warm request for the same campaign renders the same bytes: compress them once.
    # mtime=0 keeps the output a function of the input.
    return gzip.compress(data, compresslevel=9, mtime=0)
