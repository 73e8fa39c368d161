"""Fault injection: every failure class ends delivered, dead-lettered with its reason, or 503 — never lost.

AWS faults are raised inside the real boto3 clients (botocore's before-call hook), TikTok faults by
the in-memory TikTok under the real TikTokClient.
"""

import contextlib
from dataclasses import replace

import pytest
import urllib3
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from zellify_tiktok.repositories.aws import client

from tests.integration.delivery_source import DeliveryEventSource
from tests.integration.helpers import beacon_body, post_beacon, put_settings, settings_request
from tests.tiktok_fake import FakeTikTok


@contextlib.contextmanager
def aws_failing(service: str, operation: str, error: Exception):
    """Inside the block, every `operation` call of the layer's `service` client raises `error`."""
    def raise_error(**_):
        raise error

    event, unique_id = f"before-call.{service}.{operation}", f"fault-{service}-{operation}"
    client(service).meta.events.register(event, raise_error, unique_id=unique_id)
    try:
        yield
    finally:
        client(service).meta.events.unregister(event, unique_id=unique_id)


def throttled(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
                       operation)


@pytest.fixture(autouse=True)
def retries_at_once(runtime):
    """No backoff: a failed delivery's copy is visible again at once, so a test sees its retry."""
    runtime.config = replace(runtime.config, retry_backoff_base_s=0)


def drain_until_empty(aws) -> None:
    """Run the DeliveryFunction as its event source would until the DeliveryQueue is empty: handled records are
    deleted, failed ones shown again at once instead of after their backoff."""
    source = DeliveryEventSource(aws)
    for _ in range(5):
        records = source.receive()
        if not records:
            return
        response = source.invoke(records)
        for failure in response["batchItemFailures"]:
            handle = next(r["receiptHandle"] for r in records if r["messageId"] == failure["itemIdentifier"])
            source.sqs.change_message_visibility(QueueUrl=aws["DELIVERY_QUEUE_URL"], ReceiptHandle=handle,
                                                 VisibilityTimeout=0)
    pytest.fail(f"the DeliveryQueue still holds {source.depth()} message(s) after 5 rounds")


def delivered_ids(tiktok: FakeTikTok) -> list[str]:
    """Every event TikTok took, as often as it took it (a double send shows twice), sorted."""
    return sorted(tiktok.accepted_ids())


TRANSIENT = {
    "40100": {"code": 40100, "message": "Too many requests"},
    "429": 429,
    "503": 503,
    "timeout": urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out"),
    "reset": urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")),
}


@pytest.mark.parametrize("fault", list(TRANSIENT))
def test_transient_tiktok_failure_is_delivered_after_the_fault_clears(fault, runtime, tiktok, aws):
    put_settings()
    tiktok.script = [TRANSIENT[fault]]
    status, _, body = post_beacon(beacon_body())
    assert status == 202 and len(body["accepted"]) == 4
    drain_until_empty(aws)
    assert delivered_ids(tiktok) == sorted(body["accepted"])


def test_revoked_token_is_dead_lettered_and_visible(runtime, tiktok, sqs_messages):
    put_settings()
    tiktok.script = [{"code": 40105, "message": "Access token is invalid"}]
    assert post_beacon(beacon_body())[0] == 202
    dead = sqs_messages("DEAD_LETTER_QUEUE_URL")
    assert {e["event_id"] for m in dead for e in m["events"]} == {"ev-0001-page", "ev-0002-step", "ev-0003-email",
                                                                    "ev-0004-checkout"}
    assert dead[0]["reason"] == {"code": 40105, "message": "Access token is invalid", "http_status": 200,
                                 "kind": "refused"}
    assert settings_request("GET")[1]["last_delivery"]["code"] == 40105


def test_40002_inside_a_batch_takes_only_the_bad_event_down(runtime, tiktok, sqs_messages):
    put_settings()

    def answer(body):
        bad = any(e["event_id"] == "ev-0003-email" for e in body["data"])
        return {"code": 40002, "message": "Invalid parameter: user.email"} if bad else {"code": 0, "message": "OK"}

    tiktok.script = [answer] * 10
    assert post_beacon(beacon_body())[0] == 202
    assert delivered_ids(tiktok) == ["ev-0001-page", "ev-0002-step", "ev-0004-checkout"]
    dead = sqs_messages("DEAD_LETTER_QUEUE_URL")
    assert [e["event_id"] for m in dead for e in m["events"]] == ["ev-0003-email"]
    assert dead[0]["reason"]["code"] == 40002


def test_dynamodb_throttling_on_the_session_still_sends_with_the_beacons_user_data(runtime, tiktok):
    put_settings()
    with aws_failing("dynamodb", "UpdateItem", throttled("UpdateItem")):
        status, _, body = post_beacon(beacon_body())
    assert status == 202
    assert delivered_ids(tiktok) == sorted(body["accepted"])
    assert {"external_id", "ip", "user_agent", "ttp", "ttclid"} <= set(tiktok.events[0]["user"])


def test_dynamodb_throttling_on_the_ledger_queues_then_delivers(runtime, tiktok, aws):
    put_settings()
    with aws_failing("dynamodb", "BatchGetItem", throttled("BatchGetItem")):
        status, _, body = post_beacon(beacon_body())
        assert status == 202 and tiktok.calls == []
    drain_until_empty(aws)
    assert delivered_ids(tiktok) == sorted(body["accepted"])


def test_secrets_manager_down_queues_then_delivers(runtime, tiktok, aws):
    put_settings()
    runtime.secrets.provider.clear_cache()
    with aws_failing("secretsmanager", "GetSecretValue",
                     EndpointConnectionError(endpoint_url="https://secretsmanager.us-east-1.amazonaws.com")):
        status, _, body = post_beacon(beacon_body())
        assert status == 202 and tiktok.calls == []
    drain_until_empty(aws)
    assert delivered_ids(tiktok) == sorted(body["accepted"])


def test_sqs_down_answers_503(runtime, tiktok):
    put_settings()
    with aws_failing("sqs", "SendMessage",
                     EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com")):
        status, _, body = post_beacon(beacon_body())
    assert status == 503 and body["error"]["code"] == "service_unavailable"


def test_a_send_message_that_timed_out_once_is_tried_again_and_the_beacon_is_queued(runtime, tiktok, aws):
    """The queued message is a request's one durable step: one timeout must not make it a 503 (a beacon
    answered 503 is lost: sendBeacon never retries). A message SQS took twice is sent once (the ledger)."""
    put_settings()
    timeouts = []

    def time_out_once(**_):
        if not timeouts:
            timeouts.append(1)
            raise ReadTimeoutError(endpoint_url="https://sqs.us-east-1.amazonaws.com")

    client("sqs").meta.events.register("before-send.sqs.SendMessage", time_out_once, unique_id="sqs-timeout-once")
    try:
        status, _, body = post_beacon(beacon_body())
    finally:
        client("sqs").meta.events.unregister("before-send.sqs.SendMessage", unique_id="sqs-timeout-once")
    assert status == 202 and timeouts == [1]
    assert delivered_ids(tiktok) == sorted(body["accepted"])


def test_everything_down_answers_503(runtime, tiktok):
    put_settings()
    sqs_down = EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com")
    with aws_failing("dynamodb", "BatchGetItem", throttled("BatchGetItem")), \
            aws_failing("sqs", "SendMessage", sqs_down):
        status, _, _ = post_beacon(beacon_body())
    assert status == 503 and tiktok.calls == []


def test_a_warm_container_keeps_serving_when_the_campaign_cannot_be_reread(runtime, tiktok):
    put_settings()
    assert post_beacon(beacon_body(events=[{"event": "page_view", "event_id": "warm-1"}]))[0] == 202
    runtime.campaigns.max_age_s = 0  # the cached campaign is stale now
    with aws_failing("dynamodb", "GetItem", throttled("GetItem")):
        status, _, _ = post_beacon(beacon_body(events=[{"event": "page_view", "event_id": "warm-2"}]))
    assert status == 202
    assert delivered_ids(tiktok) == ["warm-1", "warm-2"]


def test_a_cold_container_without_the_campaign_answers_503(runtime, tiktok):
    put_settings()
    runtime.campaigns._cache.clear()
    with aws_failing("dynamodb", "GetItem", throttled("GetItem")):
        status, _, body = post_beacon(beacon_body())
    assert status == 503 and body["error"]["code"] == "service_unavailable"
