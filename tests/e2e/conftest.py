"""The local stack as `make dev` runs it: `python -m local` in a subprocess, on a free port.

The `stack` fixture is shared by the whole session; `launch_stack` starts another one for tests
that stop it themselves. Tests share its TikTok stand-in, fault queue and retry poller: `tiktok`
gives a test them to itself (nothing left in the RetryQueue, no request or fault recorded).
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import requests

from local.shutdown import stop_process

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 60
STOP_TIMEOUT_S = 10
# A leftover retry of an earlier test waits out its backoff (seconds locally) before it is delivered.
RETRY_DRAIN_TIMEOUT_S = 120
# The user's own settings must not leak in: the tests expect the stack's defaults.
_SCRUBBED = ("TIKTOK_API_BASE", "TIKTOK_PIXEL_SDK_URL", "DEV_ADMIN_TOKEN", "STRIPE_WEBHOOK_SECRET", "PORT",
             "PADDLE_WEBHOOK_SECRET", "PADDLE_TEST_WEBHOOK_SECRET", "SOLIDGATE_WEBHOOK_KEYS")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalStackProcess:
    admin_token = "dev-admin-token"
    stripe_signing_secret = "whsec_dev"

    def __init__(self, log_path: Path):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = {name: value for name, value in os.environ.items() if name not in _SCRUBBED}
        env.update({"PORT": str(self.port), "PYTHONUNBUFFERED": "1"})
        with log_path.open("wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "local"], cwd=ROOT, env=env, stdout=log,
                                            stderr=subprocess.STDOUT)
        self.health = self._wait_healthy()
        self.aws_endpoint_url = self.get("/_dev/aws").json()["endpoint_url"]

    def _wait_healthy(self) -> dict:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"python -m local exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                answer = requests.get(f"{self.base_url}/healthz", timeout=2)
                if answer.status_code == 200:
                    return answer.json()
                failed = answer.json().get("function_errors") if answer.status_code == 503 else None
                if failed:
                    # A Handler or CodeUri that does not import: Lambda's ImportModuleError, no use waiting.
                    self.process.kill()
                    pytest.fail(f"functions of template.yaml did not load: {failed}\n{self.log_tail()}")
                last = f"{answer.status_code} {answer.text}"
            except requests.RequestException as exc:  # refused, or too slow while starting
                last = repr(exc)
            time.sleep(0.25)
        self.process.kill()
        pytest.fail(f"/healthz not 200 within {STARTUP_TIMEOUT_S} s (last: {last}):\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def interrupt(self) -> int | None:
        """Ctrl-C, as a developer stops `make dev`; the exit code, or None when it did not stop in time."""
        return stop_process(self.process, signal.SIGINT, STOP_TIMEOUT_S)

    # HTTP helpers

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url(path), timeout=30, **kwargs)

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, self.url(path), timeout=30, **kwargs)

    def admin(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.admin_token}", **kwargs.pop("headers", {})}
        return self.request(method, path, headers=headers, **kwargs)

    def function_loaded(self, name: str) -> bool:
        return self.get("/healthz").json()["functions"].get(name) == "loaded"

    def tiktok_requests(self) -> list[dict]:
        return self.get("/_dev/tiktok/requests").json()

    def clear_tiktok(self) -> None:
        self.request("DELETE", "/_dev/tiktok/requests").raise_for_status()

    def add_fault(self, *faults: dict) -> list[dict]:
        answer = self.request("POST", "/_dev/tiktok/faults", json=list(faults))
        answer.raise_for_status()
        return answer.json()

    def faults(self) -> list[dict]:
        return self.get("/_dev/tiktok/faults").json()

    def clear_faults(self) -> None:
        self.request("DELETE", "/_dev/tiktok/faults").raise_for_status()

    def mark_token(self, token: str, state: str = "revoked") -> list[dict]:
        answer = self.request("POST", "/_dev/tiktok/tokens", json={"token": token, "state": state})
        answer.raise_for_status()
        return answer.json()["tokens"]

    def clear_token_marks(self) -> None:
        self.request("DELETE", "/_dev/tiktok/tokens").raise_for_status()

    def pixel_requests(self) -> list[dict]:
        return self.get("/_dev/pixel/requests").json()

    def clear_pixel(self) -> None:
        self.request("DELETE", "/_dev/pixel/requests").raise_for_status()

    def state(self) -> dict:
        return self.get("/_dev/state").json()

    def aws(self, service: str):
        return boto3.client(service, endpoint_url=self.aws_endpoint_url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def retry_queue_depth(self) -> int:
        """Messages in the RetryQueue: waiting, in a backoff, or being handled by the RetryFunction."""
        sqs = self.aws("sqs")
        url = sqs.get_queue_url(QueueName="RetryQueue")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed"])["Attributes"]
        return sum(int(value) for value in attributes.values())

    def wait_for_empty_retry_queue(self) -> None:
        deadline = time.monotonic() + RETRY_DRAIN_TIMEOUT_S
        while (depth := self.retry_queue_depth()) and time.monotonic() < deadline:
            time.sleep(0.25)
        if depth:
            pytest.fail(f"the RetryQueue still holds {depth} message(s) after {RETRY_DRAIN_TIMEOUT_S} s")


@pytest.fixture(scope="session")
def launch_stack(tmp_path_factory):
    """Start stacks (each its own process and port); any still running at the end are interrupted."""
    launched: list[LocalStackProcess] = []

    def launch() -> LocalStackProcess:
        stack = LocalStackProcess(tmp_path_factory.mktemp("local-stack") / "stack.log")
        launched.append(stack)
        return stack

    yield launch
    for stack in launched:
        if stack.process.poll() is None:
            code = stack.interrupt()
            assert code == 0, f"python -m local ended with {code} on SIGINT:\n{stack.log_tail()}"


@pytest.fixture(scope="session")
def stack(launch_stack) -> LocalStackProcess:
    return launch_stack()


@pytest.fixture
def tiktok(stack):
    """The TikTok stand-in to this test alone: no retry of an earlier test still to come (it would
    take this test's faults or add its records), no request, fault or token mark recorded. Emptied after
    it too."""
    stack.clear_faults()
    stack.clear_token_marks()
    stack.wait_for_empty_retry_queue()
    stack.clear_tiktok()
    yield stack
    stack.clear_token_marks()
    stack.clear_faults()
    stack.clear_tiktok()
