"""The one delivery path through `python -m local` (what `make dev` runs): batches, lag, a slow TikTok.

- tiktok_calls_per_1000_beacons: `beacons` one-event beacons for one pixel from `concurrency` clients; the
  TikTok stand-in's calls once every event arrived, per 1000 beacons;
- delivery_lag_p99_s: for those beacons, each event's 202 (client clock) until the stand-in received it;
- beacon_slow_tiktok_ratio: p95 of a one-event beacon's answer, one client, while every TikTok answer takes
  3 s, over the same p95 while TikTok answers at once.
"""

import json
import threading
import time
from datetime import datetime

from common import ORIGIN, beacon_body, http

SLOW_TIKTOK_MS = 3000


def _beacon(base_url: str) -> tuple[int, float, list[str], float]:
    """One one-event beacon: status, seconds to its answer, its event ids, the client time of the answer."""
    started = time.perf_counter()
    status, answer = http(base_url, "/v1/events", "POST", beacon_body(1).encode(),
                           {"Content-Type": "text/plain;charset=UTF-8", "Origin": ORIGIN})
    took = time.perf_counter() - started
    ids = json.loads(answer).get("accepted", []) if status == 202 else []
    return status, took, ids, time.time()


def _received(base_url: str) -> list[dict]:
    return json.loads(http(base_url, "/_dev/tiktok/requests")[1] or b"[]")


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def _json_post(base_url: str, path: str, payload: object) -> None:
    http(base_url, path, "POST", json.dumps(payload).encode(), {"Content-Type": "application/json"})


def batching_and_lag(base_url: str, beacons: int, concurrency: int, timeout_s: float = 120) -> dict:
    http(base_url, "/_dev/tiktok/faults", "DELETE")
    http(base_url, "/_dev/tiktok/requests", "DELETE")
    answered: dict[str, float] = {}
    other = 0
    lock = threading.Lock()
    remaining = [beacons]

    def client() -> None:
        nonlocal other
        while True:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            status, _, ids, at = _beacon(base_url)
            with lock:
                if status == 202:
                    answered.update(dict.fromkeys(ids, at))
                else:
                    other += 1

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + timeout_s
    while True:
        requests = _received(base_url)
        seen = {e["event_id"]: r["received_at"] for r in requests for e in (r.get("body") or {}).get("data") or []}
        if set(answered) <= set(seen) or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    lags = [datetime.fromisoformat(seen[i]).timestamp() - at for i, at in answered.items() if i in seen]
    return {"tiktok_calls_per_1000_beacons": len(requests) * 1000 / beacons if beacons else None,
            "delivery_lag_p99_s": _percentile(lags, 0.99), "delivery_lag_p50_s": _percentile(lags, 0.5),
            "beacons": beacons, "other_answers": other, "events_delivered": len(set(answered) & set(seen)),
            "tiktok_calls": len(requests)}


def slow_tiktok(base_url: str, beacons: int) -> dict:
    """One client, one beacon at a time: the answer times with TikTok at once, then with TikTok taking 3 s."""
    http(base_url, "/_dev/tiktok/faults", "DELETE")
    fast = [_beacon(base_url)[1] for _ in range(beacons)]
    _json_post(base_url, "/_dev/tiktok/faults", {"delay_ms": SLOW_TIKTOK_MS, "times": 1_000_000})
    try:
        slow = [_beacon(base_url)[1] for _ in range(beacons)]
    finally:
        http(base_url, "/_dev/tiktok/faults", "DELETE")
    fast_p95, slow_p95 = _percentile(fast, 0.95), _percentile(slow, 0.95)
    fast_p50 = _percentile(fast, 0.5)
    return {"beacon_slow_tiktok_ratio": slow_p95 / fast_p95 if fast_p95 and slow_p95 else None,
            "beacon_p50_ms_tiktok_fast": fast_p50 * 1000 if fast_p50 else None,
            "beacon_p95_ms_tiktok_fast": fast_p95 * 1000 if fast_p95 else None,
            "beacon_p95_ms_tiktok_slow": slow_p95 * 1000 if slow_p95 else None}
