"""Warm cost: the collector's handler, warm, with in-memory AWS and TikTok; the stdlib floor per event; and,
for a one-event beacon, a bare Powertools resolver that parses the same body and answers 202.

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
from collections import Counter
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:0] = [str(ROOT / "functions" / "collect"), str(ROOT)]

os.environ.update({
    # Nothing here may reach AWS: a stray call fails fast on a closed port (and is reported below).
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    "TIKTOK_API_BASE": "http://127.0.0.1:9/open_api/v1.3",
    # The functions refuse to start without their resources' names; none is reached here.
    **{name: f"bench-{name.lower()}" for name in (
        "CAMPAIGNS_TABLE", "SESSIONS_TABLE", "SENT_EVENTS_TABLE", "HEALTH_TABLE", "DELIVERY_QUEUE_URL",
        "DEAD_LETTER_QUEUE_URL", "SECRET_PREFIX", "STRIPE_SECRET_NAME")},
})
for name, value in {"POWERTOOLS_SERVICE_NAME": "zellify-tiktok", "POWERTOOLS_METRICS_NAMESPACE": "ZellifyTikTok",
                    "POWERTOOLS_LOG_LEVEL": "INFO", "POWERTOOLS_TRACE_DISABLED": "true"}.items():
    os.environ.setdefault(name, value)

from dataclasses import dataclass, field, replace  # noqa: E402

import collect_app  # noqa: E402
import zellify_tiktok.runtime as runtime_module  # noqa: E402
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response  # noqa: E402
from common import CAMPAIGN_ID, LambdaContext, beacon_apigw_event  # noqa: E402
from zellify_tiktok.campaign import CampaignSettings  # noqa: E402
from zellify_tiktok.config import get_config  # noqa: E402
from zellify_tiktok.events import EVENT_TABLE  # noqa: E402
from zellify_tiktok.records import SessionRecord  # noqa: E402
from zellify_tiktok.repositories import aws as aws_clients  # noqa: E402
from zellify_tiktok.runtime import Runtime  # noqa: E402
from zellify_tiktok.server_event import UserData  # noqa: E402
from zellify_tiktok.tiktok import TikTokClient  # noqa: E402

PIXEL_ID = "CDEMO00000000000PIXEL"
TOKEN = "dev-tiktok-token"
# Rounds in which the handler and its reference take turns.
ROUNDS = 10
OK_ANSWER = json.dumps({"code": 0, "message": "OK", "request_id": "bench"}).encode()


# In-memory repositories: the methods the collect service and the delivery core call, nothing more.

class FakeCampaigns:
    def __init__(self, campaign: CampaignSettings):
        self.campaign = campaign

    def get(self, campaign_id: str, *, fresh: bool = False) -> CampaignSettings | None:
        return self.campaign if campaign_id == self.campaign.campaign_id else None

    def record_delivery(self, campaign_id: str, delivery) -> None:
        self.campaign = replace(self.campaign, last_delivery=delivery)

    def record_beacon(self, campaign_id: str, at) -> None:
        self.campaign = replace(self.campaign, last_beacon_at=at)


class FakeSecrets:
    def get_token(self, campaign_id: str) -> str | None:
        return TOKEN


class FakeSessions:
    """SessionsRepository.upsert's merge, in memory: the update's match keys win, the known ones stay; consent
    and the last checkout change only when the update says something; a withdrawn session stays withdrawn."""

    def __init__(self):
        self.records: dict[tuple[str, str], SessionRecord] = {}

    def upsert(self, campaign_id: str, session_id: str, update: SessionRecord, now_s: int) -> SessionRecord:
        known = self.records.get((campaign_id, session_id))
        if known is not None:
            if known.consent is False and update.consent is None:
                return SessionRecord(user=UserData(), consent=False)
            new, old = update.user, known.user
            user = new if new == old else UserData(
                external_id=new.external_id or old.external_id, email=new.email or old.email,
                phone=new.phone or old.phone, ttp=new.ttp or old.ttp, ttclid=new.ttclid or old.ttclid,
                ip=new.ip or old.ip, user_agent=new.user_agent or old.user_agent)
            update = SessionRecord(user=user, consent=known.consent if update.consent is None else update.consent,
                                   last_checkout=update.last_checkout or known.last_checkout)
        self.records[(campaign_id, session_id)] = update
        return update


class FakeLedger:
    """Remembers every key recorded: a repeated id would be found (the bench never repeats one)."""

    def __init__(self):
        self.keys: set[str] = set()

    def already_sent(self, keys: list[str], remaining=None) -> set[str]:
        return {k for k in keys if k in self.keys}

    def record(self, sent, extra, now_s: int, remaining=None) -> set[str]:
        written = {record.key for record in (*sent, *extra)}
        self.keys.update(written)
        return written


class FakeHealth:
    def add(self, deltas, *, max_calls: int | None = None) -> int:
        return len(deltas)


class FakeQueue:
    def __init__(self):
        self.messages: list = []
        self.bodies: list[str] = []

    def send(self, messages: list, *, delay_s: int = 0) -> None:
        self.messages.extend(messages)

    def send_body(self, body: str) -> None:
        self.bodies.append(body)

    def events(self) -> int:
        return sum(len(message.events) for message in self.messages) + sum(
            len(json.loads(body)["events"]) for body in self.bodies)


@dataclass(frozen=True)
class FakeResponse:
    status: int
    data: bytes


OK_RESPONSE = FakeResponse(200, OK_ANSWER)


@dataclass
class OkTikTok:
    """TikTok's HTTP endpoint answering OK without parsing the body (a real socket only writes the bytes).
    It keeps each request body, to check afterwards that every event went out."""

    bodies: list[bytes] = field(default_factory=list)

    def request(self, method, url, body=None, headers=None, timeout=None, retries=None):
        self.bodies.append(body)
        return OK_RESPONSE

    @property
    def events(self) -> list[dict]:
        return [e for body in self.bodies for e in json.loads(body)["data"]]


def make_runtime(transport: OkTikTok) -> Runtime:
    config = get_config()
    campaign = CampaignSettings(campaign_id=CAMPAIGN_ID, pixel_id=PIXEL_ID, enabled=True, has_token=True,
                        access_token_last4=TOKEN[-4:], allowed_origins=None)
    return Runtime(
        config=config, campaigns=FakeCampaigns(campaign), secrets=FakeSecrets(), sessions=FakeSessions(),
        ledger=FakeLedger(), health=FakeHealth(), delivery_queue=FakeQueue(), dead_letter_queue=FakeQueue(),
        tiktok=TikTokClient(config.tiktok_api_base, connect_timeout=config.tiktok_connect_timeout_s,
                            total_timeout=config.tiktok_total_timeout_s, http=transport),
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


def run_handler(events: list[dict], transport: OkTikTok, queue: FakeQueue, size: int) -> tuple[list[float], Counter]:
    """The collector's answers; each beacon's events must be queued (the DeliveryFunction sends them), none sent
    to TikTok on the request path."""
    times = []
    problems: Counter = Counter(non_202=0, rejected=0, not_sent=0, tiktok_calls=0)
    for event in events:
        transport.bodies.clear()
        queue.messages.clear()
        queue.bodies.clear()
        context = LambdaContext()
        started = time.perf_counter()
        response = collect_app.lambda_handler(event, context)
        times.append(time.perf_counter() - started)
        body = json.loads(response["body"]) if response.get("body") else {}
        if response["statusCode"] != 202:
            problems["non_202"] += 1
        problems["rejected"] += len(body.get("rejected") or [])
        problems["tiktok_calls"] += len(transport.bodies)
        if queue.events() != size:
            problems["not_sent"] += 1
    return times, problems


def side_by_side(size: int, iterations: int, ours, reference) -> tuple[list[float], list[float], Counter]:
    """Ours and its reference in alternating rounds, fresh events each: a burst of load on this shared
    machine then slows both rather than one, and the ratio of their medians stays put."""
    ours_times: list[float] = []
    reference_times: list[float] = []
    problems: Counter = Counter()
    per_round = max(1, iterations // ROUNDS)
    for _ in range(ROUNDS):
        events = [beacon_apigw_event(size) for _ in range(per_round)]
        gc.collect()
        times, found = ours(events)
        ours_times += times
        problems.update(found)
        events = [beacon_apigw_event(size) for _ in range(per_round)]
        gc.collect()
        reference_times += reference(events)
    return ours_times, reference_times, problems


def baseline_app() -> APIGatewayHttpResolver:
    """The least a Powertools collector does: route the beacon, parse its body, answer 202."""
    app = APIGatewayHttpResolver()

    @app.post("/v1/events")
    def post_events():
        body = json.loads(app.current_event.body or "{}")
        return Response(202, "application/json", json.dumps({"accepted": [e["event_id"] for e in body["events"]],
                                                            "rejected": []}))

    return app


def run_baseline(events: list[dict]) -> list[float]:
    app = baseline_app()
    times = []
    for event in events:
        context = LambdaContext()
        started = time.perf_counter()
        response = app.resolve(event, context)
        times.append(time.perf_counter() - started)
        assert response["statusCode"] == 202
    return times


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
    runtime_module.get_runtime = collect_app.get_runtime = lambda: runtime
    for _ in range(20):
        run_baseline([beacon_apigw_event(1)])

    # Warm: imports done, first-request caches filled, the code paths run once.
    for size in (1, 50):
        for _ in range(20):
            collect_app.lambda_handler(beacon_apigw_event(size), LambdaContext())

    result: dict = {}
    queue = runtime.delivery_queue
    for size, iterations, reference in ((1, args.iterations_1, run_baseline), (50, args.iterations_50, run_floor)):
        times, reference_times, problems = side_by_side(
            size, iterations, lambda events, size=size: run_handler(events, transport, queue, size), reference)
        result[f"warm_us_per_event_{size}"] = median(times) / size * 1e6
        result[f"warm_us_per_beacon_{size}"] = median(times) * 1e6
        calls = problems.pop("tiktok_calls")
        result[f"checks_{size}"] = {**problems, "tiktok_calls_per_beacon": calls / len(times)}
        if size == 1:
            result["baseline_us_per_beacon_1"] = median(reference_times) * 1e6
        else:
            result["floor_us_per_event"] = median(reference_times) / size * 1e6
            result["floor_us_per_beacon"] = median(reference_times) * 1e6
    if args.profile:
        profile_events = [beacon_apigw_event(50) for _ in range(min(args.iterations_50, 300))]
        profiler = cProfile.Profile()
        profiler.enable()
        run_handler(profile_events, transport, runtime.delivery_queue, 50)
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
