"""The local stack imitates API Gateway's route throttling (429 in API Gateway's own shape)."""

import json
from pathlib import Path

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from local.apigw import HttpApi, Route, TokenBucket
from local.template import Resolver, RouteSpec, Template

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_the_burst_then_the_rate():
    clock = Clock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.now = 0.5
    assert bucket.take() and not bucket.take()


def test_limits_come_from_the_template():
    template = Template(ROOT / "template.yaml")
    default, per_route = template.throttling(Resolver(template, {}))
    parameters = template.parameters
    assert default == (float(parameters["ThrottlingRateLimit"]["Default"]),
                       float(parameters["ThrottlingBurstLimit"]["Default"]))
    assert per_route["PUT /v1/campaigns/{campaign_id}/tiktok"] == (50.0, 100.0)


def test_a_throttled_route_answers_429_without_calling_the_function():
    class Function:
        calls = 0

        def invoke(self, event):
            Function.calls += 1
            return {"statusCode": 202, "body": "{}"}

    spec = RouteSpec(function="CollectFunction", method="POST", path="/v1/events")
    api = HttpApi([Route(spec, Function())], None, ((1.0, 1.0), {}))
    request = lambda: Request(EnvironBuilder(path="/v1/events", method="POST", data="{}").get_environ())  # noqa: E731
    assert api.handle(request()).status_code == 202
    throttled = api.handle(request())
    assert throttled.status_code == 429 and json.loads(throttled.get_data()) == {"message": "Too Many Requests"}
    assert Function.calls == 1
