"""TikTok Pixel stand-in: serves the SDK the tracker loads and records the `ttq` calls it reports.

The SDK itself (local/pixel_sdk.js) posts every call to /_dev/pixel/requests of the origin it was
served from, as text/plain: a request no browser preflights, so pages of another origin are recorded
too. No CORS header: no other origin may read what was recorded, and raw emails and phone numbers
are masked before they are stored.
"""

import json
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

from .http_util import RecordLog, json_response, mask_contact, utc_now_iso


def parse_call(raw: Any) -> dict:
    """One `ttq` call as the SDK reports it; ValueError names what is wrong with it."""
    if not isinstance(raw, dict):
        raise ValueError("a pixel record must be an object")
    if not isinstance(raw.get("method"), str) or not raw["method"]:
        raise ValueError("method must be a non-empty string")
    if raw.get("pixel_id") is not None and not isinstance(raw["pixel_id"], str):
        raise ValueError("pixel_id must be a string or null")
    args = raw.get("args", [])
    if not isinstance(args, list):
        raise ValueError("args must be a list")
    return {"received_at": utc_now_iso(), "pixel_id": raw.get("pixel_id"), "method": raw["method"],
            "args": mask_contact(args)}


class PixelStandIn:
    def __init__(self, sdk_path: Path):
        self.sdk_path = sdk_path
        self.log = RecordLog()

    def records(self) -> list[dict]:
        return self.log.snapshot()

    # WSGI endpoints (the server maps paths and methods to them).

    def sdk(self, request: Request) -> Response:
        # Read on every request: the file may be edited while the stack runs.
        return Response(self.sdk_path.read_text(), content_type="application/javascript; charset=utf-8",
                        headers={"Cache-Control": "no-store"})

    def requests_endpoint(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.log.clear()
            return Response(status=204)
        if request.method == "POST":
            # navigator.sendBeacon sends text/plain: the body is read as JSON whatever its type.
            try:
                raw = json.loads(request.get_data())
                calls = [parse_call(item) for item in (raw if isinstance(raw, list) else [raw])]
            except ValueError as exc:
                return json_response({"error": {"code": "invalid_record", "message": str(exc)}}, 400)
            for call in calls:
                self.log.append(call)
            return json_response({"stored": len(calls)}, 200)
        return json_response(self.records())
