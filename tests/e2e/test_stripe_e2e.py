"""Stripe webhook against the local stack (`make dev`) over HTTP: beacons first, then a signed payment.

Issue 3's "done when": one CompletePayment at the TikTok stand-in, carrying the payment's value and
contents and the session's match keys; a repeated delivery is a duplicate that sends nothing more.
"""

import hashlib
import json
import time
import uuid

import pytest

from tests.stripe_webhooks import signature_header, stripe_event

pytestmark = pytest.mark.e2e

DEMO_PIXEL = "CDEMO00000000000PIXEL"
TTP = "2F7h37YkS1j57AYSKTI7IHhJPYH"
TTCLID = "E.C.P.CsABc0FkZXYtdHRjbGlk"
USER_AGENT = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
CONTENTS = [{"content_id": "plan_pro", "content_name": "Pro plan", "quantity": 2, "price": 9.99}]


def sha256(text: str) -> str:
    return hashlib.sha256(text.strip().lower().encode()).hexdigest()


def post_beacon(stack, session_id: str, events: list[dict]):
    body = {"campaign_id": "demo", "session_id": session_id, "ttp": TTP, "ttclid": TTCLID, "consent": True,
            "events": [{"time": int(time.time() * 1000), **event} for event in events]}
    answer = stack.request("POST", "/v1/events", data=json.dumps(body),
                           headers={"Content-Type": "text/plain", "User-Agent": USER_AGENT})
    assert answer.status_code == 202, answer.text
    return answer


def post_webhook(stack, body: str, secret: str):
    return stack.request("POST", "/v1/webhooks/stripe", data=body.encode(), headers={
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": signature_header(body, secret),
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    })


def complete_payments(stack, event_id: str) -> list[tuple[dict, dict]]:
    return [(request, event) for request in stack.tiktok_requests() for event in request["body"]["data"]
            if event["event"] == "CompletePayment" and event["event_id"] == event_id]


def test_payment_after_beacons_sends_one_enriched_complete_payment(stack, tiktok):
    if not stack.function_loaded("PaymentWebhookFunction"):
        pytest.fail("PaymentWebhookFunction is not loaded in the local stack (see /healthz)")
    session_id = f"e2e-{uuid.uuid4()}"
    post_beacon(stack, session_id, [{"event": "page_view", "event_id": f"{session_id}:pv",
                                     "page": {"url": "https://funnel.example.com/"}}])
    post_beacon(stack, session_id, [{"event": "email_captured", "event_id": f"{session_id}:email",
                                     "email": "Ann@Example.com"}])
    post_beacon(stack, session_id, [{"event": "checkout_presented", "event_id": f"{session_id}:checkout",
                                     "value": 19.98, "currency": "USD", "contents": CONTENTS}])
    beacon_request = next(r for r in stack.tiktok_requests() if r["body"]["data"][0]["event"] == "PageView")
    ip = beacon_request["body"]["data"][0]["user"]["ip"]  # whatever address the stack saw for the browser

    event = stripe_event("stripe_payment_intent_succeeded.json")
    payment_intent = event["data"]["object"]
    pi = f"pi_3E2e{uuid.uuid4().hex[:20]}"
    event.update(id=f"evt_3E2e{uuid.uuid4().hex[:20]}", created=int(time.time()))
    payment_intent.update(id=pi, amount=1998, amount_received=1998, receipt_email=None,
                          metadata={"zellify_campaign_id": "demo", "zellify_session_id": session_id,
                                    "zellify_contents": json.dumps(CONTENTS)})
    body = json.dumps(event, indent=2)

    answer = post_webhook(stack, body, stack.stripe_signing_secret)
    assert (answer.status_code, answer.json()) == (200, {"status": "queued", "reason": "payment_succeeded",
                                                         "event_ids": [pi]})
    [(request, sent)] = complete_payments(stack, pi)
    assert request["body"]["event_source_id"] == DEMO_PIXEL
    assert request["headers"]["Access-Token"]
    assert request["response"]["code"] == 0
    assert sent["properties"] == {"value": 19.98, "currency": "USD", "content_type": "product", "num_items": 2,
                                  "contents": CONTENTS}
    assert sent["user"] == {"external_id": sha256(session_id), "email": sha256("ann@example.com"), "ttp": TTP,
                            "ttclid": TTCLID, "ip": ip, "user_agent": USER_AGENT}

    again = post_webhook(stack, body, stack.stripe_signing_secret)
    assert (again.status_code, again.json()) == (200, {"status": "duplicate", "reason": "already_sent",
                                                       "event_ids": [pi]})
    assert len(complete_payments(stack, pi)) == 1


def test_badly_signed_webhook_is_refused_over_http(stack, tiktok):
    body = json.dumps(stripe_event("stripe_payment_intent_succeeded.json"), indent=2)
    answer = post_webhook(stack, body, "whsec_not_the_stacks")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_signature"
    assert stack.tiktok_requests() == []
