"""Events per TikTok call when the DeliveryFunction drains a backlog.

    python bench/drain.py RESULT_FILE --beacons N --batch-size B   (environment: the local stack's)

1. N beacons of 50 events go through the local stack's collector over HTTP, which queues each beacon's
   events on the DeliveryQueue (the stack's poller is stopped: a backlog, as after an outage).
2. The DeliveryQueue is then drained the way Lambda's SQS event source does it: batches of up to
   BatchSize records (template.yaml) and 6 MB, handed to the DeliveryFunction's handler (in this process),
   successful records deleted, failed ones left for a later batch.
3. The stand-in's log gives the TikTok calls the drain made and the events they carried.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:0] = [str(ROOT / "functions" / "delivery"), str(ROOT)]

import boto3  # noqa: E402
import delivery_app  # noqa: E402
from common import ORIGIN, LambdaContext, beacon_body, http  # noqa: E402

from local.poller import sqs_record  # noqa: E402

EVENTS_PER_BEACON = 50
LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024


def fill_queue(base_url: str, beacons: int) -> int:
    fault = json.dumps({"http_status": 503, "times": beacons}).encode()
    http(base_url, "/_dev/tiktok/faults", "DELETE")
    status, _ = http(base_url, "/_dev/tiktok/faults", "POST", fault, {"Content-Type": "application/json"})
    if status != 200:
        raise SystemExit(f"the TikTok stand-in refused the fault: {status}")
    accepted = 0
    for _ in range(beacons):
        status, answer = http(base_url, "/v1/events", "POST", beacon_body(EVENTS_PER_BEACON).encode(),
                              {"Content-Type": "text/plain;charset=UTF-8", "Origin": ORIGIN})
        if status != 202:
            raise SystemExit(f"the collector answered {status}: {answer[:300]!r}")
        accepted += len(json.loads(answer)["accepted"])
    http(base_url, "/_dev/tiktok/faults", "DELETE")
    return accepted


def receive_batch(sqs, queue_url: str, batch_size: int) -> list[dict]:
    """Up to batch_size messages and 6 MB, as Lambda's poller gathers them within its batching window."""
    batch: list[dict] = []
    size = 0
    empty_polls = 0
    while len(batch) < batch_size and empty_polls < 2:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=min(10, batch_size - len(batch)),
                                       VisibilityTimeout=600, WaitTimeSeconds=0, AttributeNames=["All"],
                                       MessageAttributeNames=["All"]).get("Messages", [])
        if not messages:
            empty_polls += 1
            continue
        for message in messages:
            body_size = len(message["Body"].encode())
            if batch and size + body_size > LAMBDA_PAYLOAD_LIMIT:
                # Does not fit this invocation: back in the queue at once, for the next batch.
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                              VisibilityTimeout=0)
                return batch
            batch.append(message)
            size += body_size
    return batch


def drain(sqs, queue_url: str, queue_arn: str, batch_size: int) -> dict:
    stats = {"invocations": 0, "records": 0, "failed_records": 0, "handler_s": 0.0}
    while True:
        messages = receive_batch(sqs, queue_url, batch_size)
        if not messages:
            return stats
        event = {"Records": [sqs_record(m, queue_arn) for m in messages]}
        started = time.perf_counter()
        answer = delivery_app.lambda_handler(event, LambdaContext())
        stats["handler_s"] += time.perf_counter() - started
        failed = {f["itemIdentifier"] for f in (answer or {}).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start:start + 10])])
        stats["invocations"] += 1
        stats["records"] += len(messages)
        stats["failed_records"] += len(failed)
        if failed and len(failed) == len(messages):
            return stats  # nothing moves: stop rather than spin (reported as failed records)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("result_file")
    parser.add_argument("--beacons", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    base_url = os.environ["PUBLIC_BASE_URL"]
    queue_url = os.environ["DELIVERY_QUEUE_URL"]
    sqs = boto3.client("sqs")
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    started = time.perf_counter()
    accepted = fill_queue(base_url, args.beacons)
    fill_s = time.perf_counter() - started
    queued = int(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
                 ["Attributes"]["ApproximateNumberOfMessages"])
    http(base_url, "/_dev/tiktok/requests", "DELETE")

    started = time.perf_counter()
    stats = drain(sqs, queue_url, queue_arn, args.batch_size)
    drain_s = time.perf_counter() - started
    status, raw = http(base_url, "/_dev/tiktok/requests")
    requests = json.loads(raw) if status == 200 else []
    sent_events = sum(len((r.get("body") or {}).get("data") or []) for r in requests
                      if (r.get("response") or {}).get("code") == 0)
    result = {
        "events_per_tiktok_call_drain": sent_events / len(requests) if requests else None,
        "beacons": args.beacons, "events_accepted": accepted, "messages_queued": queued,
        "batch_size": args.batch_size, "tiktok_calls": len(requests), "events_sent": sent_events,
        "fill_s": fill_s, "drain_s": drain_s, **stats,
    }
    Path(args.result_file).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
