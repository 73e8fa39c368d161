"""The local stack (docs/design.md §8) from the outside: `python -m local` in a subprocess, spoken to over HTTP."""

import base64
import copy
import gzip
import hashlib
import json
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from cfnlint.decode.cfn_yaml import loads as load_cfn_yaml
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from local.apigw import build_event, build_response
from local.template import RouteSpec
from tests.e2e import polling

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_cfn_yaml((ROOT / "template.yaml").read_text())
STACK_NAME = "zellify-tiktok-local"
TRACK = "/_dev/tiktok/open_api/v1.3/event/track/"
SHA = hashlib.sha256(b"ann@example.com").hexdigest()
DEMO_PIXEL = "CDEMO00000000000PIXEL"
DEMO_TOKEN = "dev-tiktok-token"
WAIT_S = 30


def resources(resource_type: str) -> dict[str, dict]:
    return {
        name: resource.get("Properties", {})
        for name, resource in TEMPLATE["Resources"].items()
        if resource["Type"] == resource_type and "Condition" not in resource
    }


def aws(stack, service: str):
    return boto3.client(service, endpoint_url=stack.aws_endpoint_url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def wait_for(predicate, what: str):
    return polling.wait_for(predicate, what, WAIT_S)


def valid_track_body() -> dict:
    return {
        "event_source": "web",
        "event_source_id": "C4ABCDEF0123456789AB",
        "test_event_code": "TEST12345",
        "data": [{
            "event": "CompletePayment",
            "event_time": int(time.time()),
            "event_id": "pi_e2e",
            "user": {"email": SHA, "external_id": [SHA], "ttp": "2F7h37YkS1j57AYSKTI7IHhJPYH",
                     "ttclid": "E.C.P.abc", "ip": "203.0.113.9", "user_agent": "Mozilla/5.0"},
            "page": {"url": "https://funnel.example.com/checkout", "referrer": "https://funnel.example.com/"},
            "properties": {"value": 9.99, "currency": "USD", "content_type": "product", "num_items": 1,
                           "contents": [{"content_id": "plan_pro", "content_name": "Pro plan", "quantity": 1,
                                         "price": 9.99}]},
            "limited_data_use": False,
        }],
    }


def post_track(stack, body, token: str | None = "tiktok-token") -> requests.Response:
    headers = {"Access-Token": token} if token is not None else {}
    return stack.request("POST", TRACK, json=body, headers=headers)


def beacon(stack, event_id: str, **extra) -> requests.Response:
    body = {"campaign_id": "demo", "session_id": f"e2e-{uuid.uuid4()}", "events": [
        {"event": "page_view", "event_id": event_id, "time": int(time.time() * 1000),
         "page": {"url": "https://funnel.example.com/"}},
    ], **extra}
    # What navigator.sendBeacon sends.
    return stack.request("POST", "/v1/events", data=json.dumps(body), headers={"Content-Type": "text/plain"})


# Health and AWS


def test_healthz_reports_aws_and_every_template_function(stack):
    answer = stack.get("/healthz")
    assert answer.status_code == 200
    health = answer.json()
    assert health["status"] == "ok"
    assert health["aws"] == "ok"
    # Every function of the template, each one's Handler imported from its CodeUri.
    assert health["functions"] == {name: "loaded" for name in resources("AWS::Serverless::Function")}
    assert health["function_errors"] == {}


def test_dev_aws_gives_the_moto_endpoint(stack):
    endpoint = stack.get("/_dev/aws").json()["endpoint_url"]
    assert endpoint.startswith("http://127.0.0.1:")
    assert "TableNames" in aws(stack, "dynamodb").list_tables()


def test_tables_come_from_the_template_with_their_keys_and_ttl(stack):
    dynamodb = aws(stack, "dynamodb")
    tables = resources("AWS::DynamoDB::Table")
    assert tables
    for name, props in tables.items():
        description = dynamodb.describe_table(TableName=name)["Table"]
        assert description["KeySchema"] == props["KeySchema"], name
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if props.get("TimeToLiveSpecification", {}).get("Enabled"):
            assert ttl["TimeToLiveStatus"] == "ENABLED", name
            assert ttl["AttributeName"] == props["TimeToLiveSpecification"]["AttributeName"], name
        else:
            assert ttl["TimeToLiveStatus"] == "DISABLED", name


def test_queues_come_from_the_template_with_their_redrive_policy(stack):
    sqs = aws(stack, "sqs")
    queues = resources("AWS::SQS::Queue")
    assert queues
    for name, props in queues.items():
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        if "VisibilityTimeout" in props:
            assert attributes["VisibilityTimeout"] == str(props["VisibilityTimeout"]), name
        if "RedrivePolicy" in props:
            dead_letter = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            policy = json.loads(attributes["RedrivePolicy"])
            assert policy["deadLetterTargetArn"] == f"arn:aws:sqs:us-east-1:123456789012:{dead_letter}"
            assert int(policy["maxReceiveCount"]) == props["RedrivePolicy"]["maxReceiveCount"]


@pytest.mark.parametrize(("variable", "expected"), [
    ("STRIPE_SECRET_NAME", {"live": ["whsec_dev"], "test": []}),
    ("PADDLE_SECRET_NAME", {"live": ["pdl_dev_live"], "test": ["pdl_dev_test"]}),
    ("SOLIDGATE_SECRET_NAME", {"live": ["wh_pk_dev_live:wh_sk_dev_live"], "test": ["wh_pk_dev_test:wh_sk_dev_test"]}),
])
def test_payment_signing_secrets_are_stored_under_the_template_names(stack, variable, expected):
    name = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"][variable]["Fn::Sub"]
    secret = aws(stack, "secretsmanager").get_secret_value(SecretId=name.replace("${AWS::StackName}", STACK_NAME))
    assert json.loads(secret["SecretString"]) == expected


# TikTok Events API stand-in


def test_track_without_access_token_is_40104_and_with_one_that_cannot_be_a_token_40105(tiktok):
    for token, code in ((None, 40104), ("", 40104), ("short", 40105), ("has a space", 40105)):
        answer = post_track(tiktok, valid_track_body(), token=token)
        assert answer.status_code == 200
        assert answer.json()["code"] == code, token


def test_track_accepts_a_valid_body(tiktok):
    answer = post_track(tiktok, valid_track_body())
    assert answer.status_code == 200
    body = answer.json()
    assert body["code"] == 0
    assert body["message"] == "OK"
    assert uuid.UUID(body["request_id"])


def _set(path: tuple, value):
    def mutate(body: dict) -> None:
        target = body
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return mutate


EVENT = ("data", 0)


@pytest.mark.parametrize(("mutate", "field"), [
    (_set((*EVENT, "event_time"), int(time.time() * 1000)), "data[0].event_time"),
    (_set((*EVENT, "event_time"), str(int(time.time()))), "data[0].event_time"),
    (_set((*EVENT, "event_time"), int(time.time()) + 3 * 86400), "data[0].event_time"),
    (_set((*EVENT, "properties", "contents", 0, "content_id"), 123), "data[0].properties.contents[0].content_id"),
    (_set((*EVENT, "properties", "contents", 0, "quantity"), 1.5), "data[0].properties.contents[0].quantity"),
    (_set((*EVENT, "properties", "contents", 0, "price"), "9.99"), "data[0].properties.contents[0].price"),
    (_set((*EVENT, "properties", "value"), "9.99"), "data[0].properties.value"),
    (_set((*EVENT, "properties", "value"), True), "data[0].properties.value"),
    (_set((*EVENT, "properties", "currency"), "XBT"), "data[0].properties.currency"),
    (_set((*EVENT, "user", "email"), "ann@example.com"), "data[0].user.email"),
    (_set((*EVENT, "user", "external_id"), [SHA[:-1]]), "data[0].user.external_id"),
    (_set((*EVENT, "user", "ip"), 7), "data[0].user.ip"),
    (_set((*EVENT, "user"), KeyError), "data[0].user"),
    (_set((*EVENT, "event"), ""), "data[0].event"),
    (_set((*EVENT, "event_id"), 42), "data[0].event_id"),
    (_set((*EVENT, "page", "url"), 7), "data[0].page.url"),
    (_set((*EVENT, "event"), "Checkout Started"), "data[0].event"),
    (_set((*EVENT, "limited_data_use"), "no"), "data[0].limited_data_use"),
    (_set(("event_source",), "app"), "event_source"),
    (_set(("event_source_id",), ""), "event_source_id"),
    (_set(("data",), []), "data"),
])
def test_track_names_the_invalid_field_in_40002(tiktok, mutate, field):
    body = valid_track_body()
    mutate(body)
    answer = post_track(tiktok, body)
    assert answer.status_code == 200
    result = answer.json()
    assert result["code"] == 40002
    assert result["message"].startswith(f"Invalid parameter: {field} ")


def test_one_invalid_event_fails_the_whole_request(tiktok):
    body = valid_track_body()
    bad = copy.deepcopy(body["data"][0])
    bad["properties"]["contents"][0]["content_id"] = 7
    body["data"] = [body["data"][0]] * 3 + [bad]
    result = post_track(tiktok, body).json()
    assert result["code"] == 40002
    assert "data[3].properties.contents[0].content_id must be a string" in result["message"]


def test_track_refuses_more_than_1000_events(tiktok):
    body = valid_track_body()
    body["data"] = body["data"] * 1001
    result = post_track(tiktok, body).json()
    assert result["code"] == 40002
    assert "data" in result["message"]


def test_requests_are_recorded_oldest_first_in_the_documented_shape(tiktok):
    first, second = valid_track_body(), valid_track_body()
    second["data"][0]["event_id"] = "pi_second"
    answers = [post_track(tiktok, first, token="token-1").json(), post_track(tiktok, second, token=None).json()]
    records = tiktok.tiktok_requests()
    assert len(records) == 2
    for record, body, answer in zip(records, (first, second), answers, strict=True):
        assert set(record) == {"received_at", "headers", "body", "response"}
        assert datetime.fromisoformat(record["received_at"].replace("Z", "+00:00")).tzinfo is not None
        assert record["body"] == body
        assert record["response"] == answer
    assert records[0]["headers"]["Access-Token"] == "token-1"
    assert "Access-Token" not in records[1]["headers"]
    assert records[0]["headers"]["Content-Type"] == "application/json"
    assert tiktok.request("DELETE", "/_dev/tiktok/requests").status_code in (200, 204)
    assert tiktok.tiktok_requests() == []


def test_faults_are_used_first_in_first_out_each_times_times(tiktok):
    queue = tiktok.add_fault({"code": 40100, "times": 2}, {"http_status": 503})
    assert queue == [{"code": 40100, "times": 2}, {"http_status": 503, "times": 1}]
    assert tiktok.faults() == queue
    answers = [post_track(tiktok, valid_track_body()) for _ in range(4)]
    assert [(a.status_code, a.json().get("code")) for a in answers] == [(200, 40100), (200, 40100), (503, None),
                                                                      (200, 0)]
    assert tiktok.faults() == []
    assert [r["response"] for r in tiktok.tiktok_requests()] == [a.json() for a in answers]


def test_a_fault_may_combine_a_delay_and_a_code(tiktok):
    tiktok.add_fault({"delay_ms": 100, "code": 40001})
    assert post_track(tiktok, valid_track_body()).json()["code"] == 40001
    assert post_track(tiktok, valid_track_body()).json()["code"] == 0


def test_a_delayed_answer_does_not_hold_up_other_requests(tiktok):
    tiktok.add_fault({"delay_ms": 4000})
    answers = []
    sender = threading.Thread(target=lambda: answers.append(post_track(tiktok, valid_track_body())))
    sender.start()
    # While the delayed request waits, the server still answers: its record shows it has no answer yet.
    in_flight = wait_for(lambda: [r for r in tiktok.tiktok_requests() if r["response"] is None],
                         "the delayed request to be recorded")
    assert len(in_flight) == 1
    sender.join()
    assert answers[0].json()["code"] == 0
    assert tiktok.tiktok_requests()[0]["response"] == answers[0].json()


def test_a_reset_fault_closes_the_connection_without_an_answer(tiktok):
    tiktok.add_fault({"reset": True})
    with pytest.raises(requests.ConnectionError):
        post_track(tiktok, valid_track_body())
    assert post_track(tiktok, valid_track_body()).json()["code"] == 0
    first = tiktok.tiktok_requests()[0]
    assert first["response"]["connection_reset"] is True


def test_invalid_faults_are_refused_and_delete_clears_the_queue(tiktok):
    for fault in ({"cod": 40100}, {"times": 2}, {"code": 40100, "times": 0}, {"http_status": 200}, "x"):
        answer = tiktok.request("POST", "/_dev/tiktok/faults", json=fault)
        assert answer.status_code == 400, fault
    assert tiktok.faults() == []
    tiktok.add_fault({"code": 40100, "times": 5})
    assert tiktok.request("DELETE", "/_dev/tiktok/faults").json() == []
    assert post_track(tiktok, valid_track_body()).json()["code"] == 0


# Pixel stand-in and dev pages


def test_pixel_stand_in_serves_the_sdk_and_records_calls(stack):
    sdk = stack.get("/_dev/pixel/sdk.js")
    assert sdk.status_code == 200
    assert sdk.headers["Content-Type"].startswith("application/javascript")
    stack.clear_pixel()
    calls = [{"pixel_id": "CPIX", "method": "track", "args": ["Lead", {}, {"event_id": "e-1"}]},
             {"pixel_id": "CPIX", "method": "identify", "args": [{"external_id": "s-1"}]}]
    # What the SDK sends from a funnel page, of this origin or another: text/plain, which no browser preflights.
    stored = stack.request("POST", "/_dev/pixel/requests", data=json.dumps(calls),
                           headers={"Content-Type": "text/plain", "Origin": "http://funnel.test"})
    assert stored.status_code == 200
    stack.request("POST", "/_dev/pixel/requests", json={"pixel_id": "CPIX", "method": "page", "args": []})
    recorded = stack.pixel_requests()
    assert [{k: r[k] for k in ("pixel_id", "method", "args")} for r in recorded] == [
        *calls, {"pixel_id": "CPIX", "method": "page", "args": []}]
    assert all(set(r) == {"received_at", "pixel_id", "method", "args"} for r in recorded)
    assert stack.request("POST", "/_dev/pixel/requests", data="not json").status_code == 400
    stack.clear_pixel()
    assert stack.pixel_requests() == []


@pytest.mark.parametrize("path", ["/_dev/pixel/requests", "/_dev/state", "/_dev/tiktok/requests",
                                  "/_dev/tiktok/faults", "/_dev/aws", "/_dev/", "/_dev/pixel/sdk.js"])
def test_dev_endpoints_let_no_other_origin_read_them(stack, path):
    answer = stack.get(path, headers={"Origin": "https://any-page.example"})
    assert answer.status_code == 200
    assert "Access-Control-Allow-Origin" not in answer.headers
    preflight = stack.request("OPTIONS", path, headers={"Origin": "https://any-page.example",
                                                        "Access-Control-Request-Method": "GET"})
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_emails_and_phones_given_to_the_pixel_are_recorded_as_the_hashes_the_pixel_sends(stack):
    stack.clear_pixel()
    identify = {"pixel_id": "CPIX", "method": "identify",
                "args": [{"email": "ann.smith@example.com", "phone_number": "+15551234567", "external_id": "s-1"}]}
    assert stack.request("POST", "/_dev/pixel/requests", json=identify).status_code == 200
    hashed = {"email": hashlib.sha256(b"ann.smith@example.com").hexdigest(),
              "phone_number": hashlib.sha256(b"+15551234567").hexdigest(), "external_id": "s-1"}
    assert [r["args"] for r in stack.pixel_requests()] == [[hashed]]
    assert [r["args"] for r in stack.state()["pixel_requests"]] == [[hashed]]
    for text in (stack.get("/_dev/pixel/requests").text, stack.get("/_dev/state").text, stack.get("/_dev/").text):
        assert "ann.smith" not in text and "5551234567" not in text
    stack.clear_pixel()


def test_test_events_page_and_state(stack):
    page = stack.get("/_dev/")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert stack.get("/_dev", allow_redirects=False).status_code in (301, 308)
    assert set(stack.state()) == {"tiktok_requests", "pixel_requests", "queued", "dead_lettered"}


def test_demo_is_mounted(stack):
    redirect = stack.get("/demo", allow_redirects=False)
    assert redirect.status_code == 308
    assert redirect.headers["Location"].endswith("/demo/")
    assert stack.get("/demo/").status_code == 200


# The HTTP API imitation


@pytest.mark.parametrize("method", ["PUT", "GET", "DELETE"])
def test_settings_routes_need_a_token(stack, method):
    path = "/v1/campaigns/demo/tiktok"
    missing = stack.request(method, path, json={})
    assert (missing.status_code, missing.json()) == (401, {"message": "Unauthorized"})
    # Neither a JWT nor the local admin token: the JWT authorizer's 401, as in AWS.
    for wrong in ("Bearer not-the-token", f"Basic {stack.admin_token}", "Bearer a.b.c"):
        answer = stack.request(method, path, json={}, headers={"Authorization": wrong})
        assert (answer.status_code, answer.json()) == (401, {"message": "Unauthorized"}), wrong
        assert 'error="invalid_token"' in answer.headers["www-authenticate"]


def test_a_client_credentials_token_from_the_oidc_standin_reaches_the_operator_routes(stack):
    discovery = stack.get("/_dev/oidc/.well-known/openid-configuration").json()
    assert discovery["issuer"] == stack.url("/_dev/oidc")
    assert stack.get(urlsplit(discovery["jwks_uri"]).path).json()["keys"][0]["kty"] == "RSA"
    token = requests.post(discovery["token_endpoint"], auth=("zellify-machine-local", "dev-machine-secret"),
                          data={"grant_type": "client_credentials"}, timeout=10)
    assert token.status_code == 200, token.text
    answer = stack.get("/v1/campaigns", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert answer.status_code == 200, answer.text
    assert "demo" in [c["campaign_id"] for c in answer.json()["campaigns"]]
    wrong_secret = requests.post(discovery["token_endpoint"], auth=("zellify-machine-local", "not-the-secret"),
                                 data={"grant_type": "client_credentials"}, timeout=10)
    assert (wrong_secret.status_code, wrong_secret.json()["error"]) == (401, "invalid_client")


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/nope"), ("PATCH", "/v1/events"), ("POST", "/v1/events/"), ("GET", "/v1/campaigns/demo"),
])
def test_unknown_routes_are_404(stack, method, path):
    answer = stack.request(method, path)
    assert (answer.status_code, answer.json()) == (404, {"message": "Not Found"})


def test_bodies_over_10_mb_are_413(stack):
    answer = stack.request("POST", "/v1/events", data=b"x" * (10 * 1024 * 1024 + 1),
                           headers={"Content-Type": "text/plain"})
    assert (answer.status_code, answer.json()) == (413, {"message": "Request Entity Too Large"})


def test_settings_round_trip_through_the_adapter(stack):
    path = f"/v1/campaigns/e2e-{uuid.uuid4().hex[:8]}/tiktok"
    settings = {"pixel_id": "C4ABCDEF0123456789AB", "access_token": "tok-e2e-1234", "enabled": True,
                "allowed_origins": ["https://funnel.example.com"], "event_names": {}, "limited_data_use": False,
                "require_consent": False, "report_renewals": False}
    put = stack.admin("PUT", path, json=settings)
    assert put.status_code == 200, put.text
    got = stack.admin("GET", path)
    assert got.status_code == 200
    assert got.json()["pixel_id"] == settings["pixel_id"]
    assert got.json()["access_token_last4"] == "1234"
    assert "tok-e2e-1234" not in got.text
    assert stack.admin("DELETE", path).status_code == 204
    assert stack.admin("GET", path).status_code == 404


def test_the_demo_campaign_is_seeded(stack):
    assert stack.get("/healthz").json()["seeded_campaign"] == "demo"
    demo = stack.admin("GET", "/v1/campaigns/demo/tiktok").json()
    assert demo["pixel_id"] == DEMO_PIXEL
    assert demo["server_side"] is True


def test_tracker_js_is_served_minified_gzip_and_revalidated(stack):
    path = "/v1/campaigns/demo/tracker.js"
    first = stack.get(path, headers={"Accept-Encoding": "gzip, deflate, br"}, stream=True)
    compressed = first.raw.read(decode_content=False)  # the bytes on the wire, as the browser gets them
    assert first.status_code == 200, compressed
    assert first.headers["Content-Encoding"] == "gzip" and first.headers["Vary"] == "Accept-Encoding"
    assert first.headers["Cache-Control"] == "public, max-age=300"
    assert len(compressed) <= 5000
    script = gzip.decompress(compressed).decode()
    minified = (ROOT / "functions" / "collect" / "tracker.min.js").read_text()
    assert script.startswith(minified.split("/*__ZT_CONFIG__*/")[0]) and f'"{DEMO_PIXEL}"' in script
    again = stack.get(path, headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    malformed = stack.get(path, headers={"Accept-Encoding": "gzip", "If-None-Match": "no quotes"})
    assert malformed.status_code == 200 and malformed.text == script
    plain = stack.get(path, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and plain.text == script


def test_a_beacon_reaches_the_tiktok_stand_in(tiktok):
    event_id = f"pv-{uuid.uuid4()}"
    answer = beacon(tiktok, event_id)
    assert answer.status_code == 202, answer.text
    assert answer.json()["accepted"] == [event_id]
    (record,) = tiktok.tiktok_requests()
    assert record["headers"]["Access-Token"] == DEMO_TOKEN
    assert record["body"]["event_source_id"] == DEMO_PIXEL
    assert [e["event_id"] for e in record["body"]["data"]] == [event_id]
    assert record["response"]["code"] == 0


def test_a_body_that_is_not_utf8_reaches_the_handler_and_is_refused(stack):
    answer = stack.request("POST", "/v1/events", data=b'{"campaign_id": "\xff\xfe"}',
                           headers={"Content-Type": "text/plain"})
    assert answer.status_code == 400
    assert "error" in answer.json()


def test_a_transient_failure_is_retried_by_the_retry_function(tiktok):
    assert tiktok.get("/healthz").json()["pollers"] == ["RetryFunction", "HealthFunction"]
    tiktok.add_fault({"code": 40100})
    event_id = f"pv-{uuid.uuid4()}"
    assert beacon(tiktok, event_id).status_code == 202

    def answers_for_event() -> list[int]:
        return [r["response"]["code"] for r in tiktok.tiktok_requests()
                if r["response"] and event_id in json.dumps(r["body"])]

    assert wait_for(lambda: 0 in answers_for_event() and answers_for_event(), "the retried delivery") == [40100, 0]


# Payload format 2.0, in process: what the handlers receive


def _request(**kwargs) -> Request:
    return Request(EnvironBuilder(base_url="http://127.0.0.1:3000", **kwargs).get_environ())


def test_event_has_the_api_gateway_v2_shape():
    route = RouteSpec(function="F", method="PUT", path="/v1/campaigns/{campaign_id}/tiktok", authorizer="OperatorJwt")
    request = _request(path="/v1/campaigns/c%201/tiktok", method="PUT", query_string="a=1&a=2&b=",
                       headers={"Cookie": "sid=abc; ttclid=E.C.P", "User-Agent": "e2e-agent",
                                "Authorization": "Bearer x"},
                       data=b'{"pixel_id": "P"}', content_type="application/json")
    authorizer = {"jwt": {"claims": {"sub": "s"}, "scopes": ["zellify-tiktok/campaigns"]}}
    event = build_event(request, route, {"campaign_id": "c 1"}, request.get_data(), "req-1", authorizer)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "PUT /v1/campaigns/{campaign_id}/tiktok"
    assert event["rawPath"] == "/v1/campaigns/c 1/tiktok"
    assert event["rawQueryString"] == "a=1&a=2&b="
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["pathParameters"] == {"campaign_id": "c 1"}
    assert event["cookies"] == ["sid=abc", "ttclid=E.C.P"]
    assert "cookie" not in event["headers"]
    assert all(name == name.lower() for name in event["headers"])
    assert event["headers"]["user-agent"] == "e2e-agent"
    assert (event["body"], event["isBase64Encoded"]) == ('{"pixel_id": "P"}', False)
    assert "stageVariables" not in event
    context = event["requestContext"]
    assert context["http"] == {"method": "PUT", "path": "/v1/campaigns/c 1/tiktok", "protocol": "HTTP/1.1",
                               "sourceIp": "127.0.0.1", "userAgent": "e2e-agent"}
    assert context["stage"] == "$default"
    assert context["routeKey"] == event["routeKey"]
    assert context["requestId"] == "req-1"
    assert context["domainName"] == "127.0.0.1:3000"
    assert {"accountId", "apiId", "domainPrefix", "time", "timeEpoch"} <= set(context)
    assert context["authorizer"] == authorizer


def test_event_leaves_out_what_the_request_lacks():
    request = _request(path="/v1/events", method="GET")
    event = build_event(request, RouteSpec("F", "GET", "/v1/events"), {}, b"", "r")
    assert not {"cookies", "queryStringParameters", "pathParameters", "body"} & set(event)
    assert event["isBase64Encoded"] is False
    assert "authorizer" not in event["requestContext"]


@pytest.mark.parametrize(("data", "content_type", "encoded"), [
    (b'{"a": 1}', "text/plain;charset=UTF-8", False),
    (b'{"a": 1}', "application/vnd.api+json", False),
    (b"\xff\xfe{}", "text/plain", True),  # not UTF-8: the handler gets the bytes and refuses them
    (b"\x00\x01", "application/octet-stream", True),
    (b"a=1", "application/x-www-form-urlencoded", True),
    (b"{}", None, True),
])
def test_event_body_is_base64_unless_textual_utf8(data, content_type, encoded):
    request = _request(path="/v1/events", method="POST", data=data, content_type=content_type)
    event = build_event(request, RouteSpec("F", "POST", "/v1/events"), {}, data, "r")
    assert event["isBase64Encoded"] is encoded
    assert (base64.b64decode(event["body"]) if encoded else event["body"].encode()) == data


def test_response_conversion_follows_payload_format_2():
    response = build_response({"statusCode": 201, "headers": {"X-One": "1"}, "cookies": ["a=1", "b=2; Path=/"],
                               "body": base64.b64encode(b"\x00bin").decode(), "isBase64Encoded": True})
    assert response.status_code == 201
    assert response.headers.getlist("Set-Cookie") == ["a=1", "b=2; Path=/"]
    assert response.headers["Content-Type"] == "application/json"
    assert response.get_data() == b"\x00bin"
    inferred = build_response({"ok": True})
    assert (inferred.status_code, json.loads(inferred.get_data())) == (200, {"ok": True})
    with pytest.raises(ValueError):
        build_response({"statusCode": 200, "body": "not base64!", "isBase64Encoded": True})


# Stopping


def test_ctrl_c_stops_the_stack_with_exit_code_0(launch_stack):
    own = launch_stack()
    assert own.interrupt() == 0, own.log_tail()
    log = own.log_path.read_text()
    for printed in (own.base_url, "whsec_dev", "Bearer dev-admin-token", f"{own.base_url}/_dev/", "/demo/"):
        assert printed in log
