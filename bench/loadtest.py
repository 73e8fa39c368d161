"""`make loadtest`: a bounded load test of the local stack that proves nothing accepted is lost.

    .venv/bin/python bench/loadtest.py                      # 20,000 beacons, concurrency 16, own stack
    .venv/bin/python bench/loadtest.py --beacons 300 --concurrency 8 --base-url http://127.0.0.1:3000

1. Starts `python -m local` on a free port (unless --base-url names a running stack) and configures a
   few campaigns of its own (fresh ids, pixels and tokens per run), each with an Events API token.
2. Posts N beacons of 1-5 valid events each, every event_id unique, as `tracker.js` would
   (text/plain), from --concurrency threads. Half way through, a fault burst is queued at the TikTok
   stand-in (503s, 40100s, TikTok's system errors 50000 and 50002, maintenance 60001, answers delayed past
   the functions' 3 s budget): every one of them is transient, so nothing may end dead-lettered.
3. Waits, bounded by --drain-timeout, until the fault queue is spent and the DeliveryQueue is empty
   (the local DeliveryFunction poller redelivers what failed, each message after its backoff).
4. Proves, from the stand-in's record of what it received and answered (`GET /_dev/tiktok/requests`),
   that every accepted event (pixel + TikTok event name + event_id) was answered code 0 at least
   once, and that an event was answered code 0 more than once only where a delayed answer (a
   timeout: the sender could not know TikTok had it) made that expected. Delayed answers carry the
   marker message DELAY_MARKER, so they are told apart exactly.
5. Reads each campaign's health (GET /v1/campaigns/{id}/tiktok/health, docs/design.md §9) and compares
   it, per TikTok event name, with what the stand-in received: `sent` with the events it answered code 0
   (each counted once), `duplicates` with the repeats this run sent (none), `queued` and `dead_lettered`
   with the campaign's events in the DeliveryQueue and the DeadLetterQueue. The figures trail the ledger's
   stream, so they are read again until they agree, for at most HEALTH_SETTLE_S.

Prints throughput, statuses, latency percentiles, the delivery and the health figures; exits 1 when an
event was lost, repeated without a timeout or dead-lettered, a beacon was not answered 202, or the health
figures differ from what the stand-in received. Every wait is bounded: --max-seconds caps the sending
phase (the rest of the beacons are then not sent, and said so).
"""

import argparse
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import requests
from zellify_tiktok.events import EVENT_TABLE

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from local.shutdown import stop_process  # noqa: E402

DELAY_MARKER = "loadtest: answer delayed past the sender's time budget"
# Every answer of the burst is transient (docs/design.md §7): queued, retried, never dead-lettered.
DEFAULT_BURST = [{"http_status": 503, "times": 50}, {"code": 40100, "times": 50}, {"code": 50000, "times": 20},
                 {"code": 50002, "times": 20}, {"code": 60001, "times": 20}, {"delay_ms": 4000, "times": 5}]
STARTUP_TIMEOUT_S = 90
REQUEST_TIMEOUT_S = 30
POLL_S = 0.5
# The health figures trail the ledger's stream (the local stack polls it every second; §9 allows 60 s).
HEALTH_SETTLE_S = 60.0
HOUR_S = 3600
OUTCOMES = ("sent", "duplicates", "queued", "dead_lettered")
KINDS = ("page_view", "page_completed", "lead", "email_captured", "checkout_presented", "payment_method_added")


@dataclass
class Options:
    beacons: int = 20_000
    concurrency: int = 16
    campaigns: int = 3
    base_url: str | None = None
    admin_token: str = os.environ.get("DEV_ADMIN_TOKEN") or "dev-admin-token"
    burst: list[dict] = field(default_factory=lambda: [dict(f) for f in DEFAULT_BURST])
    max_seconds: float = 1500.0
    # The burst's 165 failed calls are minutes of outage when TikTok gets batches, and a message that failed
    # k times waits 30 s × 2^(k-1) for its next try: the queue drains up to about the outage's length after it.
    drain_timeout: float = 600.0
    seed: int | None = None
    json_path: str | None = None
    quiet: bool = False


@dataclass
class Report:
    beacons_planned: int = 0
    beacons_sent: int = 0
    send_seconds: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    events_sent: int = 0
    events_accepted: int = 0
    events_rejected: int = 0
    events_delivered: int = 0
    lost: list[str] = field(default_factory=list)
    repeated: int = 0
    repeated_after_timeout: int = 0
    repeated_unexplained: list[str] = field(default_factory=list)
    tiktok_calls: int = 0
    tiktok_answers: Counter = field(default_factory=Counter)
    burst_at_beacon: int | None = None
    drain_seconds: float = 0.0
    drained: bool = False
    capped: bool = False
    dead_lettered: int = 0
    # This run's campaigns only: events parked in the DeadLetterQueue (must be 0).
    dead_lettered_events: int = 0
    # campaign → TikTok event name → outcome → {"health": n, "stand_in": n}
    health: dict = field(default_factory=dict)
    health_hours: int = 0
    health_settle_seconds: float = 0.0
    health_mismatches: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status != 202)

    @property
    def ok(self) -> bool:
        return (not self.lost and not self.repeated_unexplained and not self.errors and not self.dead_lettered_events
                and not self.health_mismatches)

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]

    def to_dict(self) -> dict:
        return {
            "beacons_planned": self.beacons_planned, "beacons_sent": self.beacons_sent, "capped": self.capped,
            "send_seconds": round(self.send_seconds, 2),
            "beacons_per_s": round(self.beacons_sent / self.send_seconds, 1) if self.send_seconds else 0,
            "events_per_s": round(self.events_sent / self.send_seconds, 1) if self.send_seconds else 0,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items(), key=str)},
            "latency_ms": {f"p{p}": round(self.percentile(p), 1) for p in (50, 90, 99)}
            | {"max": round(max(self.latencies_ms, default=0), 1)},
            "events": {"sent": self.events_sent, "accepted": self.events_accepted, "rejected": self.events_rejected,
                       "delivered": self.events_delivered, "lost": len(self.lost), "repeated": self.repeated,
                       "repeated_after_timeout": self.repeated_after_timeout,
                       "repeated_unexplained": len(self.repeated_unexplained)},
            "tiktok": {"calls": self.tiktok_calls, "answers": dict(self.tiktok_answers),
                       "dead_lettered_messages": self.dead_lettered, "dead_lettered_events": self.dead_lettered_events},
            "health": {"hours": self.health_hours, "settle_seconds": round(self.health_settle_seconds, 1),
                       "campaigns": self.health, "mismatches": self.health_mismatches},
            "fault_burst_at_beacon": self.burst_at_beacon,
            "drain": {"seconds": round(self.drain_seconds, 1), "drained": self.drained},
            "ok": self.ok,
        }


def log(options: Options, message: str) -> None:
    if not options.quiet:
        print(message, flush=True)


# The stack


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class OwnStack:
    """`python -m local` in a subprocess, its output in a temporary file (read on failure)."""

    def __init__(self):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="loadtest-stack-", suffix=".log", delete=False)  # noqa: SIM115
        env = {k: v for k, v in os.environ.items() if k not in ("TIKTOK_API_BASE", "TIKTOK_PIXEL_SDK_URL", "PORT")}
        env.update(PORT=str(self.port), PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen([sys.executable, "-m", "local"], cwd=ROOT, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT)

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"python -m local exited with {self.process.returncode}: see {self.log.name}")
            try:
                if requests.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"the local stack was not healthy within {STARTUP_TIMEOUT_S} s: see {self.log.name}")

    def stop(self, *, keep_log: bool = False) -> None:
        """Stop the stack; its log is kept (and its path printed) when the run needs explaining."""
        stop_process(self.process, signal.SIGINT)
        self.log.close()
        if keep_log:
            print(f"  the local stack's log: {self.log.name}", file=sys.stderr)
        else:
            Path(self.log.name).unlink(missing_ok=True)


class Stack:
    """The HTTP side of a running local stack, and its DeliveryQueue through moto."""

    def __init__(self, base_url: str, admin_token: str):
        self.base_url = base_url.rstrip("/")
        self.admin_token = admin_token
        endpoint = self.get("/_dev/aws").json()["endpoint_url"]
        self.sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1",
                                aws_access_key_id="testing", aws_secret_access_key="testing")
        urls = self.sqs.list_queues().get("QueueUrls", [])
        self.delivery_queue = next(u for u in urls if u.rsplit("/", 1)[-1] == "DeliveryQueue")
        self.dead_letter_queue = next((u for u in urls if u.rsplit("/", 1)[-1] == "DeadLetterQueue"), None)

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(f"{self.base_url}{path}", timeout=REQUEST_TIMEOUT_S * 4, **kwargs)

    def admin(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, f"{self.base_url}{path}", timeout=REQUEST_TIMEOUT_S,
                                headers={"Authorization": f"Bearer {self.admin_token}"}, **kwargs)

    def add_faults(self, faults: list[dict]) -> None:
        requests.post(f"{self.base_url}/_dev/tiktok/faults", json=faults, timeout=REQUEST_TIMEOUT_S).raise_for_status()

    def faults(self) -> list:
        return self.get("/_dev/tiktok/faults").json()

    def clear_faults(self) -> None:
        requests.delete(f"{self.base_url}/_dev/tiktok/faults", timeout=REQUEST_TIMEOUT_S).raise_for_status()

    def queue_depth(self, url: str | None) -> int:
        if url is None:
            return 0
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return sum(int(attributes.get(name, 0)) for name in names)

    def tiktok_requests(self) -> list[dict]:
        return self.get("/_dev/tiktok/requests").json()

    def parked(self) -> dict[str, list]:
        """The message bodies waiting in the DeliveryQueue ("queued") and the DeadLetterQueue ("dead_lettered"),
        peeked by the local stack without receiving them."""
        state = self.get("/_dev/state").json()
        return {"queued": state.get("queued") or [], "dead_lettered": state.get("dead_lettered") or []}

    def health(self, campaign_id: str, hours: int) -> dict:
        answer = self.admin("GET", f"/v1/campaigns/{campaign_id}/tiktok/health", params={"hours": hours})
        answer.raise_for_status()
        return answer.json()


# The run


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    pixel_id: str
    token: str


def make_campaigns(stack: Stack, count: int, run: str) -> list[Campaign]:
    campaigns = []
    for i in range(count):
        campaign = Campaign(f"lt-{run}-{i}", f"CLT{run.upper()}{i:02d}PIXEL", f"tt-loadtest-{run}-{i}-token")
        answer = stack.admin("PUT", f"/v1/campaigns/{campaign.campaign_id}/tiktok", json={
            "pixel_id": campaign.pixel_id, "access_token": campaign.token, "enabled": True,
            "allowed_origins": None})
        answer.raise_for_status()
        campaigns.append(campaign)
    return campaigns


def beacon(index: int, campaigns: list[Campaign], run: str, rng: random.Random) -> tuple[Campaign, dict]:
    campaign = campaigns[index % len(campaigns)]
    now_ms = int(time.time() * 1000)
    events = []
    for j in range(rng.randint(1, 5)):
        kind = rng.choice(KINDS)
        event = {"event": kind, "event_id": f"lt-{run}-{index}-{j}", "time": now_ms,
                 "page": {"url": f"https://funnel.example.com/{campaign.campaign_id}/step/{j}"}}
        if kind == "page_completed":
            event["step"] = {"index": j, "id": f"step-{j}"}
        elif kind == "email_captured":
            event["email"] = f"visitor{index}@example.com"
        elif kind in ("checkout_presented", "payment_method_added"):
            event.update(value=19.99, currency="USD",
                         contents=[{"content_id": "plan_pro", "content_name": "Pro", "quantity": 1, "price": 19.99}])
        events.append(event)
    # Four beacons per visitor, as a funnel sends them.
    body = {"campaign_id": campaign.campaign_id, "session_id": f"lt-{run}-visitor-{index // 4}",
            "ttp": f"ttp-{run}-{index // 4}", "consent": True, "events": events}
    return campaign, body


def send_all(options: Options, stack: Stack, campaigns: list[Campaign], run: str, report: Report,
             expected: dict[str, tuple[str, str]]) -> None:
    """Post the beacons from --concurrency threads; the burst goes in when half are answered."""
    rng = random.Random(options.seed)
    plans = [beacon(i, campaigns, run, rng) for i in range(options.beacons)]
    counter = itertools.count()
    lock = threading.Lock()
    answered = [0]
    deadline = time.monotonic() + options.max_seconds
    local = threading.local()

    def worker() -> None:
        local.session = requests.Session()
        while True:
            index = next(counter)
            if index >= len(plans):
                return
            if time.monotonic() > deadline:
                with lock:
                    report.capped = True
                return
            campaign, body = plans[index]
            started = time.perf_counter()
            try:
                answer = local.session.post(f"{stack.base_url}/v1/events", data=json.dumps(body),
                                            headers={"Content-Type": "text/plain",
                                                     "User-Agent": "zellify-loadtest/1"},
                                            timeout=REQUEST_TIMEOUT_S)
                status: int | str = answer.status_code
            except requests.RequestException as exc:
                answer, status = None, type(exc).__name__
            elapsed_ms = (time.perf_counter() - started) * 1000
            accepted = answer.json().get("accepted", []) if status == 202 else []
            with lock:
                report.beacons_sent += 1
                report.events_sent += len(body["events"])
                report.statuses[status] += 1
                report.latencies_ms.append(elapsed_ms)
                if status == 202:
                    names = {e["event_id"]: e["event"] for e in body["events"]}
                    for event_id in accepted:
                        expected[event_id] = (campaign.pixel_id, EVENT_TABLE[names[event_id]].tiktok)
                    report.events_rejected += len(answer.json().get("rejected", []))
                answered[0] += 1
                burst_now = report.burst_at_beacon is None and options.burst and answered[0] >= len(plans) // 2
                if burst_now:
                    report.burst_at_beacon = answered[0]
            if burst_now:
                stack.add_faults(mark_delays(options.burst))
                log(options, f"  fault burst queued after {report.burst_at_beacon} beacons: "
                             f"{json.dumps(options.burst)}")

    started = time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(options.concurrency)]
    for thread in threads:
        thread.start()
    progress_at = started
    while any(t.is_alive() for t in threads):
        for thread in threads:
            thread.join(timeout=1)
        if time.monotonic() - progress_at >= 30:
            progress_at = time.monotonic()
            log(options, f"  {report.beacons_sent}/{options.beacons} beacons, {time.monotonic() - started:.0f} s")
    report.send_seconds = time.monotonic() - started
    report.beacons_planned = options.beacons


def mark_delays(burst: list[dict]) -> list[dict]:
    """Delays answer code 0 with the marker once they end: the stand-in did take those events."""
    return [{**fault, "code": 0, "message": DELAY_MARKER} if "delay_ms" in fault and "code" not in fault
            and "http_status" not in fault else dict(fault) for fault in burst]


def drain(options: Options, stack: Stack, report: Report) -> None:
    """Bounded: until no fault is pending and the DeliveryQueue stays empty (twice in a row)."""
    started = time.monotonic()
    deadline = started + options.drain_timeout
    empty_in_a_row = 0
    while time.monotonic() < deadline:
        depth = stack.queue_depth(stack.delivery_queue)
        faults = stack.faults()
        empty_in_a_row = empty_in_a_row + 1 if depth == 0 and not faults else 0
        if empty_in_a_row >= 2:
            report.drained = True
            break
        time.sleep(POLL_S)
    report.drain_seconds = time.monotonic() - started
    if stack.faults():
        stack.clear_faults()  # our leftovers must not hit whoever uses the stack next


def verify(options: Options, stack: Stack, campaigns: list[Campaign], report: Report,
           expected: dict[str, tuple[str, str]]) -> Counter:
    """Lost and repeated events from the stand-in's record; what it answered code 0, per event."""
    pixels = {c.pixel_id for c in campaigns}
    deadline = time.monotonic() + 15
    while True:  # answers still being delayed are written when the delay ends (bounded)
        records = [r for r in stack.tiktok_requests()
                   if isinstance(r.get("body"), dict) and r["body"].get("event_source_id") in pixels]
        if all(r.get("response") is not None for r in records) or time.monotonic() > deadline:
            break
        time.sleep(POLL_S)
    answered_ok: Counter = Counter()
    after_delay: set[tuple] = set()
    for record in records:
        response = record.get("response") or {}
        code = response.get("code")
        report.tiktok_calls += 1
        report.tiktok_answers[str(code if code is not None else f"HTTP {response.get('http_status')}")] += 1
        for event in record["body"].get("data", []):
            key = (record["body"]["event_source_id"], event.get("event"), event.get("event_id"))
            if code == 0:
                answered_ok[key] += 1
                if response.get("message") == DELAY_MARKER:
                    after_delay.add(key)
    report.events_accepted = len(expected)
    wanted = {(pixel, name, event_id) for event_id, (pixel, name) in expected.items()}
    report.lost = sorted(f"{p} {n} {e}" for p, n, e in wanted if answered_ok[(p, n, e)] == 0)
    report.events_delivered = len(wanted) - len(report.lost)
    repeated = {key for key, count in answered_ok.items() if count > 1}
    report.repeated = len(repeated)
    report.repeated_after_timeout = len(repeated & after_delay)
    report.repeated_unexplained = sorted(" ".join(map(str, key)) for key in repeated - after_delay)
    report.dead_lettered = stack.queue_depth(stack.dead_letter_queue)
    return answered_ok


def stand_in_figures(campaigns: list[Campaign], answered_ok: Counter, parked: dict[str, list]) -> dict:
    """What the health figures must say, per campaign and TikTok event name: the events the stand-in
    answered code 0 (each once, whatever the repeats), none repeated by this run, and the campaign's
    events still in the DeliveryQueue and the DeadLetterQueue."""
    by_pixel = {c.pixel_id: c.campaign_id for c in campaigns}
    figures: dict[str, dict[str, dict[str, int]]] = {c.campaign_id: {} for c in campaigns}

    def row(campaign_id: str, name: str) -> dict[str, int]:
        return figures[campaign_id].setdefault(name, dict.fromkeys(OUTCOMES, 0))

    for pixel, name, _ in answered_ok:
        if pixel in by_pixel:
            row(by_pixel[pixel], name)["sent"] += 1
    for outcome, messages in parked.items():
        for message in messages:
            if isinstance(message, dict) and message.get("campaign_id") in figures:
                for event in message.get("events") or []:
                    row(message["campaign_id"], event.get("name"))[outcome] += 1
    return figures


def health_hours(started_at: float, now: float) -> int:
    """The health window that covers the run: its hours from the one it started in to the current one."""
    return min(168, (int(now) // HOUR_S - int(started_at) // HOUR_S) + 1)


def compare_health(stack: Stack, campaigns: list[Campaign], report: Report, answered_ok: Counter,
                   started_at: float) -> None:
    """Read each campaign's health until it equals what the stand-in received (bounded); record both."""
    started = time.monotonic()
    deadline = started + HEALTH_SETTLE_S
    while True:
        parked = stack.parked()
        report.dead_lettered_events = sum(len(m.get("events") or []) for m in parked["dead_lettered"]
                                          if isinstance(m, dict) and m.get("campaign_id") in
                                          {c.campaign_id for c in campaigns})
        wanted = stand_in_figures(campaigns, answered_ok, parked)
        report.health_hours = health_hours(started_at, time.time())
        shown = {c.campaign_id: {row["event"]: {o: row[o] for o in OUTCOMES}
                                 for row in stack.health(c.campaign_id, report.health_hours)["events"]}
                 for c in campaigns}
        mismatches = [
            f"{campaign_id} {name} {outcome}: health {shown[campaign_id].get(name, {}).get(outcome, 0)}, "
            f"stand-in {wanted[campaign_id].get(name, {}).get(outcome, 0)}"
            for campaign_id in wanted
            for name in sorted(set(wanted[campaign_id]) | set(shown[campaign_id]))
            for outcome in OUTCOMES
            if shown[campaign_id].get(name, {}).get(outcome, 0) != wanted[campaign_id].get(name, {}).get(outcome, 0)
        ]
        if not mismatches or time.monotonic() > deadline:
            break
        time.sleep(POLL_S * 2)
    report.health_settle_seconds = time.monotonic() - started
    report.health_mismatches = mismatches
    report.health = {
        campaign_id: {name: {o: {"health": shown[campaign_id].get(name, {}).get(o, 0),
                                 "stand_in": wanted[campaign_id].get(name, {}).get(o, 0)} for o in OUTCOMES}
                      for name in sorted(set(wanted[campaign_id]) | set(shown[campaign_id]))}
        for campaign_id in wanted
    }


def print_report(report: Report, options: Options) -> None:
    data = report.to_dict()
    latency = data["latency_ms"]
    events = data["events"]
    lines = [
        "",
        "Load test (local stack)",
        f"  beacons            {report.beacons_sent} of {report.beacons_planned} sent"
        + ("  (time cap reached: the rest were not sent)" if report.capped else "")
        + f", concurrency {options.concurrency}, {options.campaigns} campaigns",
        f"  throughput         {data['beacons_per_s']} beacons/s, {data['events_per_s']} events/s"
        f" over {data['send_seconds']} s",
        f"  answers            {', '.join(f'{k}: {v}' for k, v in data['statuses'].items())}"
        f"  (errors: {report.errors})",
        f"  latency            p50 {latency['p50']} ms, p90 {latency['p90']} ms, p99 {latency['p99']} ms,"
        f" max {latency['max']} ms",
        f"  fault burst        after beacon {report.burst_at_beacon}: {json.dumps(options.burst)}",
        f"  DeliveryQueue      {'drained' if report.drained else 'NOT drained'} {data['drain']['seconds']} s"
        f" after the last beacon",
        f"  TikTok stand-in    {report.tiktok_calls} calls; answers: "
        + ", ".join(f"{k}: {v}" for k, v in sorted(report.tiktok_answers.items())),
        f"  events             sent {events['sent']}, accepted {events['accepted']},"
        f" rejected {events['rejected']}, delivered (code 0) {events['delivered']}, lost {events['lost']}",
        f"  repeats            {events['repeated']} answered code 0 twice or more:"
        f" {events['repeated_after_timeout']} after a timeout, {events['repeated_unexplained']} without one",
        f"  dead-letter queue  {report.dead_lettered} message(s) (whole stack),"
        f" {report.dead_lettered_events} event(s) of this run's campaigns",
        f"  health figures     ?hours={report.health_hours}, read {report.health_settle_seconds:.1f} s after the"
        f" check above; health / stand-in per campaign:",
        *health_lines(report),
    ]
    if report.lost:
        lines.append(f"  LOST (first 10)    {report.lost[:10]}")
    if report.repeated_unexplained:
        lines.append(f"  REPEATED without a timeout (first 10)  {report.repeated_unexplained[:10]}")
    if report.health_mismatches:
        lines.append(f"  HEALTH differs (first 10)  {report.health_mismatches[:10]}")
    lines.append(f"  result             {'OK: nothing lost, health figures equal' if report.ok else 'FAILED'}")
    print("\n".join(lines), flush=True)


def health_lines(report: Report) -> list[str]:
    lines = []
    for campaign_id, events in report.health.items():
        totals = {o: [sum(row[o][side] for row in events.values()) for side in ("health", "stand_in")]
                  for o in OUTCOMES}
        differing = {m.split()[1] for m in report.health_mismatches if m.startswith(f"{campaign_id} ")}
        verdict = (f"{len(differing)} of {len(events)} event names DIFFERENT" if differing
                   else f"all {len(events)} event names equal")
        figures = ", ".join(f"{o.replace('_', '-')} {a} / {b}" for o, (a, b) in totals.items())
        lines.append(f"    {campaign_id:18s} {figures}  ({verdict})")
    return lines


def run(options: Options) -> Report:
    report = Report()
    own = None
    finished = False
    base_url = options.base_url
    if base_url is None:
        own = OwnStack()
        log(options, f"starting the local stack on {own.base_url} ...")
        own.wait_healthy()
        base_url = own.base_url
    try:
        stack = Stack(base_url, options.admin_token)
        run_id = uuid.uuid4().hex[:8]
        started_at = time.time()
        campaigns = make_campaigns(stack, options.campaigns, run_id)
        log(options, f"run {run_id}: {options.beacons} beacons at concurrency {options.concurrency} to {base_url}")
        expected: dict[str, tuple[str, str]] = {}
        send_all(options, stack, campaigns, run_id, report, expected)
        log(options, f"  sent in {report.send_seconds:.1f} s; waiting for the DeliveryQueue to drain"
                     f" (at most {options.drain_timeout:.0f} s) ...")
        drain(options, stack, report)
        answered_ok = verify(options, stack, campaigns, report, expected)
        compare_health(stack, campaigns, report, answered_ok, started_at)
        for campaign in campaigns:
            stack.admin("DELETE", f"/v1/campaigns/{campaign.campaign_id}/tiktok")
        finished = True
    finally:
        if own is not None:
            own.stop(keep_log=not (finished and report.ok))
    return report


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = Options()
    parser.add_argument("--beacons", type=int, default=defaults.beacons)
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency)
    parser.add_argument("--campaigns", type=int, default=defaults.campaigns)
    parser.add_argument("--base-url", help="a running local stack (default: start one on a free port)")
    parser.add_argument("--admin-token", default=defaults.admin_token)
    parser.add_argument("--burst", type=json.loads, default=defaults.burst,
                        help="the faults queued half way, as JSON (docs/design.md §8); [] for none")
    parser.add_argument("--max-seconds", type=float, default=defaults.max_seconds,
                        help="cap on the sending phase (default %(default)s)")
    parser.add_argument("--drain-timeout", type=float, default=defaults.drain_timeout)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--json", dest="json_path", help="also write the report as JSON here")
    args = parser.parse_args(argv)
    if args.beacons < 1 or args.concurrency < 1 or args.campaigns < 1:
        parser.error("--beacons, --concurrency and --campaigns must be at least 1")
    return Options(beacons=args.beacons, concurrency=args.concurrency, campaigns=args.campaigns,
                   base_url=args.base_url, admin_token=args.admin_token, burst=args.burst,
                   max_seconds=args.max_seconds, drain_timeout=args.drain_timeout, seed=args.seed,
                   json_path=args.json_path)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    report = run(options)
    print_report(report, options)
    if options.json_path:
        Path(options.json_path).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
