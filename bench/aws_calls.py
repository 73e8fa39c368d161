"""AWS API calls per warm beacon on the request path, counted with botocore's event hooks (and the TikTok calls
it made: none, the DeliveryFunction sends).

    python bench/aws_calls.py RESULT_FILE      (environment: the local stack's, from bench/run.py)

The collector's handler runs in this process against the local stack's moto server and TikTok
stand-in. A `before-call` hook on each cached client (zellify_tiktok.repositories.aws.client) counts
every API call. The runtime is warmed first (campaign and token cached), as in a warm container.
"""

import json
import os
import sys
import urllib.request
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(ROOT / "functions" / "collect"))

import collect_app  # noqa: E402
from common import LambdaContext, beacon_apigw_event  # noqa: E402
from zellify_tiktok.repositories.aws import client  # noqa: E402

SERVICES = ("dynamodb", "secretsmanager", "sqs")
calls: list[str] = []


def count_call(event_name: str, **_) -> None:
    calls.append(event_name.removeprefix("before-call."))


def tiktok_requests(base_url: str, method: str = "GET") -> list:
    request = urllib.request.Request(f"{base_url}/_dev/tiktok/requests", method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"[]") if method == "GET" else []


def serve(size: int) -> dict:
    response = collect_app.lambda_handler(beacon_apigw_event(size), LambdaContext())
    body = json.loads(response["body"])
    if response["statusCode"] != 202 or len(body["accepted"]) != size:
        raise SystemExit(f"the collector answered {response['statusCode']}: {response['body'][:300]}")
    return body


def main(result_file: str) -> int:
    base_url = os.environ["PUBLIC_BASE_URL"]
    for service in SERVICES:
        client(service).meta.events.register("before-call", count_call)
    serve(1)  # warm: clients made, campaign config and token cached
    warmup_calls = list(calls)
    result: dict = {"warmup_calls": warmup_calls}
    for size in (1, 50):
        calls.clear()
        tiktok_requests(base_url, "DELETE")
        serve(size)
        sent = tiktok_requests(base_url)
        result[f"aws_calls_per_beacon_{size}"] = len(calls)
        result[f"operations_{size}"] = list(calls)
        result[f"tiktok_calls_per_beacon_{size}"] = len(sent)
        result[f"tiktok_events_{size}"] = sum(len((r.get("body") or {}).get("data") or []) for r in sent)
    Path(result_file).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
