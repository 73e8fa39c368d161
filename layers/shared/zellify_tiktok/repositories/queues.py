"""DeliveryQueue and DeadLetterQueue (SQS). Messages carry built events, never a token or a raw email."""

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Union

from .aws import client

if TYPE_CHECKING:
    from ..messages import DeliveryMessage, UnreadableMessage

SEND_BATCH_LIMIT = 10
# SQS's longest per-message delay.
MAX_DELAY_S = 900
# SQS takes 256 KiB per message and per batch request; stay below with room for the envelope.
MAX_MESSAGE_BYTES = 200 * 1024
MAX_BATCH_BYTES = 240 * 1024

QueueMessage = Union["DeliveryMessage", "UnreadableMessage"]


class QueueUnavailable(Exception):
    pass


DEPTH_ATTRIBUTES = {
    "visible": "ApproximateNumberOfMessages",
    "in_flight": "ApproximateNumberOfMessagesNotVisible",
    "delayed": "ApproximateNumberOfMessagesDelayed",
}


class MessageQueue:
    def __init__(self, url: str):
        self.url = url

    def send(self, messages: Sequence[QueueMessage], *, delay_s: int = 0) -> None:
        """Send every message (hidden for `delay_s`) or raise QueueUnavailable (nothing silently dropped)."""
        if not self.url:
            raise QueueUnavailable("queue URL is not configured")
        bodies = [body for message in messages for body in _bodies(message)]
        sqs = client("sqs")
        if len(bodies) == 1:  # the request path's handoff: one SendMessage
            try:
                sqs.send_message(QueueUrl=self.url, MessageBody=bodies[0], DelaySeconds=delay_s)
            except Exception as exc:  # botocore errors of every kind mean the same here
                raise QueueUnavailable(type(exc).__name__) from None
            return
        for batch in batches(bodies):
            entries = [{"Id": str(i), "MessageBody": b, "DelaySeconds": delay_s} for i, b in enumerate(batch)]
            try:
                response = sqs.send_message_batch(QueueUrl=self.url, Entries=entries)
            except Exception as exc:  # botocore errors of every kind mean the same here
                raise QueueUnavailable(type(exc).__name__) from None
            failed = response.get("Failed") or []
            if failed:
                raise QueueUnavailable(f"{len(failed)} messages refused: {failed[0].get('Code')}")

    def send_body(self, body: str) -> None:
        """One message already written as its JSON body (the request path's handoff); or QueueUnavailable."""
        if not self.url:
            raise QueueUnavailable("queue URL is not configured")
        try:
            client("sqs").send_message(QueueUrl=self.url, MessageBody=body)
        except Exception as exc:  # botocore errors of every kind mean the same here
            raise QueueUnavailable(type(exc).__name__) from None

    def receive(self, max_messages: int, visibility_s: int) -> list[dict[str, Any]]:
        """Up to max_messages (≤ 10), hidden from other consumers for visibility_s."""
        response = client("sqs").receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=min(10, max_messages), VisibilityTimeout=visibility_s,
            AttributeNames=["All"], WaitTimeSeconds=0,
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def delete(self, receipt_handle: str) -> None:
        client("sqs").delete_message(QueueUrl=self.url, ReceiptHandle=receipt_handle)

    def postpone(self, visibility: Mapping[str, int]) -> int:
        """Show each received message (by receipt handle) again in its seconds (0: at once): how a retry
        backs off. Ten a call, so a batch of a thousand failed records costs 100 calls, not 1000. Best
        effort: returns how many SQS did not change (those keep the queue's own visibility timeout)."""
        handles = list(visibility.items())
        sqs = client("sqs")
        unchanged = 0
        for start in range(0, len(handles), SEND_BATCH_LIMIT):
            batch = handles[start:start + SEND_BATCH_LIMIT]
            entries = [{"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
                       for i, (handle, seconds) in enumerate(batch)]
            try:
                response = sqs.change_message_visibility_batch(QueueUrl=self.url, Entries=entries)
            except Exception:  # botocore errors of every kind mean the same here
                unchanged += len(batch)
                continue
            unchanged += len(response.get("Failed") or [])
        return unchanged

    def depth(self) -> dict[str, int]:
        attributes = client("sqs").get_queue_attributes(
            QueueUrl=self.url, AttributeNames=list(DEPTH_ATTRIBUTES.values())
        )["Attributes"]
        return {key: int(attributes.get(name, 0)) for key, name in DEPTH_ATTRIBUTES.items()}


def queue_url_by_name(name: str) -> str:
    url: str = client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
    return url


def _bodies(message: QueueMessage) -> list[str]:
    """The message as SQS bodies: one, or halves of its events until each fits in a message."""
    body = message.to_json()
    if message.kind == "unreadable" or len(body.encode("utf-8")) <= MAX_MESSAGE_BYTES or len(message.events) <= 1:
        return [body]
    middle = len(message.events) // 2
    return [
        *_bodies(message.model_copy(update={"message_id": f"{message.message_id}-a",
                                            "events": message.events[:middle]})),
        *_bodies(message.model_copy(update={"message_id": f"{message.message_id}-b",
                                            "events": message.events[middle:]})),
    ]


def batches(bodies: list[str]) -> list[list[str]]:
    """Up to 10 messages a batch, and no more bytes than one SendMessageBatch request takes."""
    result: list[list[str]] = []
    size = 0
    for body in bodies:
        length = len(body.encode("utf-8"))
        if not result or len(result[-1]) == SEND_BATCH_LIMIT or size + length > MAX_BATCH_BYTES:
            result.append([])
            size = 0
        result[-1].append(body)
        size += length
    return result
