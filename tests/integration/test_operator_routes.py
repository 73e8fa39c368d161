"""The test-event route (docs/design.md §6.4) and the health route (§9), through the CampaignSettingsFunction
under moto; health's sent figures fed as in AWS, by the HealthFunction reading the ledger's stream (here: a
DynamoDB stream event built from the ledger items the collector, the DeliveryFunction and the Stripe function
wrote).
"""

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import boto3
import health_app
import payment_app as stripe_app
import pytest
import settings_app
from zellify_tiktok.server_event import MATCH_KEYS

from local.tiktok_codes import message as tiktok_message
from tests.integration.conftest import LambdaContext, load_event
from tests.integration.delivery_source import DeliveryEventSource
from tests.integration.helpers import (
    ADMIN_SETTINGS,
    beacon_body,
    call,
    deliver_queued,
    post_beacon,
    put_settings,
    settings_request,
)
from tests.stripe_webhooks import signed_event, stripe_event

SIGNING_SECRET = "whsec_operator_routes_0123456789"


def operator_event(method: str, path: str, body: str | None = None, query: dict[str, str] | None = None) -> dict:
    """The sample settings event, as API Gateway would give the route `method path` (campaign from the path)."""
    event = load_event("put_settings.json")
    campaign_id = path.split("/")[3]
    route = path.replace(f"/campaigns/{campaign_id}/", "/campaigns/{campaign_id}/")
    event.update(routeKey=f"{method} {route}", rawPath=path, pathParameters={"campaign_id": campaign_id},
                 body=body, rawQueryString="&".join(f"{k}={v}" for k, v in (query or {}).items()))
    if query:
        event["queryStringParameters"] = query
    event["requestContext"].update(routeKey=event["routeKey"])
    event["requestContext"]["http"].update(method=method, path=path)
    return event


def post_test_event(campaign_id: str = "demo", body: dict | None = None) -> tuple[int, dict]:
    raw = json.dumps(body) if body is not None else None
    status, _, answer = call(settings_app, operator_event("POST", f"/v1/campaigns/{campaign_id}/tiktok/test-event",
                                                          raw))
    return status, answer


def health(campaign_id: str = "demo", hours: str | None = None) -> tuple[int, dict]:
    query = {"hours": hours} if hours is not None else None
    status, _, answer = call(settings_app, operator_event("GET", f"/v1/campaigns/{campaign_id}/tiktok/health",
                                                          query=query))
    return status, answer


def queue_messages(aws) -> int:
    source = DeliveryEventSource(aws)
    return source.depth() + source.dead_letter_depth()


def ledger_items(aws) -> list[dict]:
    return boto3.client("dynamodb").scan(TableName=aws["SENT_EVENTS_TABLE"])["Items"]


# The test event


@pytest.fixture
def every_call_has_a_test_code(tiktok):
    """Whatever a test of the route does, no call of it reaches the live pixel."""
    yield
    assert all(call_["body"].get("test_event_code") for call_ in tiktok.calls), "a test event without a code"


def test_a_test_event_answers_200_with_tiktoks_answer_and_records_nothing(runtime, tiktok, aws,
                                                                         every_call_has_a_test_code):
    put_settings()
    status, answer = post_test_event(body={"test_event_code": "TEST12345"})
    assert status == 200, answer
    assert answer["event_id"].startswith("zt-test-")
    assert {key: answer[key] for key in ("event", "pixel_id", "test_event_code", "outcome", "code", "message")} == {
        "event": "PageView", "pixel_id": ADMIN_SETTINGS["pixel_id"], "test_event_code": "TEST12345",
        "outcome": "sent", "code": 0, "message": "OK"}
    [sent] = tiktok.calls
    assert sent["headers"]["Access-Token"] == ADMIN_SETTINGS["access_token"]
    assert sent["body"]["test_event_code"] == "TEST12345"
    assert [e["event_id"] for e in sent["body"]["data"]] == [answer["event_id"]]
    # A test says nothing about live traffic: no ledger record, no last delivery, nothing queued.
    assert ledger_items(aws) == [] and queue_messages(aws) == 0
    assert settings_request("GET")[1]["last_delivery"] is None


@pytest.mark.parametrize(("fault", "outcome", "code", "http_status"), [
    ({"code": 40105}, "permanent_failure", 40105, 200),
    ({"code": 40002}, "permanent_failure", 40002, 200),
    ({"code": 50002}, "transient_failure", 50002, 200),
    ({"http_status": 503}, "transient_failure", None, 503),
])
def test_a_refusal_or_failure_is_tiktoks_answer_not_our_error(fault, outcome, code, http_status, runtime, tiktok,
                                                             aws, every_call_has_a_test_code):
    put_settings()
    tiktok.add_fault(fault)
    status, answer = post_test_event(body={"test_event_code": "TEST12345"})
    assert status == 200, answer
    assert (answer["outcome"], answer["code"], answer["http_status"]) == (outcome, code, http_status)
    if code is not None:
        assert answer["message"] == tiktok_message(code)
    assert len(tiktok.calls) == 1  # one event, never halved or retried
    assert queue_messages(aws) == 0 and ledger_items(aws) == []
    view = settings_request("GET")[1]
    assert view["last_delivery"] is None and not any("access token" in w for w in view["warnings"])


def test_without_a_code_the_campaigns_active_one_is_used(runtime, tiktok, every_call_has_a_test_code):
    put_settings(test_event_code="TESTACTIVE1")
    for body in (None, {}):
        status, answer = post_test_event(body=body)
        assert (status, answer["test_event_code"]) == (200, "TESTACTIVE1")
    assert [c["body"]["test_event_code"] for c in tiktok.calls] == ["TESTACTIVE1", "TESTACTIVE1"]


@pytest.mark.parametrize("stored", ["none", "expired"])
def test_without_any_test_code_it_is_422_and_nothing_is_sent(stored, runtime, tiktok, every_call_has_a_test_code):
    if stored == "expired":
        past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        put_settings(test_event_code="TESTOLD1", test_event_code_expires_at=past)
    else:
        put_settings()
    for body in (None, {}, {"test_event_code": None}):
        status, answer = post_test_event(body=body)
        assert (status, answer["error"]["code"]) == (422, "test_event_code_required"), body
    assert tiktok.calls == []


def test_a_campaign_without_a_token_is_422_no_access_token(runtime, tiktok, every_call_has_a_test_code):
    put_settings(access_token=None)
    status, answer = post_test_event(body={"test_event_code": "TEST12345"})
    assert (status, answer["error"]["code"]) == (422, "no_access_token")
    assert tiktok.calls == []


def test_an_unknown_campaign_is_404_and_a_malformed_code_422(runtime, tiktok, every_call_has_a_test_code):
    status, answer = post_test_event("nobody-here", body={"test_event_code": "TEST12345"})
    assert (status, answer["error"]["code"]) == (404, "unknown_campaign")
    put_settings()
    for code in ("no spaces!", "T", 12345):
        status, answer = post_test_event(body={"test_event_code": code})
        assert status == 422, code
    assert post_test_event(body={"test_event_code": "TEST12345", "extra": 1})[0] == 422
    assert tiktok.calls == []


# Health


def test_health_of_an_unknown_campaign_is_404(runtime):
    status, answer = health("nobody-here")
    assert (status, answer["error"]["code"]) == (404, "unknown_campaign")


@pytest.mark.parametrize("hours", ["0", "169", "abc", "1.5", "-1", "24h", "\u0663"])
def test_health_with_bad_hours_is_400(hours, runtime):
    put_settings()
    status, answer = health(hours=hours)
    assert (status, answer["error"]["code"]) == (400, "invalid_hours"), hours
    assert [d["field"] for d in answer["error"]["details"]] == ["hours"]


def stream_event(items: list[dict]) -> dict:
    """The ledger's stream as Lambda hands it to the HealthFunction: one INSERT record per new item."""
    return {"Records": [{"eventID": str(i), "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
                         "awsRegion": "us-east-1", "dynamodb": {"Keys": {"pk": item["pk"]}, "NewImage": item,
                                                                "StreamViewType": "NEW_IMAGE"}}
                        for i, item in enumerate(items)]}


class LedgerStream:
    """Hands the HealthFunction the ledger items written since its last batch, as the stream would."""

    def __init__(self, aws):
        self.aws = aws
        self.seen: set[str] = set()

    def deliver(self) -> None:
        new = [item for item in ledger_items(self.aws) if item["pk"]["S"] not in self.seen]
        # The template's filter: sent events only (fact records carry no campaign_id).
        events = [item for item in new if "campaign_id" in item]
        health_app.lambda_handler(stream_event(events), LambdaContext())
        self.seen |= {item["pk"]["S"] for item in new}


def pay(aws, payment_id: str, amount: int, session_id: str) -> None:
    body = stripe_event("stripe_payment_intent_succeeded.json")
    body["id"] = f"evt_{payment_id}"
    payment = body["data"]["object"]
    payment.update(id=payment_id, amount=amount, amount_received=amount)
    payment["metadata"]["zellify_session_id"] = session_id
    payment["metadata"].pop("zellify_contents")
    status, _, answer = call(stripe_app, signed_event("stripe_payment_intent_succeeded.json", body,
                                                      secret=SIGNING_SECRET))
    assert (status, answer["status"]) == (200, "queued"), answer
    deliver_queued()


def coverage_of(sent_events: list[dict]) -> dict[str, float]:
    """What the figures must say, from what TikTok received: the share of sent events carrying each key."""
    carrying = Counter(key for event in sent_events for key in event["user"] if key in MATCH_KEYS)
    return {key: round(carrying[key] / len(sent_events), 4) for key in MATCH_KEYS}


def test_health_counts_exactly_what_was_sent_repeated_queued_and_dead_lettered(runtime, tiktok, aws, clock):
    boto3.client("secretsmanager").create_secret(Name=aws["STRIPE_SECRET_NAME"],
                                                 SecretString=json.dumps({"secrets": [SIGNING_SECRET]}))
    put_settings()
    stream = LedgerStream(aws)
    session = beacon_body()["session_id"]
    assert post_beacon(beacon_body())[0] == 202  # 4 events sent
    assert post_beacon(beacon_body())[0] == 202  # the same 4 again: duplicates
    tiktok.add_fault({"http_status": 503})
    assert post_beacon(beacon_body(events=[{"event": "page_view", "event_id": "pv-queued"}]))[0] == 202
    tiktok.add_fault({"code": 40001})
    assert post_beacon(beacon_body(events=[{"event": "page_view", "event_id": "pv-refused"}]))[0] == 202
    pay(aws, "pi_health_1", 999, session)
    pay(aws, "pi_health_2", 1002, session)  # 9.99 + 10.02: 20.01 exactly, where floats make 20.009999…
    stream.deliver()

    status, figures = health(hours="24")
    assert status == 200, figures
    assert figures["events"] == [
        {"event": "CompletePayment", "sent": 2, "duplicates": 0, "queued": 0, "dead_lettered": 0},
        {"event": "CompleteRegistration", "sent": 1, "duplicates": 1, "queued": 0, "dead_lettered": 0},
        {"event": "InitiateCheckout", "sent": 1, "duplicates": 1, "queued": 0, "dead_lettered": 0},
        {"event": "PageCompleted", "sent": 1, "duplicates": 1, "queued": 0, "dead_lettered": 0},
        {"event": "PageView", "sent": 1, "duplicates": 1, "queued": 1, "dead_lettered": 1},
    ]
    sent = [e for call_ in tiktok.calls if call_["answer"] == 0 for e in call_["body"]["data"]]
    assert figures["match_keys"] == {"events": 6, "coverage": coverage_of(sent)}
    assert figures["revenue"] == [{"currency": "USD", "value": 20.01, "payments": 2}]
    assert any("1 event dead-lettered" in w for w in figures["warnings"])

    # The queued event delivered by the DeliveryFunction once its backoff is over: it leaves "queued" and
    # counts as sent.
    clock.advance(31)
    assert DeliveryEventSource(aws).poll() == {"batchItemFailures": []}
    stream.deliver()
    page_view = next(row for row in health(hours="1")[1]["events"] if row["event"] == "PageView")
    assert page_view == {"event": "PageView", "sent": 2, "duplicates": 1, "queued": 0, "dead_lettered": 1}
    assert health()[1]["events"] == health(hours="168")[1]["events"]
