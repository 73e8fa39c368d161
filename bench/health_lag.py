"""health_lag_s: how long a beacon takes to be counted in its campaign's health answer (docs/design.md §9).

    python bench/health_lag.py RESULT_FILE --base-url URL [--beacons N] [--admin-token TOKEN]

Against a running local stack (`python -m local`, whose stream poller feeds the HealthFunction from the
SentEvents ledger every second, as Lambda's event source mapping does in AWS). A campaign of its own (fresh
id, pixel and token), then N beacons of one page_view, one after another; after each 202 the health route
(GET /v1/campaigns/{id}/tiktok/health, the operator bearer token) is read every POLL_S until its PageView
`sent` count includes that beacon. A beacon's lag runs from its 202 to that answer. Standard library only.

Writes {"health_lag_s": p99, "p50_s", "max_s", "lags_s": [...], "beacons"} to RESULT_FILE; exits 1 (with
the reason) when a beacon is not counted within GIVE_UP_S.
"""

import argparse
import json
import math
import statistics
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

POLL_S = 0.05
# Far past the 60 s that §9 allows: a beacon still not counted then is a failure, not a figure.
GIVE_UP_S = 120
REQUEST_TIMEOUT_S = 30


class Api:
    def __init__(self, base_url: str, admin_token: str):
        self.base_url = base_url.rstrip("/")
        self.admin_token = admin_token

    def call(self, method: str, path: str, body: dict | None = None, *, admin: bool = False) -> tuple[int, dict]:
        headers = {"Content-Type": "text/plain;charset=UTF-8" if not admin else "application/json"}
        if admin:
            headers["Authorization"] = f"Bearer {self.admin_token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.base_url}{path}", data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else {}
        except urllib.error.HTTPError as exc:
            return exc.code, {"error": exc.read().decode(errors="replace")[:500]}


def sent_page_views(api: Api, campaign_id: str) -> int:
    # Two hours: a run that crosses an hour still sees the counts of the hour it started in.
    status, health = api.call("GET", f"/v1/campaigns/{campaign_id}/tiktok/health?hours=2", admin=True)
    if status != 200:
        raise SystemExit(f"the health route answered {status}: {health}")
    return sum(row["sent"] for row in health["events"] if row["event"] == "PageView")


def p99(values: list[float]) -> float:
    """Nearest rank: the smallest value at or above 99 % of them."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


def measure(api: Api, beacons: int) -> dict:
    run = uuid.uuid4().hex[:10]
    campaign_id = f"bench-health-{run}"
    status, answer = api.call("PUT", f"/v1/campaigns/{campaign_id}/tiktok", {
        "pixel_id": f"CBENCH{run.upper()}", "access_token": f"bench-health-token-{run}", "enabled": True}, admin=True)
    if status != 200:
        raise SystemExit(f"the settings PUT answered {status}: {answer}")
    lags: list[float] = []
    try:
        for index in range(beacons):
            beacon = {"campaign_id": campaign_id, "session_id": f"bench-health-{run}", "ttp": f"ttp-{run}",
                      "consent": True, "events": [{"event": "page_view", "event_id": f"bench-health-{run}-{index}",
                                                   "time": int(time.time() * 1000)}]}
            status, answer = api.call("POST", "/v1/events", beacon)
            accepted_at = time.monotonic()
            if status != 202 or answer.get("rejected"):
                raise SystemExit(f"beacon {index} answered {status}: {answer}")
            while sent_page_views(api, campaign_id) < index + 1:
                if time.monotonic() - accepted_at > GIVE_UP_S:
                    raise SystemExit(f"beacon {index} was not counted within {GIVE_UP_S} s")
                time.sleep(POLL_S)
            lags.append(time.monotonic() - accepted_at)
    finally:
        api.call("DELETE", f"/v1/campaigns/{campaign_id}/tiktok", admin=True)
    return {"health_lag_s": round(p99(lags), 3), "p50_s": round(statistics.median(lags), 3),
            "max_s": round(max(lags), 3), "lags_s": [round(lag, 3) for lag in lags], "beacons": beacons}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("result_file", type=Path)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--beacons", type=int, default=30)
    parser.add_argument("--admin-token", default="dev-admin-token")
    args = parser.parse_args()
    result = measure(Api(args.base_url, args.admin_token), args.beacons)
    args.result_file.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
