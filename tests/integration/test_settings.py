import json
from datetime import UTC, datetime, timedelta

import boto3
import settings_app

from tests.integration.conftest import load_event
from tests.integration.helpers import ADMIN_SETTINGS, call, put_settings, settings_request


def test_put_stores_token_in_secrets_manager_and_never_returns_it(runtime, aws):
    status, body = put_settings()
    assert status == 200
    assert body["server_side"] is True and body["access_token_last4"] == "cdef"
    assert "access_token" not in json.dumps(body).replace("access_token_last4", "")
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=aws["SECRET_PREFIX"] + "demo")
    assert secret["SecretString"] == ADMIN_SETTINGS["access_token"]
    item = boto3.client("dynamodb").get_item(TableName=aws["CAMPAIGNS_TABLE"], Key={"campaign_id": {"S": "demo"}})
    assert ADMIN_SETTINGS["access_token"] not in json.dumps(item)
    status, got = settings_request("GET")
    assert status == 200 and got["pixel_id"] == ADMIN_SETTINGS["pixel_id"] and got["last_delivery"] is None


def test_put_replaces_but_omitted_token_is_kept_and_null_removes_it(runtime):
    put_settings(allowed_origins=None, limited_data_use=True)
    body = {k: v for k, v in ADMIN_SETTINGS.items() if k != "access_token"}
    status, got = settings_request("PUT", body=json.dumps({**body, "enabled": False}))
    assert status == 200 and got["server_side"] is True and got["enabled"] is False
    assert got["limited_data_use"] is False  # replace semantics: omitted fields take defaults
    status, got = settings_request("PUT", body=json.dumps({**body, "access_token": None}))
    assert got["server_side"] is False and got["access_token_last4"] is None
    assert any("pixel only" in w for w in got["warnings"])


def test_invalid_fields_are_named(runtime):
    status, body = put_settings(pixel_id="x", allowed_origins=["https://ok.example", "ftp://no/path"],
                                event_names={"nope": "Purchase"}, enabled="yes", extra=1)
    assert status == 422
    fields = {d["field"] for d in body["error"]["details"]}
    assert {"pixel_id", "allowed_origins", "event_names", "enabled", "extra"} <= fields


def test_non_object_body_is_400(runtime):
    for raw in ("[]", "not json", "\"text\""):
        status, body = settings_request("PUT", body=raw)
        assert status == 400 and body["error"]["code"] == "invalid_json"


def test_unknown_campaign_is_404_and_bad_id_400(runtime):
    status, body = settings_request("GET", "nobody")
    assert status == 404 and body["error"]["code"] == "unknown_campaign"
    status, body = settings_request("GET", "bad%20id")
    assert status == 400


def test_delete_force_deletes_the_secret_so_the_campaign_can_be_configured_again(runtime, aws):
    put_settings()
    status, body = settings_request("DELETE")
    assert status == 204 and body is None
    assert settings_request("GET")[0] == 404
    status, body = put_settings()
    assert status == 200 and body["server_side"] is True


def test_test_event_code_expires_after_24_hours(runtime):
    status, body = put_settings(test_event_code="TEST12345")
    expires = datetime.fromisoformat(body["test_event_code_expires_at"])
    assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(hours=24)
    assert any("Test Events" in w for w in body["warnings"])
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    status, body = put_settings(test_event_code="TEST12345", test_event_code_expires_at=past)
    assert any("expired" in w for w in body["warnings"])
    # Re-sending the same code keeps its clock instead of extending it.
    put_settings(test_event_code="TEST99999")
    first = settings_request("GET")[1]["test_event_code_expires_at"]
    put_settings(test_event_code="TEST99999")
    assert settings_request("GET")[1]["test_event_code_expires_at"] == first


def test_the_campaign_list_answers_every_settings_view_by_id_and_no_token(runtime):
    assert call(settings_app, load_event("list_campaigns.json"))[2] == {"campaigns": []}
    put_settings("b-campaign", access_token=None, test_event_code="TEST123")
    put_settings("a-campaign")
    status, _, body = call(settings_app, load_event("list_campaigns.json"))
    assert status == 200
    assert [view["campaign_id"] for view in body["campaigns"]] == ["a-campaign", "b-campaign"]
    a, b = body["campaigns"]
    assert a == settings_request("GET", "a-campaign")[1] | {"warnings": a["warnings"]}
    assert (a["server_side"], a["access_token_last4"], b["server_side"]) == (True, "cdef", False)
    assert any("test_event_code is set" in warning for warning in b["warnings"])
    assert ADMIN_SETTINGS["access_token"] not in json.dumps(body)
