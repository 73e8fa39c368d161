"""Warm per-event cost: the collector's handler, warm, with in-memory AWS and TikTok; and the stdlib floor.

    python bench/warm.py RESULT_FILE [--iterations-1 N] [--iterations-50 N] [--profile PROFILE_TXT]

Run by bench/run.py in its own process, stdout to /dev/null (the handler logs and prints its metrics
there, as it does in Lambda; that cost is part of the measurement). Writes its figures to RESULT_FILE.

The fakes implement exactly the repository methods the services call, in memory, so AWS costs nothing
here; the TikTok transport answers TikTok's OK without reading the body (the real one only writes the
bytes to a socket). Every iteration carries event ids never seen before, so the ledger fake deduplicates
nothing and every event is built, checked, serialized and "sent".
"""

import argparse
import cProfile
import gc
import hashlib
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:0] = [str(ROOT / "functions" / "collect"), str(ROOT)]

os.environ.update({
    # Nothing here may reach AWS: a stray call fails fast on a closed port (and is reported below).
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    "TIKTOK_API_BASE": "http://127.0.0.1:9/open_api/v1.3",
})
for name, value in {"POWERTOOLS_SERVICE_NAME": "zellify-tiktok", "POWERTOOLS_METRICS_NAMESPACE": "ZellifyTikTok",
                    "POWERTOOLS_LOG_LEVEL": "INFO", "POWERTOOLS_TRACE_DISABLED": "true"}.items():
    os.environ.setdefault(name, value)

import collect_app  # noqa: E402
import zellify_tiktok.runtime as runtime_module  # noqa: E402
import zellify_tiktok.services.collect as collect_service  # noqa: E402
from common import CAMPAIGN_ID, LambdaContext, beacon_apigw_event  # noqa: E402
from zellify_tiktok.campaign import Campaign  # noqa: E402
from zellify_tiktok.config import get_settings  # noqa: E402
from zellify_tiktok.events import EVENT_TABLE  # noqa: E402
from zellify_tiktok.repositories import aws as aws_clients  # noqa: E402
from zellify_tiktok.runtime import Runtime  # noqa: E402
from zellify_tiktok.tiktok import TikTokClient  # noqa: E402

from tests.tiktok_fake import FakeResponse, FakeTikTok  # noqa: E402

PIXEL_ID = "CDEMO00000000000PIXEL"
TOKEN = "dev-tiktok-token"
OK_ANSWER = json.dumps({"code": 0, "message": "OK", "request_id": "bench"}).encode()


# In-memory repositories: the methods the collect service and the Deliverer call, nothing more.

class FakeCampaigns:
    def __init__(self, campaign: Campaign):
        self.campaign = campaign

    def get(self, campaign_id: str, *, fresh: bool = False) -> Campaign | None:
        return self.campaign if campaign_id == self.campaign.campaign_id else None

    def record_delivery(self, campaign: Campaign, delivery: dict) -> Campaign:
        self.campaign = campaign.model_copy(update={"last_delivery": delivery})
        return self.campaign


class FakeSecrets:
    def get_token(self, campaign_id: str) -> str | None:
        return TOKEN


class FakeSessions:
    def __init__(self):
        self.records: dict[tuple[str, str], dict] = {}

    def upsert(self, campaign_id: str, session_id: str, update, now_s: int) -> dict:
        record = self.records.setdefault((campaign_id, session_id), {"first_seen": now_s})
        record.update({k: v for k, v in vars(update).items() if v not in (None, "")})
        record.update(last_seen=now_s, expires_at=now_s + 60 * 86400)
        return dict(record)


class FakeLedger:
    """Remembers every key recorded: a repeated id would be found (the bench never repeats one)."""

    def __init__(self):
        self.keys: set[str] = set()

    def already_sent(self, keys: list[str]) -> set[str]:
        return {k for k in keys if k in self.keys}

    def record(self, keys: list[str], now_s: int, ttl_s: int | None = None) -> None:
        self.keys.update(keys)


class FakeQueue:
    def __init__(self):
        self.messages: list[dict] = []

    def send(self, messages: list[dict]) -> None:
        self.messages.extend(messages)


class OkTikTok(FakeTikTok):
    """tests/tiktok_fake.FakeTikTok answering OK without parsing the body (the fake's cost is not ours)."""

    def request(self, method, url, body=None, headers=None, **_):
        self.calls.append({"url": url, "headers": dict(headers or {}), "raw": body})
        return FakeResponse(200, OK_ANSWER)

    @property
    def events(self) -> list[dict]:
        return [e for call in self.calls for e in json.loads(call["raw"])["data"]]


def make_runtime(transport: FakeTikTok) -> Runtime:
    settings = get_settings()
    campaign = Campaign(campaign_id=CAMPAIGN_ID, pixel_id=PIXEL_ID, enabled=True, has_token=True,
                        access_token_last4=TOKEN[-4:], allowed_origins=None)
    return Runtime(
        settings=settings, campaigns=FakeCampaigns(campaign), secrets=FakeSecrets(), sessions=FakeSessions(),
        ledger=FakeLedger(), retry_queue=FakeQueue(), dead_letter_queue=FakeQueue(),
        tiktok=TikTokClient(settings.tiktok_api_base, connect_timeout=settings.tiktok_connect_timeout_s,
                            total_timeout=settings.tiktok_total_timeout_s, http=transport),
    )


def floor(body: str, source_ip: str, user_agent: str) -> bytes:
    """The unavoidable work for a beacon, standard library only: parse it, hash the session id and the
    email(s), build and serialize the TikTok payload."""
    beacon = json.loads(body)
    user = {"external_id": hashlib.sha256(beacon["session_id"].strip().lower().encode()).hexdigest(),
            "ttp": beacon.get("ttp"), "ttclid": beacon.get("ttclid"), "ip": source_ip, "user_agent": user_agent}
    data = []
    for raw in beacon["events"]:
        if "email" in raw:
            user["email"] = hashlib.sha256(raw["email"].strip().lower().encode()).hexdigest()
        event = {"event": EVENT_TABLE[raw["event"]].tiktok, "event_time": raw["time"] // 1000,
                 "event_id": raw["event_id"], "user": user}
        if "page" in raw:
            event["page"] = raw["page"]
        properties = {}
        if "step" in raw:
            properties["content_name"] = raw["step"]["id"]
        if "value" in raw:
            properties.update(value=raw["value"], currency=raw["currency"])
        if "contents" in raw:
            properties.update(contents=raw["contents"], content_type="product")
        if properties:
            event["properties"] = properties
        event["limited_data_use"] = False
        data.append(event)
    return json.dumps({"event_source": "web", "event_source_id": PIXEL_ID, "data": data},
                      separators=(",", ":")).encode()


def run_handler(events: list[dict], transport: FakeTikTok, size: int) -> tuple[list[float], dict]:
    times = []
    problems = {"non_202": 0, "rejected": 0, "not_sent": 0, "tiktok_calls": 0}
    for event in events:
        transport.calls.clear()
        context = LambdaContext()
        started = time.perf_counter()
        response = collect_app.lambda_handler(event, context)
        times.append(time.perf_counter() - started)
        body = json.loads(response["body"]) if response.get("body") else {}
        if response["statusCode"] != 202:
            problems["non_202"] += 1
        problems["rejected"] += len(body.get("rejected") or [])
        problems["tiktok_calls"] += len(transport.calls)
        if len(transport.events) != size:
            problems["not_sent"] += 1
    problems["tiktok_calls_per_beacon"] = problems.pop("tiktok_calls") / max(1, len(events))
    return times, problems


def run_floor(events: list[dict]) -> list[float]:
    times = []
    for event in events:
        ip = event["requestContext"]["http"]["sourceIp"]
        agent = event["headers"].get("user-agent", "")
        started = time.perf_counter()
        floor(event["body"], ip, agent)
        times.append(time.perf_counter() - started)
    return times


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("result_file")
    parser.add_argument("--iterations-1", type=int, default=3000)
    parser.add_argument("--iterations-50", type=int, default=600)
    parser.add_argument("--profile", help="also profile the 50-event loop (cProfile) into this text file")
    args = parser.parse_args()

    transport = OkTikTok()
    runtime = make_runtime(transport)
    runtime_module.get_runtime = collect_service.get_runtime = lambda: runtime

    # Warm: imports done, first-request caches filled, the code paths run once.
    for size in (1, 50):
        for _ in range(20):
            collect_app.lambda_handler(beacon_apigw_event(size), LambdaContext())

    result: dict = {}
    for size, iterations in ((1, args.iterations_1), (50, args.iterations_50)):
        events = [beacon_apigw_event(size) for _ in range(iterations)]
        gc.collect()
        times, problems = run_handler(events, transport, size)
        result[f"warm_us_per_event_{size}"] = median(times) / size * 1e6
        result[f"warm_us_per_beacon_{size}"] = median(times) * 1e6
        result[f"checks_{size}"] = problems
        if size == 50:
            floor_events = [beacon_apigw_event(size) for _ in range(iterations)]
            gc.collect()
            floor_times = run_floor(floor_events)
            result["floor_us_per_event"] = median(floor_times) / size * 1e6
            result["floor_us_per_beacon"] = median(floor_times) * 1e6
            if args.profile:
                profile_events = [beacon_apigw_event(size) for _ in range(min(iterations, 300))]
                profiler = cProfile.Profile()
                profiler.enable()
                run_handler(profile_events, transport, size)
                profiler.disable()
                text = io.StringIO()
                stats = pstats.Stats(profiler, stream=text).sort_stats("cumulative")
                stats.print_stats(45)
                stats.sort_stats("tottime").print_stats(30)
                Path(args.profile).write_text(text.getvalue())
    result["iterations"] = {"1": args.iterations_1, "50": args.iterations_50}
    result["aws_clients_created"] = aws_clients.client.cache_info().currsize
    Path(args.result_file).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
