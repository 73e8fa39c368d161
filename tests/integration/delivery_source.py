"""The DeliveryFunction's SQS event source mapping as Lambda runs it, around moto's DeliveryQueue.

Lambda receives what is visible (up to the batch size, with the queue's visibility timeout), invokes the
function with the records, and deletes every record the answer does not report in `batchItemFailures`;
a reported record stays, hidden for whatever visibility the function gave it (its backoff). Each receive
counts one in SQS's ApproximateReceiveCount, and moto moves a message to the DeadLetterQueue once it
was received `maxReceiveCount` times, as SQS does.
"""

import contextlib
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import delivery_app
from botocore.exceptions import ReadTimeoutError
from zellify_tiktok.repositories.aws import client

from tests.integration.conftest import LambdaContext

# What moto answers per ReceiveMessage; the template's BatchSize (1000) is reached over several.
RECEIVE_LIMIT = 10


def lambda_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    return {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
            "attributes": message["Attributes"], "messageAttributes": {}, "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": "us-east-1"}


class DeliveryEventSource:
    def __init__(self, aws: dict[str, str], *, batch_size: int = 1000):
        self.sqs = boto3.client("sqs")
        self.url = aws["DELIVERY_QUEUE_URL"]
        self.dead_letter_url = aws["DEAD_LETTER_QUEUE_URL"]
        self.arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.batch_size = batch_size
        self.invocations = 0
        # Receives per queue message (its message_id: a deferred copy keeps the original's).
        self.receives: Counter[str] = Counter()

    def receive(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        while len(records) < self.batch_size:
            got = self.sqs.receive_message(QueueUrl=self.url, AttributeNames=["All"], WaitTimeSeconds=0,
                                           MaxNumberOfMessages=min(RECEIVE_LIMIT, self.batch_size - len(records)),
                                           ).get("Messages", [])
            if not got:
                break
            records.extend(lambda_record(message, self.arn) for message in got)
        for record in records:
            self.receives[message_id(record)] += 1
        return records

    def invoke(self, records: list[dict[str, Any]], context: LambdaContext | None = None) -> dict[str, Any]:
        """Invoke the DeliveryFunction with `records`, then delete what it did not report failed, as Lambda does."""
        self.invocations += 1
        response = delivery_app.lambda_handler({"Records": records}, context or LambdaContext())
        failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
        for record in records:
            if record["messageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=record["receiptHandle"])
        return response

    def poll(self, context: LambdaContext | None = None) -> dict[str, Any] | None:
        """One poll: an invocation when something is visible; its answer, or None."""
        records = self.receive()
        return self.invoke(records, context) if records else None

    def depth(self, url: str | None = None) -> int:
        """Messages in the queue (the DeliveryQueue by default): visible, in a backoff or delayed."""
        attributes = self.sqs.get_queue_attributes(QueueUrl=url or self.url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed"])["Attributes"]
        return sum(int(value) for value in attributes.values())

    def dead_letter_depth(self) -> int:
        return self.depth(self.dead_letter_url)


def message_id(record: dict[str, Any]) -> str:
    try:
        return str(json.loads(record["body"])["message_id"])
    except (ValueError, KeyError, TypeError):
        return record["messageId"]


@contextlib.contextmanager
def _hooked(handler, *event_names: str) -> Iterator[None]:
    """`handler` registered on the layer's SQS client for these botocore events inside the block."""
    events = client("sqs").meta.events
    for name in event_names:
        events.register(name, handler, unique_id=f"delivery-source-{name}-{id(handler)}")
    try:
        yield
    finally:
        for name in event_names:
            events.unregister(name, unique_id=f"delivery-source-{name}-{id(handler)}")


@contextlib.contextmanager
def sqs_operations() -> Iterator[list[str]]:
    """The name of every SQS operation the layer calls inside the block, in order."""
    called: list[str] = []
    with _hooked(lambda model, **_: called.append(model.name), "before-call.sqs"):
        yield called


@contextlib.contextmanager
def visibility_changes() -> Iterator[list[int]]:
    """The VisibilityTimeout of every message visibility change the layer makes inside the block, in order
    (single or batched calls alike)."""
    changes: list[int] = []

    def record(params, **_):
        changes.extend(entry["VisibilityTimeout"] for entry in params.get("Entries", [params]))

    with _hooked(record, "before-parameter-build.sqs.ChangeMessageVisibility",
                 "before-parameter-build.sqs.ChangeMessageVisibilityBatch"):
        yield changes


@contextlib.contextmanager
def sent_batches() -> Iterator[list[dict[str, Any]]]:
    """The parameters (QueueUrl, Entries) of every SendMessage and SendMessageBatch the layer makes inside the
    block, in order (a SendMessage as a batch of one)."""
    sent: list[dict[str, Any]] = []

    def record(params, **_):
        entries = params.get("Entries") or [{"Id": "0", "MessageBody": params["MessageBody"],
                                             "DelaySeconds": params.get("DelaySeconds", 0)}]
        sent.append({"QueueUrl": params["QueueUrl"], "Entries": [dict(entry) for entry in entries]})

    with _hooked(record, "before-parameter-build.sqs.SendMessageBatch", "before-parameter-build.sqs.SendMessage"):
        yield sent


@contextlib.contextmanager
def queue_refusing(url: str) -> Iterator[None]:
    """Inside the block every SendMessage and SendMessageBatch to `url` times out."""
    def refuse(params, **_):
        if params["QueueUrl"] == url:
            raise ReadTimeoutError(endpoint_url=url)

    with _hooked(refuse, "provide-client-params.sqs.SendMessageBatch", "provide-client-params.sqs.SendMessage"):
        yield


def peek(url: str) -> list[dict[str, Any]]:
    """The bodies of the visible messages of a queue of at most ten, left where they are."""
    got = boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                              AttributeNames=["All"]).get("Messages", [])
    return [json.loads(message["Body"]) for message in got]
