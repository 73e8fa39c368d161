"""The CLI as a newcomer runs it against `make dev`: a separate process, the local stack's AWS and TikTok stand-in."""

import json
import os
import re
import subprocess
import sys
import time
import uuid

import pytest

pytestmark = pytest.mark.e2e

LOCAL_SECRET_PREFIX = "zellify-tiktok-local/campaigns/"
PIXEL = "C4E2ECLI0123456789AB"
TOKEN = "e2e-cli-token-0123456789-abcd"
# The local stack polls the ledger's stream every second; figures are asserted once they arrive.
HEALTH_TIMEOUT_S = 60


@pytest.fixture
def local_stack(stack):
    return stack


@pytest.fixture
def zellify_tiktok(local_stack):
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",  # moto's server takes any credentials
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SECRET_PREFIX": LOCAL_SECRET_PREFIX,
        "TIKTOK_API_BASE": f"{local_stack.base_url}/_dev/tiktok/open_api/v1.3",
    }
    # The queues are found by name, as they are for an operator who has not exported their URLs.
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "DELIVERY_QUEUE_URL", "DEAD_LETTER_QUEUE_URL",
                 "CAMPAIGNS_TABLE", "SESSIONS_TABLE", "SENT_EVENTS_TABLE", "HEALTH_TABLE", "AUDIT_TABLE"):
        env.pop(name, None)

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "zellify_tiktok.cli", "--endpoint-url", local_stack.aws_endpoint_url,
                   "--region", "us-east-1", *args]
        return subprocess.run(command, input=input, capture_output=True, text=True, env=env, timeout=60)

    return run


def test_configure_a_campaign_and_send_a_test_event_to_the_stand_in(zellify_tiktok, local_stack):
    campaign = f"cli-e2e-{uuid.uuid4().hex[:8]}"
    test_code = f"TEST{uuid.uuid4().hex[:6].upper()}"

    configured = zellify_tiktok("--json", "campaign", "set", campaign, "--pixel-id", PIXEL, "--token-from-stdin",
                                input=TOKEN + "\n")
    assert configured.returncode == 0, configured.stderr
    assert json.loads(configured.stdout)["access_token_last4"] == "abcd"
    try:
        sent = zellify_tiktok("--json", "send-test-event", "--campaign", campaign, "--test-event-code", test_code)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        report = json.loads(sent.stdout)
        assert report["code"] == 0

        received = [r for r in local_stack.tiktok_requests() if r["body"].get("test_event_code") == test_code]
        assert len(received) == 1
        assert received[0]["body"]["event_source_id"] == PIXEL
        assert received[0]["headers"].get("Access-Token") == TOKEN
        assert [e["event_id"] for e in received[0]["body"]["data"]] == [report["event_id"]]

        status = zellify_tiktok("--json", "status")
        assert status.returncode == 0, status.stderr
        assert set(json.loads(status.stdout)["queues"]) == {"DeliveryQueue", "DeadLetterQueue"}
    finally:
        zellify_tiktok("campaign", "delete", campaign, "--yes")


def test_a_permanent_error_is_dead_lettered_and_replay_delivers_it_once_fixed(zellify_tiktok, local_stack, tiktok):
    campaign = f"replay-e2e-{uuid.uuid4().hex[:8]}"
    configured = zellify_tiktok("campaign", "set", campaign, "--pixel-id", PIXEL, "--token-from-stdin",
                                input=TOKEN + "\n")
    assert configured.returncode == 0, configured.stderr
    try:
        event_id = f"replay-{uuid.uuid4().hex}"
        tiktok.add_fault({"code": 40105, "message": "Access token is invalid"})
        beacon = {"campaign_id": campaign, "session_id": "s-replay",
                  "events": [{"event": "page_view", "event_id": event_id}]}
        assert local_stack.request("POST", "/v1/events", json=beacon).status_code == 202
        parked = [m for m in local_stack.state()["dead_lettered"] if isinstance(m, dict)
                  and m.get("campaign_id") == campaign]
        assert parked and parked[0]["reason"]["code"] == 40105

        replayed = zellify_tiktok("--json", "replay", "--campaign", campaign)
        assert replayed.returncode == 0, replayed.stdout + replayed.stderr
        # Other tests' dead letters share the queue: replay leaves them where they are, "skipped".
        outcomes = json.loads(replayed.stdout)["outcomes"]
        assert {k: v for k, v in outcomes.items() if k != "skipped"} == {"replayed": 1}
        answers = [r["response"]["code"] for r in local_stack.tiktok_requests() if event_id in json.dumps(r["body"])]
        assert answers == [40105, 0]
        assert not [m for m in local_stack.state()["dead_lettered"] if isinstance(m, dict)
                    and m.get("campaign_id") == campaign]
    finally:
        zellify_tiktok("campaign", "delete", campaign, "--yes")


def test_health_shows_what_the_stand_in_received(zellify_tiktok, local_stack, tiktok):
    campaign = f"health-e2e-{uuid.uuid4().hex[:8]}"
    pixel = f"C4HE{uuid.uuid4().hex[:16].upper()}"
    configured = zellify_tiktok("campaign", "set", campaign, "--pixel-id", pixel, "--token-from-stdin",
                                input=TOKEN + "\n")
    assert configured.returncode == 0, configured.stderr
    try:
        events = [{"event": "page_view", "event_id": f"{campaign}-pv-{i}"} for i in range(3)]
        beacon = {"campaign_id": campaign, "session_id": f"s-{campaign}", "ttp": "ttp-e2e", "events": events}
        assert local_stack.request("POST", "/v1/events", json=beacon).status_code == 202
        assert local_stack.request("POST", "/v1/events", json={**beacon, "events": events[:1]}).status_code == 202
        received = [e for r in local_stack.tiktok_requests() if r["body"].get("event_source_id") == pixel
                    for e in r["body"]["data"] if r["response"]["code"] == 0]
        assert len(received) == 3

        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while True:
            shown = zellify_tiktok("--json", "health", campaign, "--hours", "2")
            assert shown.returncode == 0, shown.stderr
            health = json.loads(shown.stdout)
            if health["events"] and health["events"][0]["sent"] == len(received):
                break
            assert time.monotonic() < deadline, f"the health figures never showed 3 sent: {health}"
            time.sleep(0.5)
        assert health["events"] == [{"event": "PageView", "sent": 3, "duplicates": 1, "queued": 0,
                                     "dead_lettered": 0}]
        assert health["match_keys"]["coverage"]["ttp"] == 1.0
        route = local_stack.admin("GET", f"/v1/campaigns/{campaign}/tiktok/health?hours=2")
        assert route.status_code == 200 and route.json() == health

        table = zellify_tiktok("health", campaign, "--hours", "2")
        assert table.returncode == 0, table.stderr
        assert re.search(r"PageView\s+3\s+1\s+0\s+0\s+█+", table.stdout), table.stdout
        assert re.search(r"ttp\s+█+\s+100\.0 %", table.stdout), table.stdout

        unknown = zellify_tiktok("health", f"{campaign}-missing")
        assert unknown.returncode == 3, unknown.stderr
        assert zellify_tiktok("health", campaign, "--hours", "169").returncode == 2
    finally:
        zellify_tiktok("campaign", "delete", campaign, "--yes")


def test_replay_moves_an_event_from_dead_lettered_to_sent_in_health(zellify_tiktok, local_stack, tiktok):
    campaign = f"health-replay-{uuid.uuid4().hex[:8]}"
    pixel = f"C4HR{uuid.uuid4().hex[:16].upper()}"
    configured = zellify_tiktok("campaign", "set", campaign, "--pixel-id", pixel, "--token-from-stdin",
                                input=TOKEN + "\n")
    assert configured.returncode == 0, configured.stderr
    try:
        event_id = f"replay-{uuid.uuid4().hex}"
        tiktok.add_fault({"code": 40105, "event_ids": [event_id]})
        beacon = {"campaign_id": campaign, "session_id": "s-health-replay",
                  "events": [{"event": "page_view", "event_id": event_id}]}
        assert local_stack.request("POST", "/v1/events", json=beacon).status_code == 202

        def health_when(settled) -> dict:
            deadline = time.monotonic() + HEALTH_TIMEOUT_S
            while True:
                shown = zellify_tiktok("--json", "health", campaign, "--hours", "2")
                assert shown.returncode == 0, shown.stderr
                figures = json.loads(shown.stdout)
                if settled(figures["events"]):
                    return figures
                assert time.monotonic() < deadline, f"health never settled: {figures}"
                time.sleep(0.5)

        parked = health_when(lambda events: events and events[0]["dead_lettered"] == 1)
        assert parked["events"] == [{"event": "PageView", "sent": 0, "duplicates": 0, "queued": 0,
                                     "dead_lettered": 1}]

        replayed = zellify_tiktok("--json", "replay", "--campaign", campaign)
        assert replayed.returncode == 0, replayed.stdout + replayed.stderr
        # Other tests' dead letters, if any, are skipped (another campaign).
        assert json.loads(replayed.stdout)["outcomes"].get("replayed") == 1
        delivered = health_when(lambda events: events and events[0]["sent"] == 1)
        assert delivered["events"] == [{"event": "PageView", "sent": 1, "duplicates": 0, "queued": 0,
                                        "dead_lettered": 0}]
    finally:
        zellify_tiktok("campaign", "delete", campaign, "--yes")


ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT")


def bare_cli(port: int | str, *args: str, local_flag: bool = True, input: str | None = None,
             extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The CLI as a newcomer runs it: nothing in the environment but PATH, HOME and the stack's PORT."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "PORT": str(port),
           **(extra_env or {})}
    command = [sys.executable, "-m", "zellify_tiktok.cli", *(["--local"] if local_flag else []), *args]
    return subprocess.run(command, input=input, capture_output=True, text=True, env=env, timeout=60)


def test_with_only_path_and_home_the_cli_finds_the_running_stack_and_its_stored_test_code(local_stack, tiktok):
    campaign = f"bare-{uuid.uuid4().hex[:8]}"
    test_code = f"TEST{uuid.uuid4().hex[:6].upper()}"
    configured = bare_cli(local_stack.port, "campaign", "set", campaign, "--pixel-id", PIXEL,
                          "--test-event-code", test_code, "--token-from-stdin", input=TOKEN + "\n")
    assert configured.returncode == 0, configured.stderr
    try:
        # ZELLIFY_LOCAL=1 instead of --local; no --test-event-code: the campaign's active one is used.
        sent = bare_cli(local_stack.port, "send-test-event", "--campaign", campaign, local_flag=False,
                        extra_env={"ZELLIFY_LOCAL": "1"})
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert f"with test event code {test_code}" in sent.stdout and "TikTok answered: code 0" in sent.stdout
        [received] = [r for r in local_stack.tiktok_requests() if r["body"].get("event_source_id") == PIXEL]
        assert received["body"]["test_event_code"] == test_code
        assert received["headers"].get("Access-Token") == TOKEN

        listed = bare_cli(local_stack.port, "campaign", "list")
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert max(len(line) for line in lines) <= 80, listed.stdout  # rich's width without a terminal
        row = "\n".join(lines)
        assert campaign in row and PIXEL in row, listed.stdout  # nothing cut off
        assert f"{test_code} (23 h" in listed.stdout and "59 min left)" in listed.stdout, listed.stdout
        assert not ISO_TIME.search(listed.stdout), listed.stdout

        shown = bare_cli(local_stack.port, "campaign", "show", campaign)
        assert shown.returncode == 0 and "in 23 h" in shown.stdout and not ISO_TIME.search(shown.stdout), shown.stdout
        health = bare_cli(local_stack.port, "health", campaign, "--hours", "1")
        assert health.returncode == 0, health.stderr
        assert f"Health of {campaign}" in health.stdout and not ISO_TIME.search(health.stdout), health.stdout
        # The demo campaign with a delivered event: the health tables drawn in full, still within 80 columns.
        beacon = {"campaign_id": "demo", "session_id": f"s-{uuid.uuid4().hex}",
                  "events": [{"event": "email_captured", "event_id": f"ec-{uuid.uuid4()}", "email": "a@b.example"}]}
        assert local_stack.request("POST", "/v1/events", json=beacon).status_code == 202
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while not any(e["event"] == "CompleteRegistration" for e in local_stack.admin(
                "GET", "/v1/campaigns/demo/tiktok/health?hours=1").json()["events"]):
            assert time.monotonic() < deadline, "no health figures for demo"
            time.sleep(0.5)
        demo = bare_cli(local_stack.port, "health", "demo", "--hours", "1")
        assert demo.returncode == 0 and "CompleteRegistration" in demo.stdout, demo.stdout + demo.stderr
        assert max(len(line) for line in demo.stdout.splitlines()) <= 80, demo.stdout
    finally:
        bare_cli(local_stack.port, "campaign", "delete", campaign, "--yes")


def test_without_a_running_stack_local_says_to_start_make_dev(tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens once closed
    result = bare_cli(port, "campaign", "list")
    assert result.returncode == 4, result.stdout + result.stderr
    assert f"no local stack answers at http://127.0.0.1:{port}" in result.stderr and "make dev" in result.stderr
    assert "Traceback" not in result.stderr
