"""Normalisation and SHA-256 hashing of match keys (docs/design.md §5).

The browser's Pixel hashes what `ttq.identify` is given; tracker.js gives it exactly the normalised
strings these functions hash, so both channels name one visitor alike.
"""

import hashlib
import re
from functools import lru_cache

_SHA256_HEX = re.compile(r"[a-f0-9]{64}")
# Deliberately permissive: one @, something on both sides, a dot in the domain, no spaces.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_EMAIL_LENGTH = 254
# E.164: a + and 7 to 15 digits, once the separators people type are dropped.
_PHONE_SEPARATORS = re.compile(r"[\s.\-()\[\]]")
_E164 = re.compile(r"\+[0-9]{7,15}")


def is_sha256_hex(value: str) -> bool:
    return _SHA256_HEX.fullmatch(value) is not None


def encodable(text: str) -> bool:
    """False for a string holding a lone surrogate ("\\udfff" in JSON): it has no UTF-8 form at all."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def sha256_hex(normalized: str) -> str:
    """Hash a normalised value; a value that already is a SHA-256 hex digest passes through."""
    if is_sha256_hex(normalized):
        return normalized
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def normalize_email(raw: str) -> str:
    return raw.strip().lower()


def is_valid_email(raw: str) -> bool:
    normalized = normalize_email(raw)
    if not encodable(normalized):
        return False
    if is_sha256_hex(normalized):
        return True
    return len(normalized) <= MAX_EMAIL_LENGTH and _EMAIL.fullmatch(normalized) is not None


def hash_email(raw: str) -> str:
    return sha256_hex(normalize_email(raw))


def normalize_external_id(raw: str) -> str:
    return raw.strip().lower()


# A visitor's beacons tend to reach the same warm container: their session id is hashed once.
@lru_cache(maxsize=1024)
def hash_external_id(raw: str) -> str:
    return sha256_hex(normalize_external_id(raw))


def normalize_phone(raw: str) -> str | None:
    """The E.164 form (`+14155550100`), or None when the text is no phone number with a country code."""
    candidate = _PHONE_SEPARATORS.sub("", raw)
    return candidate if _E164.fullmatch(candidate) else None


def hash_phone(raw: str) -> str | None:
    """SHA-256 of the E.164 form; a SHA-256 hex digest passes through; None for no phone number."""
    stripped = raw.strip().lower()
    if is_sha256_hex(stripped):
        return stripped
    normalized = normalize_phone(raw)
    return sha256_hex(normalized) if normalized else None
