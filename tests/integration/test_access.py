"""Who may touch a campaign, and the audit trail (docs/design.md §6.4), through the CampaignSettingsFunction
under moto: two agencies, an admin and a machine client, each with the claims API Gateway hands on."""

import json
import time

import boto3
import pytest
import settings_app

from tests.integration.conftest import load_event
from tests.integration.helpers import ADMIN_SETTINGS, call

TOKEN = "tt-access-token-0123456789abcdef"
PERSON_CLAIMS = {"client_id": "console-client", "token_use": "access", "scope": "openid email zellify-tiktok/campaigns",
                 "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE"}


def person(sub: str, email: str, groups: str | None) -> dict:
    claims = {**PERSON_CLAIMS, "sub": sub, "username": email}
    if groups is not None:
        claims["cognito:groups"] = groups
    return claims


ADMIN = person("sub-admin", "admin@zellify.example", "[zellify-admins]")
ACME = person("sub-acme", "ann@acme.example", "[agency-acme]")
BETA = person("sub-beta", "bob@beta.example", "[agency-beta]")
NOBODY = person("sub-none", "nina@example.com", None)
MACHINE = {"sub": "machine-client", "client_id": "machine-client", "token_use": "access",
           "scope": "zellify-tiktok/campaigns"}


def request(claims: dict, method: str, path: str, body: dict | str | None = None,
            query: dict[str, str] | None = None, source_ip: str = "203.0.113.9") -> tuple[int, dict | str | None]:
    """The route `method path` as API Gateway would invoke the function for a token with these claims."""
    event = load_event("put_settings.json")
    parts = path.split("/")
    params = {"campaign_id": parts[3]} if len(parts) > 4 else None
    route = path.replace(f"/campaigns/{parts[3]}/", "/campaigns/{campaign_id}/") if params else path
    raw = body if isinstance(body, str) or body is None else json.dumps(body)
    event.update(routeKey=f"{method} {route}", rawPath=path, pathParameters=params, body=raw,
                 rawQueryString="&".join(f"{k}={v}" for k, v in (query or {}).items()),
                 queryStringParameters=query)
    context = event["requestContext"]
    context.update(routeKey=event["routeKey"])
    context["http"].update(method=method, path=path, sourceIp=source_ip)
    context["authorizer"]["jwt"]["claims"] = claims
    status, _, answer = call(settings_app, event)
    return status, answer


def put(claims: dict, campaign_id: str, **fields) -> tuple[int, dict]:
    return request(claims, "PUT", f"/v1/campaigns/{campaign_id}/tiktok", {**ADMIN_SETTINGS, **fields})


def listed(claims: dict) -> list[str]:
    status, answer = request(claims, "GET", "/v1/campaigns")
    assert status == 200, answer
    return [campaign["campaign_id"] for campaign in answer["campaigns"]]


def history(claims: dict, campaign_id: str, limit: str | None = None) -> tuple[int, dict]:
    return request(claims, "GET", f"/v1/campaigns/{campaign_id}/tiktok/audit",
                   query={"limit": limit} if limit is not None else None)


@pytest.fixture
def agencies(runtime):
    """acme-1 created by Acme, beta-1 by Beta, house by an admin (for admins only)."""
    assert put(ACME, "acme-1")[0] == 200
    assert put(BETA, "beta-1")[0] == 200
    assert put(ADMIN, "house")[0] == 200
    return runtime


def test_a_campaign_gets_its_creators_groups_an_admins_none(agencies):
    assert request(ADMIN, "GET", "/v1/campaigns/acme-1/tiktok")[1]["access"] == ["agency-acme"]
    assert request(ADMIN, "GET", "/v1/campaigns/beta-1/tiktok")[1]["access"] == ["agency-beta"]
    assert request(ADMIN, "GET", "/v1/campaigns/house/tiktok")[1]["access"] == []


def test_each_agency_lists_only_its_campaigns_and_an_admin_all(agencies):
    assert listed(ACME) == ["acme-1"]
    assert listed(BETA) == ["beta-1"]
    assert listed(ADMIN) == ["acme-1", "beta-1", "house"]
    assert listed(MACHINE) == ["acme-1", "beta-1", "house"]
    assert listed(NOBODY) == []


OTHERS_CAMPAIGN_ROUTES = [
    ("GET", "/v1/campaigns/{id}/tiktok", None, None),
    ("PUT", "/v1/campaigns/{id}/tiktok", {**ADMIN_SETTINGS, "pixel_id": "MALLORY0PIXEL"}, None),
    ("DELETE", "/v1/campaigns/{id}/tiktok", None, None),
    ("POST", "/v1/campaigns/{id}/tiktok/test-event", {"test_event_code": "TEST123"}, None),
    ("GET", "/v1/campaigns/{id}/tiktok/health", None, None),
    ("GET", "/v1/campaigns/{id}/tiktok/audit", None, None),
]


@pytest.mark.parametrize(("method", "path", "body", "query"), OTHERS_CAMPAIGN_ROUTES,
                         ids=[f"{m} {p.rsplit('/', 1)[-1]}" for m, p, _, _ in OTHERS_CAMPAIGN_ROUTES])
def test_another_agencys_campaign_answers_exactly_as_one_that_does_not_exist(agencies, tiktok, method, path, body,
                                                                             query):
    theirs = request(ACME, method, path.format(id="beta-1"), body, query)
    missing = request(ACME, method, path.format(id="nothing"), body, query)
    if method == "PUT":  # a PUT to a free id creates the campaign: compare with an admin's campaign instead
        missing = request(ACME, method, path.format(id="house"), body, query)
    assert theirs[0] == 404, theirs
    assert theirs[1]["error"] == {**missing[1]["error"], "message": theirs[1]["error"]["message"]}
    assert theirs[1]["error"]["code"] == "unknown_campaign"
    assert theirs[1]["error"]["message"] == "campaign 'beta-1' has no TikTok configuration"
    # Nothing happened to it: unchanged, not deleted, nothing sent.
    status, view = request(BETA, "GET", "/v1/campaigns/beta-1/tiktok")
    assert status == 200 and view["pixel_id"] == ADMIN_SETTINGS["pixel_id"]
    assert tiktok.events == []


def test_each_agency_changes_its_own_campaign_on_every_route(agencies, tiktok):
    assert put(ACME, "acme-1", test_event_code="TEST123")[0] == 200
    assert request(ACME, "GET", "/v1/campaigns/acme-1/tiktok")[0] == 200
    status, answer = request(ACME, "POST", "/v1/campaigns/acme-1/tiktok/test-event")
    assert status == 200 and answer["code"] == 0, answer
    assert request(ACME, "GET", "/v1/campaigns/acme-1/tiktok/health")[0] == 200
    assert history(ACME, "acme-1")[0] == 200
    assert request(ACME, "DELETE", "/v1/campaigns/acme-1/tiktok")[0] == 204
    assert listed(ACME) == []


def test_an_admin_reaches_every_campaign(agencies):
    for campaign_id in ("acme-1", "beta-1", "house"):
        assert request(ADMIN, "GET", f"/v1/campaigns/{campaign_id}/tiktok")[0] == 200
        assert request(ADMIN, "GET", f"/v1/campaigns/{campaign_id}/tiktok/health")[0] == 200
    assert put(ADMIN, "beta-1", enabled=False)[0] == 200
    assert request(ADMIN, "DELETE", "/v1/campaigns/beta-1/tiktok")[0] == 204


def test_only_an_admin_changes_who_may_see_a_campaign(agencies):
    status, answer = put(ACME, "acme-1", access=["agency-acme", "agency-beta"])
    assert status == 403 and answer["error"]["code"] == "access_admin_only", answer
    assert listed(BETA) == ["beta-1"]
    status, view = put(ADMIN, "acme-1", access=["agency-acme", "agency-beta"])
    assert status == 200 and view["access"] == ["agency-acme", "agency-beta"]
    assert listed(BETA) == ["acme-1", "beta-1"]


def test_a_put_without_access_keeps_the_stored_one(agencies):
    assert put(ADMIN, "acme-1", access=["agency-acme", "growth"])[0] == 200
    status, view = put(ACME, "acme-1", enabled=False)
    assert status == 200 and view["access"] == ["agency-acme", "growth"] and view["enabled"] is False


def test_a_machine_client_with_groups_is_limited_to_them(agencies):
    assert listed({**MACHINE, "cognito:groups": "[agency-beta]"}) == ["beta-1"]


def test_a_group_claim_of_the_wrong_type_is_no_group_not_an_error(agencies):
    for claims in ({**ACME, "cognito:groups": "agency-acme"}, {**ACME, "cognito:groups": 7}, NOBODY):
        assert listed(claims) == []
        assert request(claims, "GET", "/v1/campaigns/acme-1/tiktok")[0] == 404


def test_a_person_in_no_group_cannot_create_a_campaign(runtime):
    status, answer = put(NOBODY, "orphan")
    assert status == 403 and answer["error"]["code"] == "no_group"
    assert listed(ADMIN) == []


@pytest.mark.parametrize("access", [["has space"], ["x" * 65], [""], [f"g{i}" for i in range(21)], "agency", [3]])
def test_invalid_access_is_a_plain_language_422_naming_the_field(runtime, access):
    status, answer = put(ADMIN, "c1", access=access)
    assert status == 422, answer
    (detail,) = answer["error"]["details"]
    assert detail["field"] == "access"
    assert "regex" not in detail["message"].lower() and "pattern" not in detail["message"].lower()
    assert detail["message"][0].isupper() and detail["message"].endswith(".")


def test_a_group_name_message_says_what_a_name_is(runtime):
    _, answer = put(ADMIN, "c1", access=["no spaces please"])
    message = answer["error"]["details"][0]["message"]
    assert message.startswith('These are not group names: "no spaces please".'), message
    assert message.endswith("each group name is 1 to 64 letters, digits, dots, dashes or underscores."), message


# The audit trail


def test_every_change_is_recorded_newest_first_with_who_what_and_where(agencies, tiktok):
    assert put(ACME, "acme-1", allowed_origins=["https://new.example"], access_token="tt-new-token-00000000wxyz",
               test_event_code="TEST123")[0] == 200
    assert request(ACME, "POST", "/v1/campaigns/acme-1/tiktok/test-event")[0] == 200
    status, answer = history(ACME, "acme-1")
    assert status == 200
    test_event, updated, created = answer["entries"]
    assert [e["action"] for e in answer["entries"]] == ["test_event", "updated", "created"]
    assert updated["actor"] == {"sub": "sub-acme", "email": "ann@acme.example", "client_id": "console-client",
                                "groups": ["agency-acme"]}
    assert updated["source_ip"] == "203.0.113.9" and updated["at"].endswith("Z")
    changes = {c["field"]: c for c in updated["changes"]}
    assert changes["allowed_origins"] == {"field": "allowed_origins", "old": ["https://funnel.example.com"],
                                          "new": ["https://new.example"]}
    assert changes["access_token"] == {"field": "access_token", "old": None, "new": "replaced", "new_last4": "wxyz"}
    assert test_event["changes"] == [] and test_event["test_event"]["code"] == 0
    assert {c["field"] for c in created["changes"]} >= {"pixel_id", "access", "allowed_origins", "access_token"}
    assert TOKEN not in json.dumps(answer) and "tt-new-token" not in json.dumps(answer)


def test_the_token_is_never_stored_in_the_audit_table(agencies, aws):
    put(ACME, "acme-1", access_token=None)
    items = boto3.client("dynamodb").scan(TableName=aws["AUDIT_TABLE"])["Items"]
    assert items and TOKEN not in json.dumps(items)
    removed = [c for i in items for c in json.loads(i["entry"]["S"])["changes"] if c["field"] == "access_token"]
    assert {"field": "access_token", "old": None, "new": "removed", "new_last4": None} in removed


def test_entries_are_kept_400_days(agencies, aws):
    (item, *_) = boto3.client("dynamodb").scan(TableName=aws["AUDIT_TABLE"])["Items"]
    assert abs(int(item["expires_at"]["N"]) - (time.time() + 400 * 86_400)) < 120


def test_a_deleted_campaigns_history_stays_for_admins_only(agencies):
    assert request(ACME, "DELETE", "/v1/campaigns/acme-1/tiktok")[0] == 204
    status, answer = history(ADMIN, "acme-1")
    assert status == 200 and [e["action"] for e in answer["entries"]] == ["deleted", "created"]
    deleted = answer["entries"][0]
    assert {"field": "access_token", "old": None, "new": "removed", "new_last4": None} in deleted["changes"]
    assert {"field": "pixel_id", "old": ADMIN_SETTINGS["pixel_id"], "new": None} in deleted["changes"]
    assert history(ACME, "acme-1")[0] == 404


def test_a_refused_change_is_not_recorded(agencies):
    assert put(ACME, "acme-1", access=["agency-beta"])[0] == 403
    assert put(ACME, "beta-1")[0] == 404
    assert [e["action"] for e in history(ADMIN, "acme-1")[1]["entries"]] == ["created"]
    assert [e["action"] for e in history(ADMIN, "beta-1")[1]["entries"]] == ["created"]


def test_limit_picks_the_newest_entries(agencies):
    for n in range(3):
        put(ACME, "acme-1", enabled=bool(n % 2))
    status, answer = history(ACME, "acme-1", "2")
    assert status == 200 and len(answer["entries"]) == 2
    assert answer["entries"][0]["at"] >= answer["entries"][1]["at"]
    assert len(history(ACME, "acme-1")[1]["entries"]) == 4


@pytest.mark.parametrize("limit", ["0", "201", "-1", "abc", "1.5", "٣"])
def test_a_limit_outside_1_to_200_is_a_422(agencies, limit):
    status, answer = history(ADMIN, "acme-1", limit)
    assert status == 422 and answer["error"]["code"] == "invalid_limit"
    assert answer["error"]["details"] == [{"field": "limit", "message": "A whole number from 1 to 200."}]


def test_every_operator_log_line_carries_the_callers_sub(agencies, service_logs):
    request(BETA, "GET", "/v1/campaigns/acme-1/tiktok")  # refused: a line is written
    lines = [json.loads(line) for line in service_logs.getvalue().splitlines() if line.startswith("{")]
    assert lines and all(line.get("sub") == "sub-beta" for line in lines), lines
