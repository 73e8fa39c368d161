"""Event source mappings: long-poll a queue, or read a DynamoDB stream, and hand batches to a function,
as Lambda does."""

import base64
import logging
import threading
import traceback
from typing import Any

import boto3

from .functions import LambdaFunction
from .template import REGION, SqsEventSpec, StreamEventSpec

log = logging.getLogger("local.poller")

WAIT_TIME_S = 1
# ReceiveMessage returns at most 10 messages.
MAX_RECEIVE = 10


def _lambda_message_attribute(attribute: dict) -> dict:
    """An SQS message attribute as Lambda's SQS event writes it (camelCase, binary as base64)."""
    converted = {
        "stringListValues": attribute.get("StringListValues", []),
        "binaryListValues": [base64.b64encode(v).decode() for v in attribute.get("BinaryListValues", [])],
        "dataType": attribute["DataType"],
    }
    if "StringValue" in attribute:
        converted["stringValue"] = attribute["StringValue"]
    if "BinaryValue" in attribute:
        converted["binaryValue"] = base64.b64encode(attribute["BinaryValue"]).decode()
    return converted


def sqs_record(message: dict, queue_arn: str) -> dict:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {
            name: _lambda_message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


class Poller:
    """A daemon thread that polls until asked to stop; what the stack's shutdown needs of every poller.

    `_run` checks `self._stopping` between polls and waits on it (never `time.sleep`), and each AWS call
    it makes returns within about WAIT_TIME_S, so a stop takes effect within a poll; a function invocation
    under way is not cut short (a daemon thread: the process does not wait for it).
    """

    def __init__(self, function: LambdaFunction, name: str):
        self.function = function
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        self._stopping.set()

    def join(self, timeout: float) -> bool:
        """Wait at most `timeout` seconds for the thread to end; answer whether it has."""
        if self._thread.ident is not None:
            self._thread.join(timeout=max(0.0, timeout))
        return not self._thread.is_alive()

    def stop(self, timeout: float | None = None) -> bool:
        self.request_stop()
        return self.join(WAIT_TIME_S + self.function.spec.timeout_s + 1 if timeout is None else timeout)

    def _run(self) -> None:
        raise NotImplementedError


class SqsPoller(Poller):
    def __init__(self, function: LambdaFunction, spec: SqsEventSpec, queue_url: str, queue_arn: str):
        super().__init__(function, f"sqs-poller-{function.spec.name}")
        self.spec = spec
        self.queue_url = queue_url
        self.queue_arn = queue_arn

    def _run(self) -> None:
        sqs = boto3.client("sqs")
        while not self._stopping.is_set():
            try:
                messages = sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=min(self.spec.batch_size, MAX_RECEIVE),
                    WaitTimeSeconds=WAIT_TIME_S,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
                if messages:
                    self._deliver(sqs, messages)
            except Exception:
                log.error("polling %s failed:\n%s", self.queue_url, traceback.format_exc())
                self._stopping.wait(WAIT_TIME_S)

    def _deliver(self, sqs, messages: list[dict]) -> None:
        try:
            result = self.function.invoke({"Records": [sqs_record(m, self.queue_arn) for m in messages]})
        except Exception:
            # Lambda deletes nothing: the batch is received again after the visibility timeout.
            log.error("%s failed on a batch of %d message(s):\n%s", self.function.spec.name, len(messages),
                      traceback.format_exc())
            return
        done = [m for m in messages if m["MessageId"] not in self._failed_ids(result, messages)]
        if done:
            sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]} for index, m in enumerate(done)
            ])

    def _failed_ids(self, result: object, messages: list[dict]) -> set[str]:
        """The messages to leave in the queue, read from batchItemFailures as Lambda reads it."""
        ids = {m["MessageId"] for m in messages}
        if not self.spec.report_batch_item_failures or not isinstance(result, dict):
            return set()
        failures = result.get("batchItemFailures") or []
        failed = {f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures}
        if not failed <= ids:
            # Lambda treats a malformed answer as the whole batch failing.
            log.warning("%s answered malformed batchItemFailures %r: the whole batch fails",
                        self.function.spec.name, failures)
            return ids
        return failed


def matches(pattern: Any, value: Any) -> bool:
    """An EventBridge-style filter pattern, as Lambda's FilterCriteria applies it (the parts we use:
    nested objects, lists of accepted values, and `{"exists": true|false}`)."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        for key, sub in pattern.items():
            if isinstance(sub, list) and sub and all(isinstance(s, dict) and "exists" in s for s in sub):
                if (key in value) != sub[0]["exists"]:
                    return False
            elif key not in value or not matches(sub, value[key]):
                return False
        return True
    if isinstance(pattern, list):
        return any(matches(option, value) if isinstance(option, dict) else option == value for option in pattern)
    return bool(pattern == value)


class StreamPoller(Poller):
    """A DynamoDB stream event source mapping: reads every shard from its start, filters, batches, invokes.

    A batch the function fails on is offered again, the same records, on the next poll, as Lambda retries a
    stream batch.
    """

    def __init__(self, function: LambdaFunction, spec: StreamEventSpec, stream_arn: str, poll_s: float = 1.0):
        super().__init__(function, f"stream-poller-{function.spec.name}")
        self.spec = spec
        self.stream_arn = stream_arn
        self.poll_s = poll_s
        self._iterators: dict[str, str | None] = {}
        self._pending: list[dict] = []
        self._failed_size = 0

    def _run(self) -> None:
        streams = boto3.client("dynamodbstreams")
        while not self._stopping.wait(self.poll_s):
            try:
                self._poll(streams)
            except Exception:
                log.error("polling %s failed:\n%s", self.stream_arn, traceback.format_exc())

    def _poll(self, streams: Any) -> None:
        for shard in streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            iterator = self._iterators[shard_id]
            while iterator and not self._stopping.is_set():
                answer = streams.get_records(ShardIterator=iterator, Limit=1000)
                records = answer.get("Records", [])
                self._pending.extend({**r, "eventSourceARN": self.stream_arn} for r in records
                                     if not self.spec.filters or any(matches(f, r) for f in self.spec.filters))
                iterator = answer.get("NextShardIterator")
                self._iterators[shard_id] = iterator
                if not records:
                    break
        while self._pending and not self._stopping.is_set():
            # A failed batch is offered again as it was, not grown by the records that came meanwhile: Lambda
            # retries the same batch (the HealthFunction's adds are idempotent per batch, §9).
            batch = self._pending[:self._failed_size or self.spec.batch_size]
            try:
                self.function.invoke({"Records": batch})
            except Exception:
                self._failed_size = len(batch)
                log.error("%s failed on a stream batch of %d record(s); retried on the next poll:\n%s",
                          self.function.spec.name, len(batch), traceback.format_exc())
                return
            self._failed_size = 0
            del self._pending[:len(batch)]
