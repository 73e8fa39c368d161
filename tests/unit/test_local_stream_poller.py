"""The local stack's stream event source (local/poller.py) offers a failed batch again as Lambda does: the same
records, not grown by what arrived meanwhile (the HealthFunction counts a batch once by its records' ids)."""

from types import SimpleNamespace

from local.poller import StreamPoller
from local.template import StreamEventSpec

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/SentEventsTable/stream/2026-12-01T00:00:00.000"


class Streams:
    """One shard; `arrive` appends records that the next GetRecords hands over."""

    def __init__(self):
        self.records: list[dict] = []
        self.read = 0

    def arrive(self, *ids: str) -> None:
        self.records.extend({"eventID": i, "eventName": "INSERT", "dynamodb": {}} for i in ids)

    def describe_stream(self, StreamArn):
        return {"StreamDescription": {"Shards": [{"ShardId": "shard-1"}]}}

    def get_shard_iterator(self, **_):
        return {"ShardIterator": "it"}

    def get_records(self, ShardIterator, Limit):
        new, self.read = self.records[self.read:], len(self.records)
        return {"Records": new, "NextShardIterator": "it"}


class Function:
    spec = SimpleNamespace(name="HealthFunction", timeout_s=30)

    def __init__(self, failures: int):
        self.failures = failures
        self.batches: list[list[str]] = []

    def invoke(self, event):
        self.batches.append([r["eventID"] for r in event["Records"]])
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the write timed out")


def test_a_failed_batch_comes_again_unchanged_and_what_arrived_meanwhile_follows():
    streams, function = Streams(), Function(failures=2)
    spec = StreamEventSpec(function="HealthFunction", stream_arn=ARN, batch_size=3, batching_window_s=0, filters=[])
    poller = StreamPoller(function, spec, ARN)
    streams.arrive("a", "b")
    poller._poll(streams)
    streams.arrive("c", "d")
    poller._poll(streams)
    streams.arrive("e")
    poller._poll(streams)
    assert function.batches == [["a", "b"], ["a", "b"], ["a", "b"], ["c", "d", "e"]]
