"""`zellify-tiktok health CAMPAIGN` under moto: the health route's figures (docs/design.md §9), drawn and as JSON.

The figures come the way they do in AWS: beacons and a Stripe payment through the real handlers (TikTok
faked), the SentEvents ledger's stream read from moto and handed to the HealthFunction as Lambda would
(the template's filter applied), the rarer outcomes written by the delivery core itself.
"""

import json
import os
import re

import boto3
import payment_app as stripe_app
import pytest
import settings_app
from typer.testing import CliRunner
from zellify_tiktok.cli import app

from tests.integration.conftest import load_event
from tests.integration.helpers import (
    beacon_body,
    call,
    deliver_queued,
    post_beacon,
    put_settings,
    run_health_function,
)
from tests.stripe_webhooks import signed_event, stripe_event

# Every test runs against moto (the CLI's commands reach AWS).
pytestmark = pytest.mark.usefixtures("aws")

STRIPE_SECRET = "whsec_test"
PIXEL = "C4ABCDEF0123456789AB"
CAMPAIGN = "demo"


@pytest.fixture
def cli():
    def run(*args: str):
        return CliRunner().invoke(app, list(args), env={"COLUMNS": "120"})
    return run


@pytest.fixture
def traffic(aws, runtime, tiktok):
    """Campaign demo after known traffic: 3 page views (one repeated), an email capture with phone, a
    lead queued by a 40100, an InitiateCheckout TikTok refused (40002), and a Stripe payment of 9.99 USD."""
    status, body = put_settings(CAMPAIGN, pixel_id=PIXEL)
    assert status == 200, body
    boto3.client("secretsmanager").create_secret(Name=os.environ["STRIPE_SECRET_NAME"],
                                                 SecretString=json.dumps({"secrets": [STRIPE_SECRET]}))
    session = "5f0c2b1e-8d7a-4c1b-9e0f-0a1b2c3d4e5f"  # the Stripe sample's zellify_session_id

    def beacon(*events: dict, **envelope) -> None:
        status, _, answer = post_beacon(beacon_body(list(events), session_id=session, **envelope))
        assert status == 202 and not answer["rejected"], answer

    beacon({"event": "page_view", "event_id": "pv-1"}, {"event": "page_view", "event_id": "pv-2"})
    beacon({"event": "page_view", "event_id": "pv-1"})  # a repeat: the ledger drops it
    beacon({"event": "email_captured", "event_id": "em-1", "email": "ann@example.com", "phone": "+1 415 555 0100"})
    beacon({"event": "page_view", "event_id": "pv-3"})
    tiktok.script.append({"code": 40100, "message": "Too many requests", "request_id": "r", "data": {}})
    beacon({"event": "lead", "event_id": "lead-1"})
    tiktok.script.append({"code": 40002, "message": "Invalid parameter", "request_id": "r", "data": {}})
    beacon({"event": "checkout_presented", "event_id": "co-1", "value": 9.99, "currency": "USD",
            "contents": [{"content_id": "plan_pro", "quantity": 1, "price": 9.99}]})
    status, _, answer = call(stripe_app, signed_event("stripe_payment_intent_succeeded.json",
                                                      stripe_event("stripe_payment_intent_succeeded.json"),
                                                      secret=STRIPE_SECRET))
    assert (status, answer["status"]) == (200, "queued"), answer
    deliver_queued()
    run_health_function(aws)  # the ledger's stream so far, once
    return CAMPAIGN


def route(campaign_id: str, query: dict | None = None) -> tuple[int, dict]:
    event = load_event("get_settings.json")
    event["rawPath"] = f"/v1/campaigns/{campaign_id}/tiktok/health"
    event["requestContext"]["http"]["path"] = event["rawPath"]
    event["pathParameters"] = {"campaign_id": campaign_id}
    event["queryStringParameters"] = query
    event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    status, _, body = call(settings_app, event)
    return status, body


def test_json_is_the_health_routes_answer(cli, traffic):
    result = cli("--json", "health", traffic, "--hours", "2")

    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    status, answer = route(traffic, {"hours": "2"})
    assert status == 200, answer
    assert printed == answer
    assert {row["event"]: row for row in printed["events"]} == {
        "PageView": {"event": "PageView", "sent": 3, "duplicates": 1, "queued": 0, "dead_lettered": 0},
        "CompleteRegistration": {"event": "CompleteRegistration", "sent": 1, "duplicates": 0, "queued": 0,
                                 "dead_lettered": 0},
        "Lead": {"event": "Lead", "sent": 0, "duplicates": 0, "queued": 1, "dead_lettered": 0},
        "InitiateCheckout": {"event": "InitiateCheckout", "sent": 0, "duplicates": 0, "queued": 0,
                             "dead_lettered": 1},
        "CompletePayment": {"event": "CompletePayment", "sent": 1, "duplicates": 0, "queued": 0,
                            "dead_lettered": 0},
    }
    assert printed["match_keys"]["events"] == 5
    assert printed["revenue"] == [{"currency": "USD", "value": 9.99, "payments": 1}]
    assert any("dead-lettered" in warning for warning in printed["warnings"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:00:00Z", printed["from"])


def test_the_table_shows_counts_bars_coverage_revenue_and_warnings(cli, traffic):
    result = cli("health", traffic)

    assert result.exit_code == 0, result.output
    out = result.stdout
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    # event, sent, duplicates, queued, dead-lettered, then the bar of sent (the busiest, PageView, is full).
    assert re.search(r"PageView\s+3\s+1\s+0\s+0\s+█{12}", rows["PageView"]), out
    assert re.search(r"Lead\s+0\s+0\s+1\s+0\s*$", rows["Lead"]), out
    assert re.search(r"InitiateCheckout\s+0\s+0\s+0\s+1\s*$", rows["InitiateCheckout"]), out
    assert re.search(r"CompletePayment\s+1\s+0\s+0\s+0\s+█{4}\s", rows["CompletePayment"]), out
    assert "Match keys of the 5 sent events" in out
    assert "Revenue (CompletePayment sent)" in out
    assert re.search(r"external_id\s+█{24}\s+100\.0 %", rows["external_id"]), out
    # The two page views before the email capture carry no email or phone; the three events after it do.
    assert re.search(r"email\s+█{14}▍\s+60\.0 %", rows["email"]), out
    assert re.search(r"phone\s+█{14}▍\s+60\.0 %", rows["phone"]), out
    assert re.search(r"USD\s+9\.99\s+1\s*$", rows["USD"]), out
    assert "Last delivery:" in out and "code 0" in rows["Last"]
    assert re.search(r"! 1 event dead-lettered", out), out


def test_an_empty_window_says_so(cli, runtime):
    status, body = put_settings("quiet", pixel_id=PIXEL)
    assert status == 200, body

    result = cli("health", "quiet", "--hours", "1")

    assert result.exit_code == 0, result.output
    assert "No server event in this window." in result.stdout
    assert "No CompletePayment revenue in this window." in result.stdout
    assert "Last delivery: never" in result.stdout


def test_unknown_campaign_exits_3(cli, runtime):
    result = cli("--json", "health", "nobody")

    assert result.exit_code == 3
    assert json.loads(result.stderr)["error"]["code"] == "unknown_campaign"
    assert cli("health", "nobody").stderr.startswith("Error: campaign 'nobody' has no TikTok configuration")


@pytest.mark.parametrize("hours", ["0", "169", "1.5", "-1", "twelve"])
def test_hours_outside_1_to_168_exit_2_as_the_route_answers_400(cli, runtime, hours):
    status, body = put_settings(CAMPAIGN, pixel_id=PIXEL)
    assert status == 200, body

    result = cli("--json", "health", CAMPAIGN, "--hours", hours)

    assert result.exit_code == 2, result.output
    route_status, route_body = route(CAMPAIGN, {"hours": hours})
    assert route_status == 400
    assert json.loads(result.stderr) == route_body
    assert route_body["error"]["code"] == "invalid_hours"
