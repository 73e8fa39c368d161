"""Handlers under moto (in-process), with tables and queues built from template.yaml."""

import contextlib
import io
import json
import logging
import os
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from zellify_tiktok.config import Config, get_config
from zellify_tiktok.runtime import Runtime, get_runtime
from zellify_tiktok.tiktok import TikTokClient

from tests.integration.template_resources import create_resources
from tests.tiktok_fake import FakeTikTok

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"


@pytest.fixture(autouse=True)
def request_path_aws_config(monkeypatch):
    """The CLI sets AWS variables in this process (as it must for boto3) and configures its more patient
    clients (repositories/aws.py `configure`); after each test the environment and the functions' fail-fast
    configuration are back, and no client made with the CLI's is kept."""
    from zellify_tiktok.repositories import aws as aws_clients

    saved = dict(os.environ)
    monkeypatch.setattr(aws_clients, "_config", aws_clients._config)
    yield
    aws_clients.client.cache_clear()
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        env = create_resources(ROOT / "template.yaml")
        # Never TikTok's real endpoint from a test: anything not faked fails fast on a closed port.
        env["TIKTOK_API_BASE"] = "http://127.0.0.1:9/open_api/v1.3"
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_config.cache_clear()
        get_runtime.cache_clear()
        from zellify_tiktok.repositories import aws as aws_clients

        aws_clients.client.cache_clear()
        yield env
        get_config.cache_clear()
        get_runtime.cache_clear()
        aws_clients.client.cache_clear()


@pytest.fixture
def tiktok():
    return FakeTikTok()


@pytest.fixture
def runtime(aws, tiktok, monkeypatch):
    """The runtime the handlers use, with TikTok's HTTP answered by the in-memory fake."""
    rt = Runtime.from_config(Config.from_environ())
    rt.tiktok = TikTokClient("https://tiktok.test/open_api/v1.3", connect_timeout=1, total_timeout=3,
                             http=tiktok)
    get_runtime.cache_clear()
    # The handlers look the runtime up and pass it to their services; the services take it as given.
    for handler in ("collect_app", "delivery_app", "settings_app", "payment_app", "health_app"):
        monkeypatch.setattr(f"{handler}.get_runtime", lambda: rt)
    return rt


@pytest.fixture
def clock(runtime, tiktok, monkeypatch):
    """Virtual time (tests/integration/virtual_time.py) for the layer, the invocation's budget and TikTok's fake."""
    from tests.integration.virtual_time import VirtualClock, on_virtual_time  # it imports this module

    clock = VirtualClock()
    on_virtual_time(monkeypatch, clock)
    tiktok.clock = clock
    return clock


def load_event(name: str, **overrides) -> dict:
    event = json.loads((EVENTS / name).read_text())
    for key, value in overrides.items():
        event[key] = value
    return event


class LambdaContext:
    function_name = "test"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id = "req-1"

    @staticmethod
    def get_remaining_time_in_millis():
        return 10_000


@pytest.fixture
def context():
    return LambdaContext()


@pytest.fixture
def sqs_messages(aws):
    def read(env_name: str) -> list[dict]:
        sqs = boto3.client("sqs")
        out = []
        while True:
            got = sqs.receive_message(QueueUrl=os.environ[env_name], MaxNumberOfMessages=10,
                                      VisibilityTimeout=0).get("Messages", [])
            if not got:
                return out
            for m in got:
                out.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=os.environ[env_name], ReceiptHandle=m["ReceiptHandle"])
    return read


@contextlib.contextmanager
def _logs_at_debug(*, every_logger: bool):
    """The service's log records at DEBUG, formatted as in Lambda, into one text; with `every_logger`, every
    other logger's too (at its usual level). Caught at the loggers: the service's stream handler holds
    whatever sys.stdout was when it was created."""
    service = logging.getLogger("zellify-tiktok")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    if service.handlers:
        handler.setFormatter(service.handlers[0].formatter)
    loggers = [service, logging.getLogger()] if every_logger else [service]
    for logger in loggers:
        logger.addHandler(handler)
    previous = service.level
    service.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        service.setLevel(previous)
        for logger in loggers:
            logger.removeHandler(handler)


@pytest.fixture
def service_logs():
    """Every record the Powertools loggers emit, as JSON lines, at DEBUG: as an invocation
    POWERTOOLS_LOGGER_SAMPLE_RATE picks logs."""
    with _logs_at_debug(every_logger=False) as stream:
        yield stream


@pytest.fixture
def all_logs():
    """Every log record of the run as one text: the service's at DEBUG (the most the template's LogLevel
    allows), and every other logger's at its usual level."""
    with _logs_at_debug(every_logger=True) as stream:
        yield stream
