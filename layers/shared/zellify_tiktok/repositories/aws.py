"""boto3 clients, made once per container and reused across invocations.

The endpoint comes from AWS_ENDPOINT_URL when set (moto locally), as boto3 does by itself.

Timeouts and retries are explicit (docs/design.md §7): a function serving a request fails fast — one
attempt of at most CONNECT_TIMEOUT_S + READ_TIMEOUT_S — and queues what it cannot do now, so it always
answers well inside its 10 s timeout. The CLI, where an operator waits, configures more patience.
"""

import threading
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

CONNECT_TIMEOUT_S = 0.5
READ_TIMEOUT_S = 1.0
MAX_ATTEMPTS = 1
# The longest one AWS call can take with the configuration above.
CALL_WORST_CASE_S = MAX_ATTEMPTS * (CONNECT_TIMEOUT_S + READ_TIMEOUT_S)
# Except SQS: a request's SendMessage is its one durable step (without it the answer is 503 and a beacon
# is lost), so a timed-out one is tried once more. A message SQS took twice is sent to TikTok once (the
# ledger), so the repeat is harmless.
QUEUE_ATTEMPTS = 2

_config = Config(connect_timeout=CONNECT_TIMEOUT_S, read_timeout=READ_TIMEOUT_S,
                 retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS})
# One session for every client: each new session loads botocore's data and handlers again (~50 ms).
# Sessions are not thread-safe to create clients from; the local stack serves requests in threads.
_lock = threading.Lock()


def configure(config: Config) -> None:
    """Replace the clients' configuration (before any client is made): the CLI's more patient one."""
    global _config
    _config = config
    client.cache_clear()


@cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


@cache
def client(service: str) -> Any:
    config = _config
    if service == "sqs" and (config.retries or {}).get("total_max_attempts", QUEUE_ATTEMPTS) < QUEUE_ATTEMPTS:
        config = config.merge(Config(retries={"mode": "standard", "total_max_attempts": QUEUE_ATTEMPTS}))
    with _lock:
        return _session().client(service, config=config)
