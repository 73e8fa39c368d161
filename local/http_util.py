"""Small pieces the local stack's WSGI endpoints share."""

import json
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
