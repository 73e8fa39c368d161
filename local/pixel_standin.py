"""TikTok Pixel stand-in: serves the SDK the tracker loads and records the `ttq` calls it reports.

The SDK itself (local/pixel_sdk.js) posts every call to /_dev/pixel/requests of the origin it was
served from, as text/plain: a request no browser preflights, so pages of another origin are recorded
too. No CORS header: no other origin may read what was recorded.

`ttq.identify`'s email and phone_number are recorded as the SHA-256 hex of what the page gave, which is
what the real Pixel sends TikTok for them: never raw, and comparable hash to hash with what the Events
API got for the same visitor (docs/design.md §5). Any other raw email or phone is masked, and page URLs
in the arguments lose their personal parameters, as the server's do.
"""

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response
from zellify_tiktok.url_scrub import scrub_url

from .http_util import RecordLog, json_response, mask_contact, utc_now_iso

# The identify keys the Pixel hashes before sending.
HASHED_KEYS = frozenset({"email", "phone_number"})
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_MAX_DEPTH = 8


def pixel_hash(value: str) -> str:
    """What the Pixel sends for an identify value: SHA-256 hex of the string as given (tracker.js gives
    it already normalised); a value that already is a SHA-256 hex is sent as it is."""
    return value if _SHA256_HEX.fullmatch(value) else hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def _hash_identity(arg: Any) -> Any:
    if not isinstance(arg, dict):
        return arg
    hashed = dict(arg)
    for key in HASHED_KEYS & hashed.keys():
        value = hashed[key]
        if isinstance(value, str) and value:
            hashed[key] = pixel_hash(value)
        elif isinstance(value, list):
            hashed[key] = [pixel_hash(v) if isinstance(v, str) and v else v for v in value]
    return hashed


def _scrub_urls(value: Any, depth: int = 0) -> Any:
    """Every http(s) URL among the arguments without its personal parameters (docs/design.md §5)."""
    if isinstance(value, str):
        return scrub_url(value) if value.startswith(("http://", "https://")) else value
    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, list):
        return [_scrub_urls(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {key: _scrub_urls(item, depth + 1) for key, item in value.items()}
    return value


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
    if raw["method"] == "identify":
        args = [_hash_identity(arg) for arg in args]
    return {"received_at": utc_now_iso(), "pixel_id": raw.get("pixel_id"), "method": raw["method"],
            "args": mask_contact(_scrub_urls(args))}


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
