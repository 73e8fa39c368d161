"""RetryQueue and DeadLetterQueue (SQS). Messages carry built payloads, never a token or a raw email."""

import json
import uuid

from .aws import client

SEND_BATCH_LIMIT = 10
# SQS takes 256 KiB per message and per batch request; stay below with room for the envelope.
MAX_MESSAGE_BYTES = 200 * 1024
MAX_BATCH_BYTES = 240 * 1024


class QueueUnavailable(Exception):
    pass


class MessageQueue:
    def __init__(self, url: str):
        self.url = url

    def send(self, messages: list[dict]) -> None:
        """Send every message or raise QueueUnavailable (nothing silently dropped)."""
        if not self.url:
            raise QueueUnavailable("queue URL is not configured")
        sqs = client("sqs")
        bodies = [json.dumps(m, separators=(",", ":"), default=str) for m in messages]
        for batch in _batches(bodies):
            entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(batch)]
            try:
                response = sqs.send_message_batch(QueueUrl=self.url, Entries=entries)
            except Exception as exc:  # botocore errors of every kind mean the same here
                raise QueueUnavailable(type(exc).__name__) from None
            failed = response.get("Failed") or []
            if failed:
                raise QueueUnavailable(f"{len(failed)} messages refused: {failed[0].get('Code')}")

    def receive(self, max_messages: int, visibility_s: int) -> list[dict]:
        """Up to max_messages (≤ 10), hidden from other consumers for visibility_s."""
        response = client("sqs").receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=min(10, max_messages), VisibilityTimeout=visibility_s,
            AttributeNames=["All"], WaitTimeSeconds=0,
        )
        return response.get("Messages", [])

    def delete(self, receipt_handle: str) -> None:
        client("sqs").delete_message(QueueUrl=self.url, ReceiptHandle=receipt_handle)

    def release(self, receipt_handle: str) -> None:
        """Make a received message visible again at once."""
        client("sqs").change_message_visibility(QueueUrl=self.url, ReceiptHandle=receipt_handle,
                                                VisibilityTimeout=0)

    def depth(self) -> dict[str, int]:
        attributes = client("sqs").get_queue_attributes(
            QueueUrl=self.url, AttributeNames=list(DEPTH_ATTRIBUTES.values())
        )["Attributes"]
        return {key: int(attributes.get(name, 0)) for key, name in DEPTH_ATTRIBUTES.items()}


def queue_url_by_name(name: str) -> str:
    return client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


DEPTH_ATTRIBUTES = {
    "visible": "ApproximateNumberOfMessages",
    "in_flight": "ApproximateNumberOfMessagesNotVisible",
    "delayed": "ApproximateNumberOfMessagesDelayed",
}


def _batches(bodies: list[str]) -> list[list[str]]:
    """Up to 10 messages a batch, and no more bytes than one SendMessageBatch request takes."""
    batches: list[list[str]] = []
    size = 0
    for body in bodies:
        length = len(body.encode("utf-8"))
        if not batches or len(batches[-1]) == SEND_BATCH_LIMIT or size + length > MAX_BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(body)
        size += length
    return batches


def split_for_queue(message: dict, events_key: str = "events") -> list[dict]:
    """Split a message whose events would not fit in one SQS message."""
    events = message[events_key]
    if len(events) <= 1 or len(json.dumps(message, default=str)) <= MAX_MESSAGE_BYTES:
        return [message]
    middle = len(events) // 2
    return [
        *split_for_queue({**message, events_key: events[:middle], "message_id": str(uuid.uuid4())}, events_key),
        *split_for_queue({**message, events_key: events[middle:], "message_id": str(uuid.uuid4())}, events_key),
    ]


def backoff_seconds(receive_count: int, *, base_s: int = 30, cap_s: int = 900) -> int:
    """Exponential backoff by delivery attempt, capped at SQS's 15-minute visibility maximum here."""
    return min(cap_s, base_s * 2 ** max(0, receive_count - 1))


class RetryDelays:
    """Postpones a failed message's next delivery (SQS visibility) so retries back off."""

    def __init__(self, url: str):
        self.url = url

    def postpone(self, receipt_handle: str, seconds: int) -> None:
        client("sqs").change_message_visibility(QueueUrl=self.url, ReceiptHandle=receipt_handle,
                                                VisibilityTimeout=seconds)
