"""Virtual time for the integration tests: one clock that the budgets, slow AWS calls, slow TikTok answers and
moto's SQS (visibility, receive counts, redrive) all read, so hours of retries or a worst-case invocation
run in milliseconds and are exact.

- `VirtualClock`: seconds, starting at the real now (moto stamps messages with it); `advance` moves it.
- `VirtualContext`: a Lambda context whose remaining time runs on the clock.
- `on_virtual_time(monkeypatch, clock)`: the handlers' budgets and moto's SQS read the clock.
- `aws_taking(clock, seconds, failing=...)`: every call of the layer's boto3 clients takes `seconds` of the
  clock (a botocore `before-send` hook), and those of the `failing` services then time out.
"""

import contextlib
import functools
import time
from collections.abc import Iterator

import delivery_app
from botocore.exceptions import ReadTimeoutError
from zellify_tiktok import api
from zellify_tiktok.budget import Budget
from zellify_tiktok.repositories.aws import client

from tests.integration.conftest import LambdaContext

LAYER_SERVICES = ("dynamodb", "sqs", "secretsmanager")


class VirtualClock:
    def __init__(self, start: float | None = None):
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class VirtualContext(LambdaContext):
    """A Lambda context of a function with `timeout_s`, invoked now on the virtual clock."""

    def __init__(self, clock: VirtualClock, timeout_s: float):
        self.clock = clock
        self.deadline = clock() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - self.clock()) * 1000))


def on_virtual_time(monkeypatch, clock: VirtualClock) -> None:
    """The collector's, settings' and DeliveryFunction's budgets, and moto's SQS, run on `clock`."""
    budget = functools.partial(Budget, clock=clock)
    monkeypatch.setattr(api, "Budget", budget)
    monkeypatch.setattr(delivery_app, "Budget", budget)
    monkeypatch.setattr("moto.sqs.models.unix_time", clock)
    monkeypatch.setattr("moto.sqs.models.unix_time_millis", lambda: clock() * 1000)


@contextlib.contextmanager
def aws_taking(clock: VirtualClock, seconds: float, *, failing: tuple[str, ...] = ()) -> Iterator[list[str]]:
    """Inside the block every AWS call of the layer takes `seconds`; those of `failing` services then time out.

    Yields the operations called, in order.
    """
    called: list[str] = []

    def slow(service: str):
        def before_send(request, **kwargs):
            called.append(kwargs["event_name"].split(".", 2)[2])
            clock.advance(seconds)
            if service in failing:
                raise ReadTimeoutError(endpoint_url=request.url)
        return before_send

    for service in LAYER_SERVICES:
        # First: moto answers in a before-send hook of its own, and a call that timed out must not reach it.
        client(service).meta.events.register_first("before-send", slow(service), unique_id=f"virtual-{service}")
    try:
        yield called
    finally:
        for service in LAYER_SERVICES:
            client(service).meta.events.unregister("before-send", unique_id=f"virtual-{service}")
