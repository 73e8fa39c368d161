"""What the bench's processes share: paths, sample events with fresh ids, Stripe signing, a Lambda context.

Standard library only. The cold-start children do not import it (bench/cold.py is self-contained).
"""

import copy
import hashlib
import hmac
import json
import os
import statistics
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
EVENTS = ROOT / "events"
FUNCTIONS = ROOT / "functions"
TEMPLATE = ROOT / "template.yaml"

CAMPAIGN_ID = "demo"  # seeded by the local stack, with an Events API token
SESSION_ID = "5f0c2b1e-8d7a-4c1b-9e0f-0a1b2c3d4e5f"
ORIGIN = "https://funnel.example.com"
STRIPE_SAMPLE = "stripe_payment_intent_succeeded.json"

# The six beacon kinds, cycled to make a realistic 50-event beacon (docs/design.md §3).
_KINDS = ("page_view", "page_completed", "email_captured", "checkout_presented", "payment_method_added", "lead")
_CONTENTS = [{"content_id": "plan_pro", "content_name": "Pro plan", "quantity": 1, "price": 9.99}]


def beacon_events(count: int, now_ms: int | None = None) -> list[dict]:
    """`count` valid beacon events with ids never used before (the ledger must not deduplicate them)."""
    now_ms = now_ms or int(time.time() * 1000)
    run = uuid.uuid4().hex[:12]
    events = []
    for i in range(count):
        kind = _KINDS[i % len(_KINDS)] if count > 1 else "page_view"
        event = {"event": kind, "event_id": f"bench-{run}-{i}", "time": now_ms - (count - i),
                 "page": {"url": f"https://funnel.example.com/quiz/{i}", "referrer": "https://www.tiktok.com/"}}
        if kind == "page_completed":
            event["step"] = {"index": i, "id": f"quiz-{i}"}
        elif kind == "email_captured":
            event["email"] = "Ann@Example.com"
        elif kind in ("checkout_presented", "payment_method_added"):
            event.update(value=9.99, currency="USD", contents=copy.deepcopy(_CONTENTS))
        events.append(event)
    return events


def beacon_body(count: int, now_ms: int | None = None) -> str:
    sample = json.loads(json.loads((EVENTS / "post_events.json").read_text())["body"])
    sample["campaign_id"] = CAMPAIGN_ID
    sample["session_id"] = SESSION_ID
    sample["events"] = beacon_events(count, now_ms)
    return json.dumps(sample)


def beacon_apigw_event(count: int, now_ms: int | None = None) -> dict:
    """The API Gateway v2 event of a beacon (events/post_events.json) carrying `count` fresh events."""
    event = json.loads((EVENTS / "post_events.json").read_text())
    body = beacon_body(count, now_ms)
    event["body"] = body
    event["headers"]["content-length"] = str(len(body.encode()))
    event["headers"]["origin"] = ORIGIN
    event["requestContext"]["requestId"] = uuid.uuid4().hex
    return event


def stripe_signature(body: str, secret: str, timestamp: int | None = None) -> str:
    """Stripe-Signature as Stripe makes it: HMAC-SHA256 over "{t}.{body}"."""
    timestamp = timestamp or int(time.time())
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def stripe_apigw_event(secret: str) -> dict | None:
    """A signed payment_intent.succeeded for the demo campaign, with a PaymentIntent id never sent before."""
    path = EVENTS / STRIPE_SAMPLE
    if not path.exists():
        return None
    event = json.loads(path.read_text())
    stripe_event = json.loads(event["body"])
    suffix = uuid.uuid4().hex[:16]
    stripe_event["id"] = f"evt_bench{suffix}"
    stripe_event["created"] = int(time.time())
    intent = stripe_event["data"]["object"]
    intent["id"] = f"pi_bench{suffix}"
    intent.setdefault("metadata", {}).update(zellify_campaign_id=CAMPAIGN_ID, zellify_session_id=SESSION_ID)
    body = json.dumps(stripe_event, indent=2)
    event["body"] = body
    event["isBase64Encoded"] = False
    event["headers"]["content-length"] = str(len(body.encode()))
    event["headers"]["stripe-signature"] = stripe_signature(body, secret)
    event["requestContext"]["requestId"] = uuid.uuid4().hex
    return event


class LambdaContext:
    function_name = "bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "bench"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def aws_environment(endpoint_url: str) -> dict[str, str]:
    """Dummy credentials and one endpoint for every AWS service (moto's server)."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


def child_environment(extra: dict[str, str]) -> dict[str, str]:
    """The parent's environment without anything that would point a child at real AWS, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "POWERTOOLS_", "TIKTOK_")) and k not in ("PYTHONPATH",)}
    env.update({"POWERTOOLS_SERVICE_NAME": "zellify-tiktok", "POWERTOOLS_METRICS_NAMESPACE": "ZellifyTikTok",
                "POWERTOOLS_LOG_LEVEL": "INFO", "POWERTOOLS_TRACE_DISABLED": "true"})
    env.update(extra)
    return env


def http(base_url: str, path: str, method: str = "GET", body: bytes | None = None,
         headers: dict | None = None) -> tuple[int, bytes]:
    """One request to the local stack: its status and body, whatever the status."""
    request = urllib.request.Request(f"{base_url}{path}", data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
