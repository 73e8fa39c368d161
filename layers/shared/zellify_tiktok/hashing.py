"""Normalisation and SHA-256 hashing of match keys (reference/tiktok.md, Hashing)."""

import hashlib
import re

_SHA256_HEX = re.compile(r"^[a-f0-9]{64}$")
# Deliberately permissive: one @, something on both sides, a dot in the domain, no spaces.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EMAIL_LENGTH = 254


def is_sha256_hex(value: str) -> bool:
    return bool(_SHA256_HEX.match(value))


def sha256_hex(normalized: str) -> str:
    """Hash a normalised value; a value that already is a SHA-256 hex digest passes through."""
    if is_sha256_hex(normalized):
        return normalized
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def normalize_email(raw: str) -> str:
    return raw.strip().lower()


def is_valid_email(raw: str) -> bool:
    normalized = normalize_email(raw)
    try:
        normalized.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no address, and nothing we could hash
        return False
    if is_sha256_hex(normalized):
        return True
    return len(normalized) <= MAX_EMAIL_LENGTH and bool(_EMAIL.match(normalized))


def hash_email(raw: str) -> str:
    return sha256_hex(normalize_email(raw))


def hash_external_id(raw: str) -> str:
    return sha256_hex(raw.strip().lower())


def normalize_phone(raw: str) -> str:
    """E.164: a leading + and digits only (the caller supplies the country code)."""
    digits = re.sub(r"\D", "", raw)
    return f"+{digits}" if digits else ""


def hash_phone(raw: str) -> str:
    stripped = raw.strip().lower()
    if is_sha256_hex(stripped):
        return stripped
    return sha256_hex(normalize_phone(raw))
