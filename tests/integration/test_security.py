"""Security, through the real handlers under moto (TikTok faked in memory):

- one campaign's beacon never reaches another campaign's pixel or token, nor reads its session,
  even with the same session id (and the dedup ledger of one pixel never hides another's event);
- the operator routes carry the JWT authorizer in the template, the public ones none;
- the access token and the Stripe signing secret appear in no log line, response, queue message or
  tracker.js, on the happy paths and the failure paths alike.
"""

import json

import boto3
import collect_app
import delivery_app
import payment_app as stripe_app
import pytest
import settings_app

from local.template import Template
from tests.integration.conftest import ROOT, LambdaContext, load_event
from tests.integration.delivery_source import sent_batches
from tests.integration.helpers import beacon_body, call, deliver_queued, post_beacon, put_settings
from tests.integration.test_retry import sqs_event
from tests.stripe_webhooks import signature_header, signed_event, stripe_event

SESSION = "shared-session-0001"
TOKEN_A = "tt-token-campaign-A-0123456789abcdef"
TOKEN_B = "tt-token-campaign-B-fedcba9876543210"
PIXEL_A = "CPIXELAAAAAAAAAAAAAA"
PIXEL_B = "CPIXELBBBBBBBBBBBBBB"
EMAIL_A = "alice.only.in.a@example.com"
SIGNING_SECRET = "whsec_security_test_0123456789abcdef"
SECRETS = (TOKEN_A, TOKEN_B, SIGNING_SECRET)


def campaign(campaign_id: str, pixel: str, token: str, **overrides) -> None:
    status, body = put_settings(campaign_id, pixel_id=pixel, access_token=token, allowed_origins=None, **overrides)
    assert status == 200, body


def events_of(tiktok, pixel: str) -> list[tuple[dict, dict]]:
    """(event, headers) of every event TikTok received for a pixel."""
    return [(event, call_["headers"]) for call_ in tiktok.calls if call_["body"]["event_source_id"] == pixel
            for event in call_["body"]["data"]]


@pytest.fixture
def two_campaigns(runtime, aws):
    campaign("cmp-a", PIXEL_A, TOKEN_A)
    campaign("cmp-b", PIXEL_B, TOKEN_B)
    boto3.client("secretsmanager").create_secret(Name=aws["STRIPE_SECRET_NAME"],
                                                 SecretString=json.dumps({"secrets": [SIGNING_SECRET]}))


# Isolation between campaigns


def test_same_session_id_in_two_campaigns_never_mixes_pixels_tokens_or_user_data(two_campaigns, tiktok):
    a = beacon_body(campaign_id="cmp-a", session_id=SESSION, ttp="ttp-of-a", ttclid="ttclid-of-a",
                    events=[{"event": "email_captured", "event_id": "a-email", "email": EMAIL_A},
                            {"event": "page_view", "event_id": "same-id"}])
    # B's beacon even names A's pixel and token: unknown envelope fields are never read.
    b = beacon_body(campaign_id="cmp-b", session_id=SESSION, ttp=None, ttclid=None,
                    events=[{"event": "page_view", "event_id": "b-view"},
                            {"event": "page_view", "event_id": "same-id"}],
                    pixel_id=PIXEL_A, access_token=TOKEN_A, event_source_id=PIXEL_A)
    assert post_beacon(a, origin=None)[0] == 202
    assert post_beacon(b, origin=None)[0] == 202

    sent_a, sent_b = events_of(tiktok, PIXEL_A), events_of(tiktok, PIXEL_B)
    assert sorted(e["event_id"] for e, _ in sent_a) == ["a-email", "same-id"]
    # The ledger is per pixel: A's "same-id" does not hide B's.
    assert sorted(e["event_id"] for e, _ in sent_b) == ["b-view", "same-id"]
    assert {h["Access-Token"] for _, h in sent_a} == {TOKEN_A}
    assert {h["Access-Token"] for _, h in sent_b} == {TOKEN_B}
    a_email_hash = next(e for e, _ in sent_a if e["event_id"] == "a-email")["user"]["email"]
    for event, _ in sent_b:
        user = event["user"]
        assert "email" not in user and "ttp" not in user and "ttclid" not in user, user
        assert a_email_hash not in json.dumps(event) and "ttp-of-a" not in json.dumps(event)


def test_stripe_event_of_one_campaign_reads_only_its_own_session(two_campaigns, tiktok):
    assert post_beacon(beacon_body(campaign_id="cmp-a", session_id=SESSION, ttp="ttp-of-a",
                                   events=[{"event": "email_captured", "event_id": "a-email", "email": EMAIL_A}]),
                       origin=None)[0] == 202
    payment = stripe_event("stripe_payment_intent_succeeded.json")
    payment["data"]["object"]["metadata"].update(zellify_campaign_id="cmp-b", zellify_session_id=SESSION)
    payment["data"]["object"].pop("receipt_email", None)
    status, _, body = call(stripe_app, signed_event("stripe_payment_intent_succeeded.json", payment,
                                                    secret=SIGNING_SECRET))
    assert status == 200 and body["status"] == "queued", body
    deliver_queued()
    [(event, headers)] = events_of(tiktok, PIXEL_B)
    assert headers["Access-Token"] == TOKEN_B
    assert "email" not in event["user"] and "ttp" not in event["user"], event["user"]


def test_queued_events_go_to_the_pixel_and_token_they_were_built_for(two_campaigns, tiktok, aws):
    assert post_beacon(beacon_body(campaign_id="cmp-b", session_id=SESSION,
                                   events=[{"event": "page_view", "event_id": "b-retried"}]), origin=None,
                       deliver=False)[0] == 202
    answer = delivery_app.lambda_handler(sqs_event("DELIVERY_QUEUE_URL", aws), LambdaContext())
    assert answer == {"batchItemFailures": []}
    [(event, headers)] = events_of(tiktok, PIXEL_B)
    assert event["event_id"] == "b-retried" and headers["Access-Token"] == TOKEN_B
    assert events_of(tiktok, PIXEL_A) == []


# Credentials on the operator routes (the local JWT authorizer's checks: tests/integration/test_jwt_authorizer.py)


def test_every_operator_route_uses_the_jwt_authorizer_in_the_template():
    routes = Template(ROOT / "template.yaml").http_routes()
    operator = [r for r in routes if r.function == "CampaignSettingsFunction"]
    assert {r.route_key for r in operator} >= {
        "GET /v1/campaigns", "PUT /v1/campaigns/{campaign_id}/tiktok", "GET /v1/campaigns/{campaign_id}/tiktok",
        "DELETE /v1/campaigns/{campaign_id}/tiktok", "POST /v1/campaigns/{campaign_id}/tiktok/test-event",
        "GET /v1/campaigns/{campaign_id}/tiktok/health"}
    assert all(r.authorizer == "OperatorJwt" and r.authorization_scopes == ("zellify-tiktok/campaigns",)
               for r in operator)
    public = [r for r in routes if r.authorizer is None]
    assert {r.function for r in public} == {"CollectFunction", "PaymentWebhookFunction", "ConsoleFunction"}


# Secrets in logs, responses, queue messages and tracker.js


@pytest.fixture
def logs(capfd, all_logs):
    """Everything the run writes: every log record (`all_logs`) and the process's stdout/stderr.

    (botocore logs request bodies, secrets included, at DEBUG: it must never be set to DEBUG in Lambda.)
    """
    return lambda: all_logs.getvalue() + "".join(capfd.readouterr())


def test_token_and_signing_secret_never_leave_where_they_are_kept(two_campaigns, tiktok, aws, logs, sqs_messages):
    answers: list[str] = []

    def keep(status, headers, body):
        answers.append(json.dumps([status, headers, body]))
        return status, body

    def settings(method: str, campaign_id: str, body: dict | None = None):
        event = load_event({"GET": "get_settings.json", "PUT": "put_settings.json"}[method])
        event["rawPath"] = event["requestContext"]["http"]["path"] = f"/v1/campaigns/{campaign_id}/tiktok"
        event["pathParameters"] = {"campaign_id": campaign_id}
        if body is not None:
            event["body"] = json.dumps(body)
        return keep(*call(settings_app, event))

    # Settings: the view, a refused token, a token swap.
    assert settings("GET", "cmp-a")[0] == 200
    # Refused (not printable ASCII; spaces would be removed, not refused) and never repeated.
    assert settings("PUT", "cmp-a", {"pixel_id": PIXEL_A, "access_token": TOKEN_A + "é"})[0] == 422
    assert settings("PUT", "cmp-a", {"pixel_id": PIXEL_A, "access_token": TOKEN_A})[0] == 200
    # Beacons: sent, queued (503), dead-lettered (40105, as if the token were revoked), retried.
    view = [{"event": "page_view", "event_id": f"v{i}"} for i in range(3)]
    keep(*post_beacon(beacon_body(campaign_id="cmp-a", events=view[:1]), origin=None))
    tiktok.script = [503, {"code": 40105, "message": "Access token is invalid"}]
    keep(*post_beacon(beacon_body(campaign_id="cmp-a", events=view[1:2]), origin=None, deliver=False))
    keep(*post_beacon(beacon_body(campaign_id="cmp-b", events=view[2:]), origin=None, deliver=False))
    queued = sqs_event("DELIVERY_QUEUE_URL", aws)
    messages = [record["body"] for record in queued["Records"]]
    with sent_batches() as sent:  # one group's retry copy, the other's dead letter
        delivery_app.lambda_handler(queued, LambdaContext())
    messages += [entry["MessageBody"] for batch in sent for entry in batch["Entries"]]
    assert len(messages) == 4, messages
    # Stripe: verified, refused (wrong secret, stale, tampered), and answered from the webhook.
    payment = stripe_event("stripe_payment_intent_succeeded.json")
    payment["data"]["object"]["metadata"].update(zellify_campaign_id="cmp-a")
    keep(*call(stripe_app, signed_event("stripe_payment_intent_succeeded.json", payment, secret=SIGNING_SECRET)))
    for event in (signed_event("stripe_payment_intent_succeeded.json", secret="whsec_wrong"),
                  signed_event("stripe_payment_intent_succeeded.json", secret=SIGNING_SECRET, timestamp=1)):
        assert keep(*call(stripe_app, event))[0] == 400
    tampered = signed_event("stripe_payment_intent_succeeded.json", secret=SIGNING_SECRET)
    tampered["headers"]["stripe-signature"] = signature_header("{}", SIGNING_SECRET) + ",v1=deadbeef"
    assert keep(*call(stripe_app, tampered))[0] == 400
    # tracker.js of both campaigns.
    scripts = []
    for campaign_id in ("cmp-a", "cmp-b"):
        event = load_event("get_tracker.json")
        event["rawPath"] = event["requestContext"]["http"]["path"] = f"/v1/campaigns/{campaign_id}/tracker.js"
        event["pathParameters"] = {"campaign_id": campaign_id}
        status, headers, script = call(collect_app, event)
        assert status == 200 and {"cmp-a": PIXEL_A, "cmp-b": PIXEL_B}[campaign_id] in script
        scripts.append(script)

    places = {"logs": logs(), "responses": "\n".join(answers), "queue messages": "\n".join(messages),
              "tracker.js": "\n".join(scripts)}
    assert places["logs"].strip() and places["queue messages"].strip()
    for where, text in places.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret[:12]}... found in {where}"
    # Only the last four characters of a token are ever shown, and only by the settings GET.
    assert TOKEN_A[-4:] in places["responses"]
    assert TOKEN_A[:-4] not in "\n".join(places.values())
