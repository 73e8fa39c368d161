"""A full funnel run (beacons, a Stripe webhook, a retry) logs no raw email, token or signing secret,
and emits the metrics of the operations issue. Logs are Powertools' JSON lines on stdout."""

import json

import boto3
import payment_app as stripe_app
import pytest
import retry_app

from tests.integration.conftest import LambdaContext
from tests.integration.helpers import (
    beacon_body,
    call,
    post_beacon,
    put_settings,
    run_health_function,
    settings_request,
)
from tests.integration.test_retry import sqs_event
from tests.stripe_webhooks import signed_event, stripe_event

RAW_EMAIL = "Ann.Secret@Example.com"
TOKEN = "tt-access-token-0123456789abcdef"
SIGNING_SECRET = "whsec_observability_0123456789"
# EventsSent, MatchKeysPerEvent and the confirmed calls' TikTokLatency come from the HealthFunction (the
# ledger's stream); the others from the functions that saw the outcome.
METRICS = {"EventsRejected", "EventsSent", "EventsDeduplicated", "TikTokTransientFailures",
           "TikTokPermanentFailures", "TikTokLatency", "MatchKeysPerEvent"}


@pytest.fixture
def funnel_run(runtime, tiktok, aws, capsys, service_logs):
    boto3.client("secretsmanager").create_secret(Name=aws["STRIPE_SECRET_NAME"],
                                                 SecretString=json.dumps({"secrets": [SIGNING_SECRET]}))
    put_settings()
    session = {"session_id": "sess-observed"}
    events = [{"event": "page_view", "event_id": "o-1"}, {"event": "email_captured", "event_id": "o-2",
                                                          "email": RAW_EMAIL},
              {"event": "payment_succeeded", "event_id": "pi_x"}]  # rejected: server only
    assert post_beacon(beacon_body(events=events, **session))[0] == 202
    assert post_beacon(beacon_body(events=events[:2], **session))[0] == 202  # deduplicated
    tiktok.script = [503]
    assert post_beacon(beacon_body(events=[{"event": "page_view", "event_id": "o-3"}], **session))[0] == 202
    retry_app.lambda_handler(sqs_event("RETRY_QUEUE_URL", aws), LambdaContext())
    tiktok.script = [{"code": 40001, "message": "No permission"}]
    assert post_beacon(beacon_body(events=[{"event": "page_view", "event_id": "o-4"}], **session))[0] == 202
    payment = stripe_event("stripe_payment_intent_succeeded.json")
    payment["data"]["object"]["metadata"]["zellify_session_id"] = "sess-observed"
    payment["data"]["object"]["receipt_email"] = RAW_EMAIL
    status, _, body = call(stripe_app, signed_event("stripe_payment_intent_succeeded.json", payment,
                                                    secret=SIGNING_SECRET))
    assert status == 200 and body["status"] == "queued", body
    run_health_function(aws)
    assert settings_request("GET")[0] == 200
    captured = capsys.readouterr()  # the metrics: Powertools prints EMF blobs
    return service_logs.getvalue() + captured.out + captured.err


def test_logs_hold_no_raw_email_token_or_signing_secret(funnel_run):
    assert funnel_run.strip(), "the handlers logged something"
    lowered = funnel_run.lower()
    for secret in (RAW_EMAIL.lower(), "ann.secret", TOKEN.lower(), SIGNING_SECRET.lower()):
        assert secret not in lowered, f"{secret!r} leaked into the logs"


def test_logs_are_json_with_correlation_and_campaign(funnel_run):
    records = [json.loads(line) for line in funnel_run.splitlines() if line.startswith("{")]
    delivered = [r for r in records if r.get("message") == "beacon delivered"]
    assert delivered and all(r["campaign_id"] == "demo" and r["correlation_id"] for r in delivered)
    assert all("event_ids" in r for r in delivered)


def test_metrics_are_emitted_without_a_campaign_dimension(funnel_run):
    blobs = [json.loads(line) for line in funnel_run.splitlines() if line.startswith("{") and '"_aws"' in line]
    names = set()
    for blob in blobs:
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            names.update(metric["Name"] for metric in directive["Metrics"])
            assert all("campaign_id" not in dimensions for dimensions in directive["Dimensions"])
    assert names >= METRICS, METRICS - names


class Invocation(LambdaContext):
    def __init__(self, request_id: str):
        self.aws_request_id = request_id


def test_each_invocation_logs_its_own_ids_and_nothing_of_the_one_before(runtime, tiktok, service_logs):
    put_settings()
    assert post_beacon(beacon_body(), context=Invocation("req-beacon"))[0] == 202
    assert post_beacon(b"{not json", context=Invocation("req-refused"))[0] == 400
    records = [json.loads(line) for line in service_logs.getvalue().splitlines()]
    delivered = next(r for r in records if r["message"] == "beacon delivered")
    refused = next(r for r in records if r["message"] == "request refused")
    assert delivered["function_request_id"] == "req-beacon" and delivered["campaign_id"] == "demo"
    # The second invocation never learnt its campaign: the first one's does not linger in its lines.
    assert refused["function_request_id"] == "req-refused" and "campaign_id" not in refused
    for record in (delivered, refused):
        assert record["correlation_id"] == "JKJaXmPLvHcESHA="  # API Gateway's request id
        assert record["function_name"] == LambdaContext.function_name
        assert record["function_arn"] == LambdaContext.invoked_function_arn
        assert record["function_memory_size"] == LambdaContext.memory_limit_in_mb
    assert refused["cold_start"] is False


def test_metrics_are_flushed_only_by_an_invocation_that_has_some(runtime, tiktok, capsys):
    put_settings()
    capsys.readouterr()
    assert post_beacon(beacon_body())[0] == 202  # delivered: its counts come from the ledger's stream
    assert '"_aws"' not in capsys.readouterr().out
    events = [{"event": "page_view", "event_id": "m-1"}, {"event": "nope", "event_id": "m-2"}]
    assert post_beacon(beacon_body(events=events))[0] == 202
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [blob["EventsRejected"] for blob in blobs] == [[1.0]]


def test_each_invocation_names_its_own_function(runtime, tiktok, service_logs):
    """The local stack serves every function from one process: a line names the function that wrote it."""
    put_settings()
    other = Invocation("req-other")
    other.function_name, other.invoked_function_arn = "other", "arn:aws:lambda:us-east-1:123456789012:function:other"
    assert post_beacon(b"{not json", context=other)[0] == 400
    assert post_beacon(b"{not json", context=Invocation("req-test"))[0] == 400
    names = {r["function_request_id"]: (r["function_name"], r["function_arn"])
             for r in map(json.loads, service_logs.getvalue().splitlines()) if r["message"] == "request refused"}
    assert names == {"req-other": ("other", other.invoked_function_arn),
                     "req-test": (LambdaContext.function_name, LambdaContext.invoked_function_arn)}
