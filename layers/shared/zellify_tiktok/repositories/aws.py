"""boto3 clients, made once per container and reused across invocations.

The endpoint comes from AWS_ENDPOINT_URL when set (moto locally), as boto3 does by itself.
"""

import threading
from functools import cache

import boto3
from botocore.config import Config

# Fail fast inside a request; a request-serving function queues what it cannot do now.
_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 2, "mode": "standard"})
# One session for every client: each new session loads botocore's data and handlers again (~50 ms).
# Sessions are not thread-safe to create clients from; the local stack serves requests in threads.
_lock = threading.Lock()


@cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


@cache
def client(service: str):
    with _lock:
        return _session().client(service, config=_CONFIG)
