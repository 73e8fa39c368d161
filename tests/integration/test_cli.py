"""The `zellify-tiktok` CLI under moto: every command, its --json output and its exit codes."""

import json
import os
import re
import time
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner
from zellify_tiktok.cli import app
from zellify_tiktok.hashing import hash_email, hash_external_id
from zellify_tiktok.records import SessionRecord
from zellify_tiktok.repositories.sessions import SessionsRepository
from zellify_tiktok.server_event import UserData
from zellify_tiktok.tiktok import TikTokClient

from tests.tiktok_fake import FakeTikTok

# Every test runs against moto (the CLI's commands reach AWS).
pytestmark = pytest.mark.usefixtures("aws")

ROOT = Path(__file__).resolve().parents[2]
PIXEL = "C4ABCDEF0123456789AB"
TOKEN = "tok-secret-0123456789abcdef-wxyz"
API_BASE = "https://tiktok.test/open_api/v1.3"


@pytest.fixture
def cli():
    def run(*args: str, input: str | None = None):
        # Wide enough that rich tables do not wrap the values the tests look for.
        return CliRunner().invoke(app, list(args), input=input, env={"COLUMNS": "200"})
    return run


@pytest.fixture
def configured(cli):
    """Campaign cmp_1 with a token, a stored test code and an event name override."""
    result = cli("campaign", "set", "cmp_1", "--pixel-id", PIXEL, "--test-event-code", "STORED123",
                 "--event-name", "page_view=Pageview", "--token-from-stdin", input=TOKEN + "\n")
    assert result.exit_code == 0, result.output
    return "cmp_1"


@pytest.fixture
def fake_tiktok(monkeypatch):
    fake = FakeTikTok()
    bases = []

    def client(api_base):
        bases.append(api_base)
        return TikTokClient(api_base, connect_timeout=1, total_timeout=3, http=fake)

    monkeypatch.setattr("zellify_tiktok.cli.send_test.tiktok_client", client)
    fake.bases = bases
    return fake


def parsed(result) -> dict | list:
    return json.loads(result.stdout)


# campaign set / show / list / delete

def test_set_reads_the_token_from_stdin_and_never_prints_it(cli):
    result = cli("--json", "campaign", "set", "cmp_1", "--pixel-id", PIXEL, "--allowed-origin",
                 "https://funnel.example.com", "--event-name", "page_view=Pageview", "--require-consent",
                 "--token-from-stdin", input=TOKEN + "\n")

    assert result.exit_code == 0, result.output
    assert TOKEN not in result.stdout and TOKEN not in result.stderr
    view = parsed(result)
    assert view["access_token_last4"] == "wxyz"
    assert view["server_side"] is True
    assert view["allowed_origins"] == ["https://funnel.example.com"]
    assert view["event_names"] == {"page_view": "Pageview"}
    assert view["require_consent"] is True
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["SECRET_PREFIX"] + "cmp_1")
    assert secret["SecretString"] == TOKEN


def test_set_prompts_for_the_token_without_echoing_it(cli):
    result = cli("campaign", "set", "cmp_1", "--pixel-id", PIXEL, "--prompt-token", input=TOKEN + "\n")

    assert result.exit_code == 0, result.output
    assert TOKEN not in result.output
    assert "wxyz" in result.stdout


def test_set_without_token_option_keeps_the_stored_token_and_remove_token_drops_it(cli, configured):
    kept = cli("--json", "campaign", "set", configured, "--pixel-id", PIXEL)
    assert parsed(kept)["access_token_last4"] == "wxyz"

    removed = cli("--json", "campaign", "set", configured, "--pixel-id", PIXEL, "--remove-token")
    assert removed.exit_code == 0, removed.output
    assert parsed(removed)["server_side"] is False
    assert parsed(removed)["access_token_last4"] is None


def test_set_from_json_on_stdin_may_carry_the_token(cli):
    body = {"pixel_id": PIXEL, "access_token": TOKEN, "enabled": False, "report_renewals": True}
    result = cli("--json", "campaign", "set", "cmp_2", "--from-json", "-", input=json.dumps(body))

    assert result.exit_code == 0, result.output
    view = parsed(result)
    assert (view["enabled"], view["report_renewals"], view["access_token_last4"]) == (False, True, "wxyz")
    assert TOKEN not in result.stdout


def test_set_from_json_file_with_token_from_prompt(cli, tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"pixel_id": PIXEL, "test_event_code": "TEST777"}))
    result = cli("--json", "campaign", "set", "cmp_3", "--from-json", str(path), "--prompt-token",
                 input=TOKEN + "\n")

    assert result.exit_code == 0, result.output
    assert parsed(result)["test_event_code"] == "TEST777"
    assert parsed(result)["access_token_last4"] == "wxyz"


def test_token_rotation_recipe_of_the_docs(cli, configured, tmp_path):
    """docs/cli.md: the view, minus its view-only fields, is a PUT body that keeps every setting."""
    before = parsed(cli("--json", "campaign", "show", configured))
    view_only = ("campaign_id", "server_side", "access_token_last4", "warnings", "last_delivery", "updated_at")
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({k: v for k, v in before.items() if k not in view_only}))

    rotated = cli("--json", "campaign", "set", configured, "--from-json", str(path), "--prompt-token",
                  input="new-token-0123456789-nnnn\n")

    assert rotated.exit_code == 0, rotated.output
    after = parsed(rotated)
    assert after["access_token_last4"] == "nnnn"
    assert {k: v for k, v in after.items() if k not in view_only} == {
        k: v for k, v in before.items() if k not in view_only}


def test_invalid_settings_exit_2_naming_the_fields(cli):
    result = cli("--json", "campaign", "set", "cmp_1", "--pixel-id", "no!", "--stripe-account", "bogus")

    assert result.exit_code == 2
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "invalid_fields"
    assert {d["field"] for d in error["details"]} == {"pixel_id", "stripe_account"}


def test_unknown_funnel_event_in_an_override_is_the_services_422(cli):
    result = cli("campaign", "set", "cmp_1", "--pixel-id", PIXEL, "--event-name", "nope=Pageview")

    assert result.exit_code == 2
    assert "event_names" in result.stderr


@pytest.mark.parametrize("extra", [
    ["--from-json", "-", "--pixel-id", PIXEL],
    ["--from-json", "-", "--token-from-stdin"],
    ["--pixel-id", PIXEL, "--prompt-token", "--remove-token"],
    ["--pixel-id", PIXEL, "--event-name", "page_view"],
])
def test_conflicting_or_malformed_options_are_usage_errors(cli, extra):
    result = cli("campaign", "set", "cmp_1", *extra, input="{}")

    assert result.exit_code == 2


def test_settings_body_that_is_not_an_object_is_the_services_400(cli):
    result = cli("campaign", "set", "cmp_1", "--from-json", "-", input="[1, 2]")

    assert result.exit_code == 2
    assert "JSON object" in result.stderr


def test_show(cli, configured):
    human = cli("campaign", "show", configured)
    assert human.exit_code == 0, human.output
    assert PIXEL in human.stdout and "wxyz" in human.stdout
    assert "test_event_code is set" in human.stdout  # the service's warning
    assert TOKEN not in human.output

    view = parsed(cli("--json", "campaign", "show", configured))
    assert view["campaign_id"] == configured
    assert "access_token" not in view


def test_show_unknown_campaign_exits_3(cli):
    result = cli("--json", "campaign", "show", "nope")

    assert result.exit_code == 3
    assert json.loads(result.stderr)["error"]["code"] == "unknown_campaign"


def test_invalid_campaign_id_exits_2(cli):
    assert cli("campaign", "show", "bad id!").exit_code == 2


def test_list(cli, configured):
    assert cli("campaign", "set", "cmp_0", "--pixel-id", "PIXELONLY1").exit_code == 0

    rows = parsed(cli("--json", "campaign", "list"))
    assert [r["campaign_id"] for r in rows] == ["cmp_0", configured]
    assert [r["server_side"] for r in rows] == [False, True]
    assert [r["test_event_code_active"] for r in rows] == [False, True]

    human = cli("campaign", "list")
    assert human.exit_code == 0
    assert "cmp_0" in human.stdout and "STORED123 (23 h 59 min left)" in human.stdout


def test_delete(cli, configured):
    declined = cli("campaign", "delete", configured, input="n\n")
    assert declined.exit_code == 1
    assert cli("campaign", "show", configured).exit_code == 0

    deleted = cli("--json", "campaign", "delete", configured, "--yes")
    assert deleted.exit_code == 0, deleted.output
    assert parsed(deleted) == {"deleted": configured}
    assert cli("campaign", "show", configured).exit_code == 3
    secrets = boto3.client("secretsmanager")
    with pytest.raises(secrets.exceptions.ResourceNotFoundException):
        secrets.get_secret_value(SecretId=os.environ["SECRET_PREFIX"] + configured)


def test_delete_unknown_campaign_exits_3(cli):
    assert cli("campaign", "delete", "nope", "--yes").exit_code == 3


# send-test-event

def test_send_test_event_without_a_code_uses_the_campaigns_active_one(cli, configured, fake_tiktok):
    result = cli("send-test-event", "--campaign", configured)

    assert result.exit_code == 0, result.output
    [call] = fake_tiktok.calls
    assert call["body"]["test_event_code"] == "STORED123"
    assert "with test event code STORED123" in result.stdout


def test_send_test_event_without_any_code_exits_2_naming_the_option(cli, fake_tiktok):
    assert cli("campaign", "set", "cmp_2", "--pixel-id", PIXEL, "--token-from-stdin",
               input=TOKEN + "\n").exit_code == 0
    result = cli("--json", "send-test-event", "--campaign", "cmp_2")

    assert result.exit_code == 2, result.output
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "test_event_code_required" and "--test-event-code" in error["message"]
    assert fake_tiktok.calls == []  # a test never reaches the live pixel


def test_send_test_event_uses_the_given_test_code_and_prints_tiktoks_answer(cli, configured, fake_tiktok):
    result = cli("send-test-event", "--campaign", configured, "--test-event-code", "TESTCLI1")

    assert result.exit_code == 0, result.output
    assert fake_tiktok.bases == [os.environ["TIKTOK_API_BASE"]]
    [call] = fake_tiktok.calls
    assert call["headers"]["Access-Token"] == TOKEN
    body = call["body"]
    assert body["test_event_code"] == "TESTCLI1"  # not the stored STORED123
    assert body["event_source_id"] == PIXEL
    [event] = body["data"]
    assert event["event"] == "Pageview"  # the campaign's override
    assert re.fullmatch(r"zt-test-[0-9a-f-]{36}", event["event_id"])
    assert event["user"] == {"external_id": hash_external_id("cli-test")}
    assert event["page"] == {"url": "https://zellify.test/cli"}
    assert "code 0" in result.stdout and "OK" in result.stdout
    assert TOKEN not in result.output
    # Neither the ledger nor the campaign's last delivery is touched by a test event.
    assert boto3.client("dynamodb").scan(TableName=os.environ["SENT_EVENTS_TABLE"])["Count"] == 0
    assert parsed(cli("--json", "campaign", "show", configured))["last_delivery"] is None


def test_send_test_event_value_event_carries_one_usd(cli, configured, fake_tiktok, monkeypatch):
    monkeypatch.setenv("TIKTOK_API_BASE", API_BASE)
    result = cli("--json", "send-test-event", "--campaign", configured, "--test-event-code", "TESTCLI1",
                 "--event", "checkout_presented")

    assert result.exit_code == 0, result.output
    assert fake_tiktok.bases == [API_BASE]
    [event] = fake_tiktok.events
    assert event["event"] == "InitiateCheckout"
    assert event["properties"] == {"value": 1, "currency": "USD"}
    report = parsed(result)
    assert (report["code"], report["outcome"], report["event_id"]) == (0, "sent", event["event_id"])


def test_send_test_event_exits_1_when_tiktok_says_no(cli, configured, fake_tiktok):
    fake_tiktok.script.append({"code": 40105, "message": "Access token is invalid or has been revoked"})
    result = cli("--json", "send-test-event", "--campaign", configured, "--test-event-code", "TESTCLI1")

    assert result.exit_code == 1
    report = parsed(result)
    assert (report["code"], report["message"]) == (40105, "Access token is invalid or has been revoked")


def test_send_test_event_reports_an_unreachable_tiktok(cli, configured, fake_tiktok):
    fake_tiktok.script.append(FakeTikTok.timeout())
    result = cli("send-test-event", "--campaign", configured, "--test-event-code", "TESTCLI1")

    assert result.exit_code == 1
    assert "unreachable" in result.stdout


def test_send_test_event_refusals(cli, configured, fake_tiktok):
    assert cli("send-test-event", "--campaign", "nope", "--test-event-code", "TESTCLI1").exit_code == 3
    bad_code = cli("send-test-event", "--campaign", configured, "--test-event-code", "no spaces!")
    assert bad_code.exit_code == 2 and "test_event_code" in bad_code.stderr
    assert cli("send-test-event", "--campaign", configured, "--test-event-code", "T1X",
               "--event", "nope").exit_code == 2
    assert cli("campaign", "set", "pixel_only", "--pixel-id", PIXEL).exit_code == 0
    no_token = cli("send-test-event", "--campaign", "pixel_only", "--test-event-code", "TESTCLI1")
    assert no_token.exit_code == 1 and "no Events API access token" in no_token.stderr
    assert fake_tiktok.calls == []


# status

def test_status_shows_queue_depths_and_last_delivery(cli, configured, monkeypatch):
    sqs = boto3.client("sqs")
    for _ in range(2):
        sqs.send_message(QueueUrl=os.environ["DELIVERY_QUEUE_URL"], MessageBody="{}")
    sqs.send_message(QueueUrl=os.environ["DEAD_LETTER_QUEUE_URL"], MessageBody="{}")
    sqs.receive_message(QueueUrl=os.environ["DELIVERY_QUEUE_URL"], MaxNumberOfMessages=1)  # one in flight
    boto3.client("dynamodb").update_item(
        TableName=os.environ["CAMPAIGNS_TABLE"], Key={"campaign_id": {"S": configured}},
        UpdateExpression="SET last_delivery = :d",
        ExpressionAttributeValues={":d": {"M": {"at": {"S": "2026-01-02T03:04:05+00:00"}, "code": {"N": "40105"},
                                                "message": {"S": "Access token is invalid"},
                                                "outcome": {"S": "permanent_failure"}}}},
    )
    # No URL configured: the queues are found by the names the local stack gives them.
    monkeypatch.delenv("DELIVERY_QUEUE_URL")
    monkeypatch.delenv("DEAD_LETTER_QUEUE_URL")

    result = cli("--json", "status")

    assert result.exit_code == 0, result.output
    report = parsed(result)
    assert report["queues"]["DeliveryQueue"] == {"visible": 1, "in_flight": 1, "delayed": 0}
    assert report["queues"]["DeadLetterQueue"] == {"visible": 1, "in_flight": 0, "delayed": 0}
    [campaign] = report["campaigns"]
    assert campaign["last_delivery"]["code"] == 40105
    assert any("40105" in w for w in campaign["warnings"])

    human = cli("status")
    assert human.exit_code == 0
    assert "DeliveryQueue" in human.stdout and "DeadLetterQueue" in human.stdout
    assert "Access token is invalid" in human.stdout


def test_status_exits_3_when_a_queue_is_missing_but_shows_the_rest(cli, configured, monkeypatch):
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", os.environ["DEAD_LETTER_QUEUE_URL"] + "-gone")
    result = cli("--json", "status")

    assert result.exit_code == 3
    report = parsed(result)
    assert "error" in report["queues"]["DeadLetterQueue"]
    assert report["queues"]["DeliveryQueue"]["visible"] == 0
    assert [c["campaign_id"] for c in report["campaigns"]] == [configured]


# erase

@pytest.fixture
def sessions(aws):
    repo = SessionsRepository(os.environ["SESSIONS_TABLE"], 60)
    now = int(time.time())
    ann, bob = hash_email("ann@example.com"), hash_email("bob@example.com")
    for campaign, session, email in [("cmp_1", "s1", ann), ("cmp_1", "s2", ann), ("cmp_1", "s3", bob),
                                     ("cmp_1", "s4", None), ("cmp_2", "s5", ann)]:
        repo.upsert(campaign, session, SessionRecord(UserData(external_id=hash_external_id(session), email=email)), now)
    return repo


def remaining(repo) -> set[tuple[str, str]]:
    items = boto3.client("dynamodb").scan(TableName=repo.table)["Items"]
    return {(i["campaign_id"]["S"], i["session_id"]["S"]) for i in items}


def test_erase_by_email_deletes_only_that_visitors_sessions_of_that_campaign(cli, sessions):
    result = cli("--json", "erase", "--campaign", "cmp_1", "--email", "  Ann@Example.COM ")

    assert result.exit_code == 0, result.output
    assert parsed(result) == {"campaign_id": "cmp_1", "deleted": 2}
    assert remaining(sessions) == {("cmp_1", "s3"), ("cmp_1", "s4"), ("cmp_2", "s5")}
    assert "ann@example.com" not in result.output.lower()


def test_erase_by_email_from_stdin(cli, sessions):
    result = cli("erase", "--campaign", "cmp_1", "--email", "-", input="bob@example.com\n")

    assert result.exit_code == 0, result.output
    assert "Deleted 1 session record" in result.stdout
    assert ("cmp_1", "s3") not in remaining(sessions)
    assert "bob@example.com" not in result.output


def test_erase_by_session(cli, sessions):
    first = cli("--json", "erase", "--campaign", "cmp_1", "--session", "s4")
    assert first.exit_code == 0 and parsed(first)["deleted"] == 1
    again = cli("--json", "erase", "--campaign", "cmp_1", "--session", "s4")
    assert again.exit_code == 0 and parsed(again)["deleted"] == 0
    assert len(remaining(sessions)) == 4


@pytest.mark.parametrize("args", [[], ["--session", "s1", "--email", "ann@example.com"]])
def test_erase_needs_exactly_one_of_session_or_email(cli, sessions, args):
    assert cli("erase", "--campaign", "cmp_1", *args).exit_code == 2
    assert len(remaining(sessions)) == 5


def test_erase_refuses_an_invalid_email_without_repeating_it(cli, sessions):
    result = cli("erase", "--campaign", "cmp_1", "--email", "not-an-address")

    assert result.exit_code == 2
    assert "not-an-address" not in result.output
    assert len(remaining(sessions)) == 5


# global options and packaging

def test_unknown_profile_exits_4(cli):
    result = cli("--profile", "no-such-profile-zt", "--json", "campaign", "list")

    assert result.exit_code == 4
    assert json.loads(result.stderr)["error"]["code"] == "aws_unavailable"


def test_missing_table_exits_3_with_a_hint(cli, monkeypatch):
    monkeypatch.setenv("CAMPAIGNS_TABLE", "NoSuchTable")
    result = cli("campaign", "list")

    assert result.exit_code == 3
    assert "CAMPAIGNS_TABLE" in result.stderr


def test_no_lambda_code_imports_the_cli():
    """typer and rich are not in the Lambda layer: the CLI must stay out of every function's imports."""
    package = ROOT / "layers" / "shared" / "zellify_tiktok"
    sources = [*(ROOT / "functions").rglob("*.py"),
               *(p for p in package.rglob("*.py") if "cli" not in p.relative_to(package).parts)]
    offenders = [str(p) for p in sources if re.search(r"zellify_tiktok\.cli|from \.+cli\b|import typer|import rich",
                                                      p.read_text())]
    assert offenders == []
