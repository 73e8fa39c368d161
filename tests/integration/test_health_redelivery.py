"""The health figures under Lambda's at-least-once stream delivery (docs/design.md §9).

Lambda hands a DynamoDB stream batch to the HealthFunction again when an invocation fails or times out
(template.yaml: MaximumRetryAttempts 10), whole. The figures must count each sent event once all the same.

Found by `make loadtest` (20,000 beacons on the shared machine): the health route reported 63,054 sent
events where the TikTok stand-in had answered 60,520. Under that load a write of the HealthFunction
outlived the functions' 1 s read timeout after moto had applied it; the invocation failed, the local stream
poller offered the batch again (as Lambda does), and every bucket already added was added a second time.
The adds are now transactions with a marker item per batch part (repositories/health.py `add_once`).
"""

import contextlib
import time

import boto3
import health_app
import pytest
from botocore.exceptions import ReadTimeoutError
from zellify_tiktok.access import terminal_operator
from zellify_tiktok.health_figures import HealthDelta
from zellify_tiktok.repositories.aws import client
from zellify_tiktok.repositories.health import BATCH_MARKERS
from zellify_tiktok.services.health import health_view

from local.poller import matches
from local.template import Template
from tests.integration.conftest import ROOT, LambdaContext
from tests.integration.helpers import beacon_body, ledger_stream_records, post_beacon, put_settings


@contextlib.contextmanager
def write_times_out_after(calls: int, *, applied: bool):
    """The layer's DynamoDB TransactWriteItems succeeds `calls` times; the next ones time out, after DynamoDB
    applied them (`applied`) or before."""
    made = []

    def time_out(**_):
        made.append(1)
        if len(made) > calls:
            raise ReadTimeoutError(endpoint_url="dynamodb")

    event = "after-call.dynamodb.TransactWriteItems" if applied else "before-call.dynamodb.TransactWriteItems"
    client("dynamodb").meta.events.register(event, time_out, unique_id="health-redelivery-timeout")
    try:
        yield
    finally:
        client("dynamodb").meta.events.unregister(event, unique_id="health-redelivery-timeout")


def health_batch(aws) -> dict:
    """The ledger's new items as the HealthFunction's event source hands them over (the template's filter)."""
    (spec,) = Template(ROOT / "template.yaml").stream_events()
    return {"Records": [r for r in ledger_stream_records(aws) if any(matches(f, r) for f in spec.filters)]}


@pytest.mark.parametrize("applied", [True, False], ids=["answer lost after the write", "write never made"])
def test_a_stream_batch_delivered_again_counts_its_events_once(applied, aws, runtime):
    status, body = put_settings("demo")
    assert status == 200, body
    events = [{"event": "page_view", "event_id": "redelivered-pv"}, {"event": "lead", "event_id": "redelivered-lead"}]
    status, _, answer = post_beacon(beacon_body(events=events))
    assert status == 202 and answer["accepted"] == ["redelivered-pv", "redelivered-lead"], answer
    batch = health_batch(aws)
    assert len(batch["Records"]) == 2

    # The figures' write times out: the invocation fails ...
    with write_times_out_after(0, applied=applied), pytest.raises(ReadTimeoutError):
        health_app.lambda_handler(batch, LambdaContext())
    # ... and Lambda hands the same batch over again, maybe more than once.
    health_app.lambda_handler(batch, LambdaContext())
    health_app.lambda_handler(batch, LambdaContext())

    figures = health_view("demo", "2", runtime, caller=terminal_operator())
    assert {row["event"]: row["sent"] for row in figures["events"]} == {"PageView": 1, "Lead": 1}
    assert figures["match_keys"]["events"] == 2


def test_a_batch_of_more_buckets_than_one_transaction_takes_counts_each_once_when_a_part_failed(aws, runtime):
    """150 buckets take two transactions; the second fails the first time, and the batch comes again."""
    now = int(time.time())
    hour = now - now % 3600
    deltas = [HealthDelta("demo", hour - 3600 * (i % 3), f"Event{i}", {"sent": 1}) for i in range(150)]
    with write_times_out_after(1, applied=False), pytest.raises(ReadTimeoutError):
        runtime.health.add_once(deltas, "batch-150", now)
    runtime.health.add_once(deltas, "batch-150", now)
    runtime.health.add_once(deltas, "batch-150", now)

    buckets = runtime.health.read("demo", hour - 3 * 3600, hour + 3600)
    assert len(buckets) == 150
    assert {b.counts["sent"] for b in buckets} == {1}
    markers = boto3.client("dynamodb").query(
        TableName=aws["HEALTH_TABLE"], KeyConditionExpression="campaign_id = :m",
        ExpressionAttributeValues={":m": {"S": BATCH_MARKERS}})["Items"]
    assert sorted(m["bucket"]["S"] for m in markers) == ["batch-150#0", "batch-150#1"]
    assert all(int(m["expires_at"]["N"]) > now + 86400 for m in markers), "kept past the stream's 24 h retention"
