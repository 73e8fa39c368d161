"""boto3 clients, made once per container and reused across invocations.

The endpoint comes from AWS_ENDPOINT_URL when set (moto locally), as boto3 does by itself.
"""

from functools import cache

import boto3
from botocore.config import Config

# Fail fast inside a request; a request-serving function queues what it cannot do now.
_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 2, "mode": "standard"})


@cache
def client(service: str):
    return boto3.session.Session().client(service, config=_CONFIG)
