"""Security through the local stack (`make dev`): campaigns stay apart, the settings routes want the
admin credentials, and tokens and the Stripe signing secret leave no trace in what the stack logs,
answers, queues or serves."""

import json
import time
import uuid

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.stripe_webhooks import signature_header, stripe_event

pytestmark = pytest.mark.e2e

SESSION = "e2e-shared-session"
EMAIL_A = "only.in.a@example.com"
BOUNDED_WAIT_S = 30


def configure(stack, campaign_id: str, pixel: str, token: str) -> None:
    answer = stack.admin("PUT", f"/v1/campaigns/{campaign_id}/tiktok", json={
        "pixel_id": pixel, "access_token": token, "enabled": True, "allowed_origins": None})
    assert answer.status_code == 200, answer.text


@pytest.fixture
def two_campaigns(stack):
    suffix = uuid.uuid4().hex[:8].upper()
    a = {"id": f"sec-a-{suffix}", "pixel": f"CSECA{suffix}PIXEL", "token": f"tt-sec-a-{suffix}-0123456789"}
    b = {"id": f"sec-b-{suffix}", "pixel": f"CSECB{suffix}PIXEL", "token": f"tt-sec-b-{suffix}-0123456789"}
    for c in (a, b):
        configure(stack, c["id"], c["pixel"], c["token"])
    yield a, b
    for c in (a, b):
        stack.admin("DELETE", f"/v1/campaigns/{c['id']}/tiktok")


def beacon(stack, campaign_id: str, events: list[dict], **envelope) -> requests.Response:
    body = {"campaign_id": campaign_id, "session_id": SESSION, "events": events, **envelope}
    return stack.request("POST", "/v1/events", data=json.dumps(body), headers={"Content-Type": "text/plain"})


def received(stack, pixel: str, count: int) -> list[tuple[dict, dict]]:
    """(event, headers) the TikTok stand-in received for a pixel, once `count` are there (bounded wait)."""
    deadline = time.monotonic() + BOUNDED_WAIT_S
    while True:
        found = [(event, record["headers"]) for record in stack.tiktok_requests()
                 if isinstance(record["body"], dict) and record["body"].get("event_source_id") == pixel
                 for event in record["body"].get("data", [])]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def wait_delivered(stack, pixel: str, event_id: str) -> None:
    deadline = time.monotonic() + BOUNDED_WAIT_S
    while time.monotonic() < deadline:
        for record in stack.tiktok_requests():
            body, answer = record["body"], record["response"] or {}
            if (isinstance(body, dict) and body.get("event_source_id") == pixel and answer.get("code") == 0
                    and any(e.get("event_id") == event_id for e in body.get("data", []))):
                return
        time.sleep(0.2)
    pytest.fail(f"{event_id} not delivered within {BOUNDED_WAIT_S} s")


def test_same_session_in_two_campaigns_stays_apart(tiktok, two_campaigns):
    stack = tiktok
    a, b = two_campaigns
    assert beacon(stack, a["id"], [{"event": "email_captured", "event_id": "sec-email", "email": EMAIL_A},
                                   {"event": "page_view", "event_id": "sec-same"}],
                  ttp="ttp-of-a", ttclid="ttclid-of-a").status_code == 202
    # B's beacon names A's pixel and token in fields the envelope does not have: they are never read.
    assert beacon(stack, b["id"], [{"event": "page_view", "event_id": "sec-same"}],
                  pixel_id=a["pixel"], access_token=a["token"]).status_code == 202
    payment = stripe_event("stripe_payment_intent_succeeded.json")
    payment["data"]["object"]["metadata"].update(zellify_campaign_id=b["id"], zellify_session_id=SESSION)
    payment["data"]["object"].pop("receipt_email", None)
    body = json.dumps(payment)
    answer = stack.request("POST", "/v1/webhooks/stripe", data=body, headers={
        "Content-Type": "application/json", "Stripe-Signature": signature_header(body, stack.stripe_signing_secret)})
    assert answer.status_code == 200 and answer.json()["status"] == "queued", answer.text

    sent_a, sent_b = received(stack, a["pixel"], 2), received(stack, b["pixel"], 2)
    assert sorted(e["event_id"] for e, _ in sent_a) == ["sec-email", "sec-same"]
    assert sorted(e["event"] for e, _ in sent_b) == ["CompletePayment", "PageView"]
    assert {h.get("Access-Token") for _, h in sent_a} == {a["token"]}
    assert {h.get("Access-Token") for _, h in sent_b} == {b["token"]}
    assert "email" in next(e for e, _ in sent_a if e["event_id"] == "sec-email")["user"]
    for event, _ in sent_b:
        assert not {"email", "ttp", "ttclid"} & set(event["user"]), event["user"]


@pytest.mark.parametrize("method", ["PUT", "GET", "DELETE"])
def test_settings_routes_refuse_missing_and_wrong_credentials(stack, two_campaigns, method):
    a, _ = two_campaigns
    path = f"/v1/campaigns/{a['id']}/tiktok"
    body = {"pixel_id": "CATTACKER0000000PIXEL", "access_token": "tt-attacker-token-000000"}
    # A token the attacker signed, claiming the stand-in's issuer and the console's client.
    kid = stack.get("/_dev/oidc/.well-known/jwks.json").json()["keys"][0]["kid"]
    now = int(time.time())
    forged = jwt.encode({"alg": "RS256", "kid": kid}, {
        "iss": stack.url("/_dev/oidc"), "sub": "attacker", "client_id": "zellify-console-local",
        "scope": "zellify-tiktok/campaigns", "iat": now, "exp": now + 600}, RSAKey.generate_key(2048, private=True))
    # The JWT authorizer refuses each with 401 (every bad-token case: tests/integration/test_jwt_authorizer.py).
    for headers in ({}, {"Authorization": "Bearer not-the-admin-token"},
                    {"Authorization": f"Basic {stack.admin_token}"}, {"X-Api-Key": stack.admin_token},
                    {"Authorization": f"Bearer {forged}"}):
        answer = stack.request(method, path, json=body, headers=headers)
        assert (answer.status_code, answer.json()) == (401, {"message": "Unauthorized"}), headers
    # Nothing changed: the campaign still has its own pixel and token.
    view = stack.admin("GET", path).json()
    assert view["pixel_id"] == a["pixel"] and view["access_token_last4"] == a["token"][-4:]


def test_tokens_and_signing_secret_appear_in_no_log_answer_queue_message_or_script(tiktok, two_campaigns):
    stack = tiktok
    a, b = two_campaigns
    answers = [stack.admin("GET", f"/v1/campaigns/{a['id']}/tiktok"),
               stack.admin("PUT", f"/v1/campaigns/{b['id']}/tiktok", json={"pixel_id": b["pixel"],
                                                                            "access_token": b["token"] + " x"}),
               stack.get(f"/v1/campaigns/{a['id']}/tracker.js"), stack.get(f"/v1/campaigns/{b['id']}/tracker.js")]
    # A dead-lettered (40105) and a queued (503) event; the queues are read while they hold them.
    stack.add_fault({"code": 40105, "times": 1}, {"http_status": 503, "times": 1})
    answers.append(beacon(stack, b["id"], [{"event": "page_view", "event_id": "sec-parked"}]))
    answers.append(beacon(stack, a["id"], [{"event": "page_view", "event_id": "sec-queued"}]))
    state = stack.state()
    messages = json.dumps(state["queued"]) + json.dumps(state["dead_lettered"])
    assert "sec-parked" in messages
    body = json.dumps(stripe_event("stripe_payment_intent_succeeded.json"))
    for signature in (signature_header(body, "whsec_not_ours"), signature_header(body, stack.stripe_signing_secret)):
        answers.append(stack.request("POST", "/v1/webhooks/stripe", data=body, headers={
            "Content-Type": "application/json", "Stripe-Signature": signature}))
    assert [r.status_code for r in answers] == [200, 422, 200, 200, 202, 202, 400, 200]
    wait_delivered(stack, a["pixel"], "sec-queued")  # the retry ran, and logged what it logs

    log = stack.log_path.read_text(errors="replace")
    log = log.split("Ctrl-C stops it.", 1)[-1]  # the banner prints the local secrets on purpose
    texts = {"stack log": log, "answers": "\n".join(f"{r.headers}\n{r.text}" for r in answers),
             "queue messages": messages}
    for where, text in texts.items():
        for secret in (a["token"], b["token"], stack.stripe_signing_secret):
            assert secret not in text, f"{secret[:10]}... in the {where}"
