"""Paddle and Solidgate webhooks against the local stack (`make dev`) over HTTP, posted by
`zellify-tiktok dev webhook` with the stack's own local secrets (docs/design.md §8): each payment reaches the
TikTok stand-in once, with its exact value. Delivery may be asynchronous, so the stand-in is polled."""

import json
import os
import subprocess
import sys
import uuid

import pytest

from tests.e2e.polling import wait_for

pytestmark = pytest.mark.e2e


def dev_webhook(stack, provider: str, kind: str, session: str, *extra: str) -> dict:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
    result = subprocess.run(
        [sys.executable, "-m", "zellify_tiktok.cli", "--json", "dev", "webhook", provider, kind, "--campaign", "demo",
         "--session", session, "--url", stack.base_url, *extra],
        capture_output=True, text=True, env=env, timeout=60, check=False)
    assert result.returncode == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


def sent_events(stack, event_id: str) -> list[dict]:
    return [event for request in stack.tiktok_requests() for event in request["body"]["data"]
            if event["event_id"] == event_id and request["response"].get("code") == 0]


@pytest.mark.parametrize("provider", ["paddle", "solidgate"])
def test_a_provider_payment_reaches_tiktok_once_with_its_value(stack, tiktok, provider):
    if not stack.function_loaded("PaymentWebhookFunction"):
        pytest.fail("PaymentWebhookFunction is not loaded in the local stack (see /healthz)")
    session = f"e2e-{uuid.uuid4()}"
    first = dev_webhook(stack, provider, "payment", session, "--value", "19.99", "--currency", "EUR")
    assert first["http_status"] == 200 and first["answer"]["status"] == "queued", first
    event_id = first["event_id"]
    [event] = wait_for(lambda: sent_events(stack, event_id), f"{provider}'s CompletePayment at TikTok", 20)
    assert event["event"] == "CompletePayment"
    assert (event["properties"]["value"], event["properties"]["currency"]) == (19.99, "EUR")
    # The same subscription's trial start, then a test-mode payment the demo campaign has no test code for.
    trial = dev_webhook(stack, provider, "trial", session)
    wait_for(lambda: sent_events(stack, trial["event_id"]), f"{provider}'s StartTrial at TikTok", 20)
    test_mode = dev_webhook(stack, provider, "payment", session, "--test-mode")
    assert test_mode["answer"]["reason"] == "test_mode"
    assert not sent_events(stack, test_mode["event_id"])


def test_a_forged_paddle_webhook_is_refused(stack, tiktok):
    answer = stack.request("POST", "/v1/webhooks/paddle", data=b'{"event_type": "transaction.completed"}',
                           headers={"Content-Type": "application/json", "Paddle-Signature": "ts=1;h1=00"})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_signature"
    assert stack.request("POST", "/v1/webhooks/paypal", data=b"{}").status_code == 404
