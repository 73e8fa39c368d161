"""The demo funnel's "Pay with Paddle" button in a real headless Chromium: the local stand-in posts Paddle's
signed `transaction.completed` to /v1/webhooks/paddle, the page hands the transaction id to tracker.js, and
TikTok gets CompletePayment on both channels under that one id (docs/design.md §4, §6.3)."""

import json
import time

import pytest

from tests.e2e.polling import wait_for
from tests.e2e.test_demo_funnel import Funnel, browser, pixel_tracks, server_events  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e


def test_paying_with_paddle_pairs_complete_payment_on_both_channels(stack, tiktok, browser):  # noqa: F811
    stack.clear_pixel()
    funnel = Funnel(browser)
    page = funnel.page
    try:
        page.goto(f"{stack.base_url}/demo/checkout")
        funnel.arrive("checkout")
        page.click("#add-payment")
        page.click("#pay-paddle")
        funnel.arrive("success")
        payment = json.loads(page.evaluate("sessionStorage.getItem('demo_payment')"))
        deadline = time.monotonic() + 10
        while not any(t["event"] == "CompletePayment" for t in pixel_tracks(stack)) and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        errors = list(funnel.errors)
    finally:
        funnel.close()

    assert errors == []
    txn = payment["event_id"]
    assert txn.startswith("txn_") and payment["provider"] == "paddle"
    assert payment["webhook_status"] == 200, payment
    assert payment["webhook_body"]["status"] == "queued", payment
    server = wait_for(lambda: [e for e in server_events(stack) if e["event"] == "CompletePayment"],
                      "Paddle's CompletePayment at the TikTok stand-in", 20)
    assert [e["event_id"] for e in server] == [txn]
    assert server[0]["properties"]["value"] == 9.99 and server[0]["properties"]["currency"] == "USD"
    pixel = [t for t in pixel_tracks(stack) if t["event"] == "CompletePayment"]
    assert [t["event_id"] for t in pixel] == [txn]
    assert pixel[0]["properties"]["value"] == server[0]["properties"]["value"]
