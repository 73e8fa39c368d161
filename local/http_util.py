"""Small pieces the local stack's WSGI endpoints share."""

import json
import re
import threading
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Response


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status=status, headers=headers, content_type="application/json")


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RecordLog:
    """What a stand-in received, oldest first; shared by the server's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[dict] = []

    def append(self, record: dict) -> None:
        with self._lock:
            self._records.append(record)

    def update(self, record: dict, **changes: Any) -> None:
        """Change a record already listed (its answer, known later) without a reader seeing it half done."""
        with self._lock:
            record.update(changes)

    def snapshot(self) -> list[dict]:
        with self._lock:
            return [dict(record) for record in self._records]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_MASKED = " (masked)"
_EMAIL_KEYS = frozenset({"email"})
_PHONE_KEYS = frozenset({"phone", "phone_number"})
_MAX_DEPTH = 8


def _masked_email(value: str) -> str:
    local, _, domain = value.rpartition("@")
    return f"{local[:1]}…@{domain}{_MASKED}"


def _masked_phone(value: str) -> str:
    text = value.strip()
    return f"{text[:2]}…{text[-2:]}{_MASKED}" if len(text) > 4 else f"…{_MASKED}"


def mask_contact(value: Any, depth: int = 0) -> Any:
    """`value` with raw emails and phone numbers shown by their shape only (`a…@example.com (masked)`).

    The page gives them to `ttq.identify` raw (the Pixel hashes them); a local page must not hand them
    to whoever reads it. SHA-256 hex values, what the Events API carries, are kept as they are.
    """
    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, list):
        return [mask_contact(item, depth + 1) for item in value]
    if not isinstance(value, dict):
        return value
    return {key: _mask_field(key, item, depth) for key, item in value.items()}


def _mask_field(key: Any, item: Any, depth: int) -> Any:
    if isinstance(item, list) and key in _EMAIL_KEYS | _PHONE_KEYS:
        return [_mask_field(key, entry, depth) for entry in item]
    # Masking twice (the Pixel stand-in stores masked values; pages mask what they show) keeps the first.
    if not isinstance(item, str) or _SHA256_HEX.match(item) or item.endswith(_MASKED):
        return mask_contact(item, depth + 1)
    if key in _EMAIL_KEYS and "@" in item:
        return _masked_email(item)
    if key in _PHONE_KEYS:
        return _masked_phone(item)
    return item
