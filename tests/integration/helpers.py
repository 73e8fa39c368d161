"""Building API Gateway events from the samples in events/ and calling the handlers."""

import base64
import json
import os
import time

import boto3
import collect_app
import health_app
import settings_app
from botocore.config import Config

from tests.integration.conftest import ROOT, LambdaContext, load_event

ADMIN_SETTINGS = {
    "pixel_id": "C4ABCDEF0123456789AB", "access_token": "tt-access-token-0123456789abcdef",
    "test_event_code": None, "enabled": True, "allowed_origins": ["https://funnel.example.com"],
    "event_names": {}, "limited_data_use": False, "require_consent": False, "report_renewals": False,
    "stripe_account": None,
}


def call(handler, event: dict, context: LambdaContext | None = None) -> tuple[int, dict, dict | str]:
    response = handler.lambda_handler(event, context or LambdaContext())
    body = response.get("body") or ""
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = body
    return response["statusCode"], response.get("headers", {}), parsed


def settings_event(method: str, campaign_id: str = "demo", body: str | None = None) -> dict:
    """The sample settings event of `method`, aimed at `campaign_id`."""
    name = {"GET": "get_settings.json", "DELETE": "delete_settings.json", "PUT": "put_settings.json"}[method]
    event = load_event(name)
    event["rawPath"] = f"/v1/campaigns/{campaign_id}/tiktok"
    event["requestContext"]["http"]["path"] = event["rawPath"]
    event["pathParameters"] = {"campaign_id": campaign_id}
    if body is not None:
        event["body"] = body
    return event


def put_settings(campaign_id: str = "demo", **overrides) -> tuple[int, dict]:
    return settings_request("PUT", campaign_id, json.dumps({**ADMIN_SETTINGS, **overrides}))


def settings_request(method: str, campaign_id: str = "demo", body: str | None = None) -> tuple[int, dict]:
    status, _, parsed = call(settings_app, settings_event(method, campaign_id, body))
    return status, parsed


def beacon_body(events=None, **envelope) -> dict:
    sample = json.loads(load_event("post_events.json")["body"])
    now = int(time.time() * 1000)
    for event in sample["events"]:
        event["time"] = now
    sample.update(envelope)
    if events is not None:
        sample["events"] = events
    return sample


class DeliveryContext(LambdaContext):
    """An invocation of the DeliveryFunction, with its template Timeout (30 s) ahead of it."""

    @staticmethod
    def get_remaining_time_in_millis():
        return 30_000


def deliver_queued(context: LambdaContext | None = None, *, rounds: int = 10) -> list[dict]:
    """The DeliveryFunction over what waits visibly in the DeliveryQueue, as its event source mapping would
    hand it over, until nothing visible is left (at most `rounds` invocations); its answers."""
    from tests.integration.delivery_source import DeliveryEventSource

    source = DeliveryEventSource(dict(os.environ))
    answers = []
    while len(answers) < rounds and (answer := source.poll(context or DeliveryContext())) is not None:
        answers.append(answer)
    return answers


def post_beacon(body: dict | bytes | str, *, origin: str | None = "https://funnel.example.com",
                base64_encoded: bool = False, headers: dict | None = None,
                context: LambdaContext | None = None, deliver: bool = True) -> tuple[int, dict, dict]:
    """The collector's answer to a beacon; with `deliver`, the DeliveryFunction then takes what it queued."""
    event = load_event("post_events.json")
    raw = body if isinstance(body, bytes | str) else json.dumps(body)
    raw_bytes = raw.encode() if isinstance(raw, str) else raw
    if base64_encoded:
        event["body"], event["isBase64Encoded"] = base64.b64encode(raw_bytes).decode(), True
    else:
        event["body"] = raw_bytes.decode("utf-8")
    if origin is None:
        event["headers"].pop("origin", None)
    else:
        event["headers"]["origin"] = origin
    event["headers"].update(headers or {})
    answer = call(collect_app, event, context)
    if deliver:
        deliver_queued()
    return answer


def ledger_stream_records(aws: dict) -> list[dict]:
    """Every record of the SentEvents table's stream so far, as Lambda hands them over."""
    table = boto3.client("dynamodb").describe_table(TableName=aws["SENT_EVENTS_TABLE"])["Table"]
    # botocore names an account-based streams endpoint (…streams-ddb…) that moto's in-process mock does not route.
    streams = boto3.client("dynamodbstreams", config=Config(account_id_endpoint_mode="disabled"))
    arn = table["LatestStreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            answer = streams.get_records(ShardIterator=iterator)
            if not answer["Records"]:
                break
            records.extend({**r, "eventSourceARN": arn} for r in answer["Records"])
            iterator = answer.get("NextShardIterator")
    return records


def run_health_function(aws: dict) -> dict:
    """The HealthFunction over the ledger's new items, filtered as the template's event source filters."""
    from local.poller import matches
    from local.template import Template

    (spec,) = Template(ROOT / "template.yaml").stream_events()
    records = [r for r in ledger_stream_records(aws) if any(matches(f, r) for f in spec.filters)]
    return health_app.lambda_handler({"Records": records}, LambdaContext())


def health_totals(runtime, campaign_id: str, around: float) -> dict[str, int]:
    """Each outcome's raw sum over a campaign's buckets of the two days around `around` (epoch seconds):
    unlike the health answer, not clamped at 0, so a count taken away twice shows."""
    from zellify_tiktok.health_figures import OUTCOMES, hour_of

    buckets = runtime.health.read(campaign_id, hour_of(around) - 86400, hour_of(around) + 86400)
    return {outcome: sum(b.counts.get(outcome, 0) for b in buckets) for outcome in OUTCOMES}
