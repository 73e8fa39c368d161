"""openapi.yaml stays true: the same routes as template.yaml, a valid OpenAPI 3.1 document, and the
real handlers' answers (under moto) match the documented status codes, media types, headers and
body schemas. Also the regressions the schemathesis run found (tests/e2e/test_schemathesis.py)."""

import json
import threading
from decimal import Decimal
from functools import cache
from pathlib import Path

import boto3
import collect_app
import payment_app as stripe_app
import pytest
import yaml
from botocore.exceptions import ClientError
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from zellify_tiktok.access import terminal_operator
from zellify_tiktok.beacon import validate_event
from zellify_tiktok.errors import BadRequest
from zellify_tiktok.repositories.secrets import SecretUnavailable
from zellify_tiktok.services.settings import get_settings_view

from local.apigw import gateway_error
from local.template import Template
from tests.integration.conftest import load_event
from tests.integration.helpers import beacon_body, call, post_beacon, put_settings, settings_event
from tests.stripe_webhooks import signature_header, signed_event

ROOT = Path(__file__).resolve().parents[2]
SPEC_URI = "urn:zellify:openapi"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
SIGNING_SECRET = "whsec_openapi_test"
EVENTS = "/v1/events"
TRACKER = "/v1/campaigns/{campaign_id}/tracker.js"
SETTINGS = "/v1/campaigns/{campaign_id}/tiktok"
STRIPE = "/v1/webhooks/{provider}"


@cache
def spec() -> dict:
    return yaml.safe_load((ROOT / "openapi.yaml").read_text())


@cache
def registry() -> Registry:
    return Registry().with_resource(SPEC_URI, Resource.from_contents(spec(), default_specification=DRAFT202012))


def _pointer(*parts: str) -> str:
    return "/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def _resolve(obj: dict) -> tuple[dict, str | None]:
    """An OpenAPI object (not a schema) behind its $ref, with the JSON pointer it was found at."""
    ref = obj.get("$ref")
    if not ref:
        return obj, None
    node = spec()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node, ref.removeprefix("#")


def documented_response(path: str, method: str, status: int) -> tuple[dict, str]:
    responses = spec()["paths"][path][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {path} answered {status}, not documented: {sorted(responses)}"
    response, pointer = _resolve(responses[str(status)])
    return response, pointer or _pointer("paths", path, method.lower(), "responses", str(status))


def assert_conforms(path: str, method: str, status: int, headers: dict, body) -> None:
    """The answer matches openapi.yaml: status, media type, required headers, body schema."""
    response, pointer = documented_response(path, method, status)
    headers = {name.lower(): str(value) for name, value in (headers or {}).items()}
    for name, header in (response.get("headers") or {}).items():
        value = headers.get(name.lower())
        if header.get("required"):
            assert value is not None, f"{method} {path} {status}: header {name} missing"
        if value is not None:
            _validate({"$ref": f"{SPEC_URI}#{pointer}/headers/{name}/schema"}, value)
    content = response.get("content")
    if not content:
        assert body in (None, ""), f"{method} {path} {status} documents no body, got {body!r}"
        return
    media_type = headers.get("content-type", "").split(";")[0].strip()
    assert media_type in content, f"{method} {path} {status}: {media_type!r} not in {sorted(content)}"
    _validate({"$ref": f"{SPEC_URI}#{pointer}/content/{_pointer(media_type)[1:]}/schema"}, body)


def _validate(schema: dict, instance) -> None:
    validator = Draft202012Validator(schema, registry=registry(), format_checker=FormatChecker())
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


# The document itself


def test_openapi_is_a_valid_openapi_3_1_document():
    document = spec()
    assert document["openapi"].startswith("3.1.")
    validate(document, cls=OpenAPIV31SpecValidator)
    for name, schema in document["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
        # Every $ref resolves.
        Draft202012Validator({"$ref": f"{SPEC_URI}#/components/schemas/{name}"}, registry=registry()).is_valid({})


def _template_routes() -> dict[tuple[str, str], bool]:
    return {(r.method, r.path): r.authorizer is not None for r in Template(ROOT / "template.yaml").http_routes()}


def _spec_routes() -> dict[tuple[str, str], bool]:
    routes = {}
    for path, item in spec()["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                routes[(method.upper(), path)] = bool(operation.get("security", spec().get("security")))
    return routes


def test_every_route_of_the_template_is_documented_and_nothing_else():
    template, documented = _template_routes(), _spec_routes()
    assert set(template) == set(documented), (
        f"only in template.yaml: {sorted(set(template) - set(documented))}; "
        f"only in openapi.yaml: {sorted(set(documented) - set(template))}"
    )


def test_authorized_routes_are_the_ones_documented_with_security():
    assert _template_routes() == _spec_routes()


def test_operations_have_unique_ids_and_document_throttling():
    ids = []
    for path, item in spec()["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                ids.append(operation["operationId"])
                assert "429" in operation["responses"], f"{method} {path}: API Gateway's 429 not documented"
                if operation.get("security"):
                    assert {"401", "403"} <= set(operation["responses"]), f"{method} {path}: 401/403"
    assert len(ids) == len(set(ids))


def test_settings_view_can_never_carry_the_token():
    view = spec()["components"]["schemas"]["SettingsView"]
    assert view["additionalProperties"] is False and "access_token" not in view["properties"]


# Real answers, through the handlers


def settings_call(method: str, campaign_id: str = "demo", body: str | None = None):
    import settings_app

    status, headers, parsed = call(settings_app, settings_event(method, campaign_id, body))
    assert_conforms(SETTINGS, method, status, headers, parsed)
    return status, parsed


def beacon_call(body, **kwargs):
    status, headers, parsed = post_beacon(body, **kwargs)
    assert_conforms(EVENTS, "POST", status, headers, parsed)
    return status, parsed


def test_settings_answers_conform(runtime):
    assert settings_call("PUT", body=json.dumps({"pixel_id": "C4ABCDEF0123456789AB",
                                                 "access_token": "tt-access-token-0123456789abcdef",
                                                 "test_event_code": "TEST123"}))[0] == 200
    status, view = settings_call("GET")
    assert status == 200 and view["server_side"] and view["warnings"]
    assert settings_call("PUT", body='{"pixel_id": "x"}')[0] == 422
    assert settings_call("PUT", body="[]")[0] == 400
    assert settings_call("PUT", body="x" * 17_000)[0] == 413
    assert settings_call("GET", campaign_id="bad!id")[0] == 400
    assert settings_call("GET", campaign_id="nobody")[0] == 404
    assert settings_call("DELETE")[0] == 204
    assert settings_call("DELETE")[0] == 404  # gone: the answer for a campaign that does not exist


def test_campaign_list_and_console_answers_conform(runtime, monkeypatch):
    import console_app
    import settings_app

    from tests.integration.test_console_function import console_event

    put_settings()
    status, headers, body = call(settings_app, load_event("list_campaigns.json"))
    assert status == 200 and [view["campaign_id"] for view in body["campaigns"]] == ["demo"]
    assert_conforms("/v1/campaigns", "GET", status, headers, body)
    for name, value in (("CONSOLE_CLIENT_ID", "c"), ("CONSOLE_AUTHORIZATION_ENDPOINT", "https://idp.example.com/a"),
                        ("CONSOLE_TOKEN_ENDPOINT", "https://idp.example.com/t")):
        monkeypatch.setenv(name, value)
    console_app.console_config.cache_clear()
    try:
        for path, expected in (("/console/", 200), ("/console/config.json", 200), ("/console/nope", 404)):
            status, headers, body = call(console_app, console_event(path))
            assert status == expected
            assert_conforms("/console/{file+}", "GET", status, headers, body)
        status, headers, body = call(console_app, console_event("/console"))
        assert_conforms("/console", "GET", status, headers, body or None)
    finally:
        console_app.console_config.cache_clear()


def test_settings_view_with_last_delivery_conforms(runtime, tiktok):
    put_settings()
    assert post_beacon(beacon_body())[0] == 202
    status, view = settings_call("GET")
    assert status == 200 and view["last_delivery"]["code"] == 0


def test_beacon_answers_conform(runtime, tiktok):
    put_settings()
    status, answer = beacon_call(beacon_body(events=[{"event": "page_view", "event_id": "ok-1"},
                                                     {"event": "payment_succeeded", "event_id": "pi_1"},
                                                     {"event": "page_view", "event_id": "bad id"},
                                                     {"event": "page_view", "event_id": "x" * 200}]))
    assert status == 202 and len(answer["rejected"]) == 3
    assert beacon_call("not json")[0] == 400
    assert beacon_call(beacon_body(events=[]))[0] == 400
    assert beacon_call(beacon_body(session_id=7))[0] == 400
    assert beacon_call(beacon_body(), origin="https://evil.example.com")[0] == 403
    assert beacon_call(beacon_body(campaign_id="nobody"))[0] == 404
    assert beacon_call(json.dumps(beacon_body(ttp="x" * 70_000)))[0] == 413
    assert beacon_call(beacon_body(events=[{"event": "nope", "event_id": "e1"}]))[0] == 422


def test_beacon_503_conforms(runtime, monkeypatch):
    put_settings()

    def unreadable(*_, **__):
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}, "GetItem")

    monkeypatch.setattr(runtime.campaigns, "get", unreadable)
    assert beacon_call(beacon_body())[0] == 503


def test_preflight_and_tracker_answers_conform(runtime):
    put_settings()
    status, headers, body = call(collect_app, load_event("options_events.json"))
    assert_conforms(EVENTS, "OPTIONS", status, headers, body or None)
    event = load_event("get_tracker.json")
    status, headers, body = call(collect_app, event)
    assert status == 200
    assert_conforms(TRACKER, "GET", status, headers, body)
    event["headers"] |= {"accept-encoding": "gzip", "if-none-match": '"stale"'}
    status, headers, body = call(collect_app, event)
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert_conforms(TRACKER, "GET", status, headers, body)
    event["headers"]["if-none-match"] = headers["ETag"]
    status, headers, body = call(collect_app, event)
    assert status == 304
    assert_conforms(TRACKER, "GET", status, headers, body)
    status, headers, body = call(collect_app, tracker_event("nobody"))
    assert status == 404
    assert_conforms(TRACKER, "GET", status, headers, body)


def tracker_event(campaign_id: str) -> dict:
    event = load_event("get_tracker.json")
    event["rawPath"] = f"/v1/campaigns/{campaign_id}/tracker.js"
    event["requestContext"]["http"]["path"] = event["rawPath"]
    event["pathParameters"] = {"campaign_id": campaign_id}
    return event


@pytest.fixture
def signing_secret(aws):
    boto3.client("secretsmanager").create_secret(Name=aws["STRIPE_SECRET_NAME"],
                                                 SecretString=json.dumps({"secrets": [SIGNING_SECRET]}))
    return SIGNING_SECRET


def test_stripe_webhook_answers_conform(runtime, tiktok, signing_secret, monkeypatch):
    put_settings()
    status, headers, body = call(stripe_app, signed_event("stripe_payment_intent_succeeded.json",
                                                          secret=signing_secret))
    assert status == 200 and body["status"] == "queued", body
    assert_conforms(STRIPE, "POST", status, headers, body)
    event = signed_event("stripe_payment_intent_succeeded.json", secret=signing_secret)
    event["body"] += " "  # no longer what was signed
    status, headers, body = call(stripe_app, event)
    assert status == 400
    assert_conforms(STRIPE, "POST", status, headers, body)
    event = signed_event("stripe_payment_intent_succeeded.json", secret=signing_secret)
    event["body"] = '{"id": "evt_1", "type": "charge.refunded"}'
    event["headers"]["stripe-signature"] = signature_header(event["body"], signing_secret)
    status, headers, body = call(stripe_app, event)
    assert status == 200 and body["status"] == "ignored"
    assert_conforms(STRIPE, "POST", status, headers, body)

    def unreadable():
        raise SecretUnavailable("ThrottlingException")

    monkeypatch.setattr(runtime.secrets, "provider_secrets", lambda name: unreadable())
    status, headers, body = call(stripe_app, signed_event("stripe_payment_intent_succeeded.json",
                                                          secret=signing_secret))
    assert status == 500
    assert_conforms(STRIPE, "POST", status, headers, body)


@pytest.mark.parametrize("status,message", [(401, "Unauthorized"), (403, "Forbidden"), (429, "Too Many Requests")])
def test_gateway_errors_of_the_local_stack_conform(status, message):
    response = gateway_error(status, message, "req-1")
    assert_conforms(SETTINGS, "GET", status, dict(response.headers), json.loads(response.get_data()))


# Regressions found by the schemathesis run and while writing the spec


@pytest.mark.parametrize("depth", [3000, 8000])
def test_deeply_nested_json_is_a_4xx_not_a_500(runtime, depth):
    assert beacon_call("[" * depth + "]" * depth)[0] == 400
    # Python 3.11's json gives up on this depth (400 invalid_json); 3.13's, the Lambda runtime's, parses
    # it, and the object is refused for its unknown field (422).
    nested = '{"a":' * (depth // 3) + "1" + "}" * (depth // 3)
    assert settings_call("PUT", campaign_id="nested", body=nested)[0] in (400, 422)


def test_a_malformed_campaign_id_never_reaches_dynamodb(runtime, monkeypatch):
    """DynamoDB refuses a key over 2 KiB (a 500 in AWS; moto does not check): tracker.js answers 404 first."""
    def get(campaign_id, **_):
        raise AssertionError(f"DynamoDB asked for {campaign_id[:20]}...")

    monkeypatch.setattr(runtime.campaigns, "get", get)
    for campaign_id in ("a" * 3000, "demo\n", "bad id"):
        status, headers, body = call(collect_app, tracker_event(campaign_id))
        assert status == 404
        assert_conforms(TRACKER, "GET", status, headers, body)


@pytest.mark.parametrize("expires", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_test_event_code_expiry_without_a_utc_time_is_a_422_not_a_500(runtime, expires):
    body = json.dumps({"pixel_id": "C4ABCDEF0123456789AB", "test_event_code": "TEST123",
                       "test_event_code_expires_at": expires})
    assert settings_call("PUT", body=body)[0] == 422


def test_money_dynamodb_cannot_store_is_rounded_not_a_500(runtime, tiktok):
    put_settings()
    events = [{"event": "checkout_presented", "event_id": "tiny", "value": 2.838457098762675e-239,
               "currency": "USD", "contents": [{"content_id": "p", "price": 1e-200, "quantity": 1}]},
              {"event": "payment_method_added", "event_id": "long", "currency": "USD", "value": "LONG"}]
    # 42 significant digits: more than DynamoDB's 38.
    raw = json.dumps(beacon_body(events=events)).replace('"LONG"', "9.99999999999999999999999999999999999999999")
    status, answer = beacon_call(raw)
    assert status == 202 and answer["accepted"] == ["tiny", "long"]
    sent = {e["event_id"]: e for e in tiktok.events}
    assert sent["tiny"]["properties"]["value"] == 0 and sent["long"]["properties"]["value"] == 10


def test_a_huge_time_exponent_is_not_computed():
    """int(Decimal("1e999999999")) runs for minutes: the bounds are compared first."""
    done = threading.Event()
    result = {}

    def validate():
        result["event"] = validate_event({"event": "page_view", "event_id": "e1", "time": Decimal("1e999999999")},
                                         1_795_615_200_000)
        done.set()

    threading.Thread(target=validate, daemon=True).start()
    assert done.wait(60), "validating a huge time did not finish"
    assert result["event"].time_s == 1_795_615_200


@pytest.mark.parametrize("field,value", [("campaign_id", "demo\n"), ("session_id", "s1\n")])
def test_ids_with_a_trailing_newline_are_refused(runtime, field, value):
    put_settings()
    assert beacon_call(beacon_body(**{field: value}))[0] == 400


def test_event_id_with_a_trailing_newline_is_rejected(runtime, tiktok):
    put_settings()
    status, answer = beacon_call(beacon_body(events=[{"event": "page_view", "event_id": "e1\n"}]))
    assert status == 422 and answer["error"]["details"][0]["code"] == "invalid_event_id"
    assert settings_call("GET", campaign_id="demo\n")[0] == 404  # the route takes no newline
    with pytest.raises(BadRequest):  # nor does the service, called directly
        get_settings_view("demo\n", runtime, caller=terminal_operator())


def test_a_page_without_url_is_left_out_not_dead_lettered(runtime, tiktok, sqs_messages):
    put_settings()
    events = [{"event": "page_view", "event_id": "ref-only", "page": {"referrer": "https://www.tiktok.com/"}}]
    assert beacon_call(beacon_body(events=events))[0] == 202
    assert [e["event_id"] for e in tiktok.events] == ["ref-only"] and "page" not in tiktok.events[0]
    assert sqs_messages("DEAD_LETTER_QUEUE_URL") == []
