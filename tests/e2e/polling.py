"""Waiting for the local stack's background work (pollers, retries) to show, without timing assertions."""

import time

import pytest


def wait_for(predicate, what: str, timeout_s: float):
    """The first truthy value of `predicate`, polled every 0.1 s; the test fails naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"gave up waiting for {what}")
