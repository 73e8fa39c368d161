"""The CLI against a deployed stack (`--stack NAME`, moto's CloudFormation) and `campaign update`."""

import json
import time
from datetime import datetime

import boto3
import pytest
from typer.testing import CliRunner
from zellify_tiktok.cli import app
from zellify_tiktok.health_figures import HealthDelta
from zellify_tiktok.repositories import aws as aws_clients
from zellify_tiktok.repositories.health import HealthRepository

PIXEL = "C4ABCDEF0123456789AB"
OTHER_PIXEL = "C4NEWPIXEL0123456789"
TOKEN = "tok-secret-0123456789abcdef-wxyz"
NEW_TOKEN = "tok-rotated-9876543210fedcba-abcd"
STACK = "zellify-tiktok-prod"
# Output → the variable of the same name the functions get (template.yaml's Globals).
OUTPUT_VARIABLES = {
    "CampaignsTableName": "CAMPAIGNS_TABLE",
    "SessionsTableName": "SESSIONS_TABLE",
    "SentEventsTableName": "SENT_EVENTS_TABLE",
    "DeliveryQueueUrl": "DELIVERY_QUEUE_URL",
    "DeadLetterQueueUrl": "DEAD_LETTER_QUEUE_URL",
    "CampaignSecretPrefix": "SECRET_PREFIX",
    "StripeSecretName": "STRIPE_SECRET_NAME",
    "HealthTableName": "HEALTH_TABLE",
    "AuditTableName": "AUDIT_TABLE",
}


@pytest.fixture
def cli():
    def run(*args: str, input: str | None = None):
        return CliRunner().invoke(app, list(args), input=input, env={"COLUMNS": "100"})
    return run


def deploy(aws: dict, name: str = STACK, *, leave_out: tuple[str, ...] = ()) -> None:
    """A stack whose Outputs name the template's tables, queues and secrets (as the prod template will),
    plus outputs the CLI does not read."""
    outputs = {output: {"Value": aws[variable]} for output, variable in OUTPUT_VARIABLES.items()
               if output not in leave_out}
    outputs["AlarmTopicArn"] = {"Value": {"Ref": "AlarmTopic"}}
    template = {"Resources": {"AlarmTopic": {"Type": "AWS::SNS::Topic"}}, "Outputs": outputs}
    boto3.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


@pytest.fixture
def stack(aws, monkeypatch):
    """The deployed stack, with the environment pointing nowhere: only --stack can find the resources."""
    deploy(aws)
    for variable in OUTPUT_VARIABLES.values():
        monkeypatch.setenv(variable, "unset-by-the-test")
    return STACK


@pytest.fixture
def describe_stacks_calls():
    calls = []
    aws_clients._session().events.register("before-call.cloudformation.DescribeStacks",
                                           lambda **kwargs: calls.append(kwargs["model"].name))
    yield calls
    aws_clients._session().events.unregister("before-call.cloudformation.DescribeStacks")


def one_line_error(result) -> str:
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def view(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --stack

def test_stack_outputs_name_every_table_queue_and_secret_in_one_call(cli, stack, aws, describe_stacks_calls):
    created = cli("--stack", stack, "--json", "campaign", "set", "cmp_1", "--pixel-id", PIXEL,
                  "--token-from-stdin", input=TOKEN + "\n")
    assert view(created)["access_token_last4"] == "wxyz"
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=aws["SECRET_PREFIX"] + "cmp_1")
    assert secret["SecretString"] == TOKEN
    assert boto3.client("dynamodb").scan(TableName=aws["CAMPAIGNS_TABLE"])["Count"] == 1

    # status reads the campaigns table and both queues: still one CloudFormation call.
    boto3.client("sqs").send_message(QueueUrl=aws["DEAD_LETTER_QUEUE_URL"], MessageBody="{}")
    describe_stacks_calls.clear()
    status = view(cli("--stack", stack, "--json", "status"))
    assert describe_stacks_calls == ["DescribeStacks"]
    assert status["queues"]["DeadLetterQueue"]["visible"] == 1
    assert status["queues"]["DeliveryQueue"]["visible"] == 0
    assert [c["campaign_id"] for c in status["campaigns"]] == ["cmp_1"]


def test_health_reads_the_health_table_the_stack_names(cli, stack, aws):
    created = cli("--stack", stack, "campaign", "set", "cmp_1", "--pixel-id", PIXEL, "--token-from-stdin",
                  input=TOKEN + "\n")
    assert created.exit_code == 0, created.output
    hour = int(time.time()) // 3600 * 3600
    HealthRepository(aws["HEALTH_TABLE"]).add_once([HealthDelta("cmp_1", hour, "PageView", {"sent": 2, "key_ttp": 1})],
                                                   "cli-test", hour)

    health = view(cli("--stack", stack, "--json", "health", "cmp_1", "--hours", "2"))

    assert health["events"] == [{"event": "PageView", "sent": 2, "duplicates": 0, "queued": 0, "dead_lettered": 0}]
    assert health["match_keys"]["coverage"]["ttp"] == 0.5


def test_without_stack_the_environment_names_are_used(cli, stack):
    result = cli("campaign", "list")
    assert result.exit_code == 3
    line = one_line_error(result)
    assert "ResourceNotFoundException" in line and "--stack" in line


def test_unknown_stack_exits_3_with_one_line(cli, stack):
    result = cli("--stack", "no-such-stack", "campaign", "list")
    assert result.exit_code == 3
    line = one_line_error(result)
    assert "no stack 'no-such-stack' in region us-east-1" in line and "--region" in line

    as_json = cli("--json", "--stack", "no-such-stack", "campaign", "list")
    assert as_json.exit_code == 3
    assert json.loads(as_json.stderr)["error"]["code"] == "stack_not_found"


def test_a_stack_without_the_outputs_asks_for_a_redeploy(cli, aws):
    deploy(aws, "old-stack", leave_out=("CampaignSecretPrefix", "StripeSecretName"))
    result = cli("--stack", "old-stack", "campaign", "list")
    assert result.exit_code == 3
    line = one_line_error(result)
    assert "CampaignSecretPrefix, StripeSecretName" in line and "redeploy" in line


def test_a_region_that_is_not_one_exits_4_with_one_line(cli, stack):
    result = cli("--region", "not a region", "--stack", stack, "campaign", "list")
    assert result.exit_code == 4
    assert "not a region" in one_line_error(result)


def test_an_unreachable_region_exits_4_with_one_line(cli, monkeypatch):
    # No moto here: CloudFormation's endpoint for a region that does not exist does not answer
    # (a closed local port stands in for the name that does not resolve).
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    aws_clients.client.cache_clear()
    result = cli("--region", "xx-nowhere-1", "--endpoint-url", "http://127.0.0.1:9", "--stack", STACK,
                 "campaign", "list")
    aws_clients.client.cache_clear()
    assert result.exit_code == 4
    assert "Could not connect to the endpoint URL" in one_line_error(result)


# campaign update

@pytest.fixture
def campaign(cli, aws):
    result = cli("--json", "campaign", "set", "cmp_1", "--pixel-id", PIXEL, "--test-event-code", "TEST123",
                 "--allowed-origin", "https://funnel.example.com", "--event-name", "page_view=Pageview",
                 "--event-name", "lead=SubmitForm", "--require-consent", "--stripe-account", "acct_123",
                 "--token-from-stdin", input=TOKEN + "\n")
    return view(result)


def stored_token(aws) -> str:
    return boto3.client("secretsmanager").get_secret_value(SecretId=aws["SECRET_PREFIX"] + "cmp_1")["SecretString"]


def settings_of(view_: dict) -> dict:
    return {key: value for key, value in view_.items() if key not in ("updated_at", "warnings", "access_token_last4")}


def test_update_changes_only_what_it_is_given_and_keeps_the_token(cli, aws, campaign):
    updated = view(cli("--json", "campaign", "update", "cmp_1", "--pixel-id", OTHER_PIXEL, "--no-require-consent"))
    assert updated["pixel_id"] == OTHER_PIXEL and updated["require_consent"] is False
    assert settings_of(updated) == {**settings_of(campaign), "pixel_id": OTHER_PIXEL, "require_consent": False}
    # The test code was not given: its 24 h clock runs on from when it was set.
    assert updated["test_event_code_expires_at"] == campaign["test_event_code_expires_at"]
    assert updated["access_token_last4"] == "wxyz" and stored_token(aws) == TOKEN


def test_update_prompt_token_rotates_the_token_and_nothing_else(cli, aws, campaign):
    result = cli("--json", "campaign", "update", "cmp_1", "--prompt-token", input=NEW_TOKEN + "\n")
    rotated = view(result)
    assert NEW_TOKEN not in result.output
    assert rotated["access_token_last4"] == "abcd" and stored_token(aws) == NEW_TOKEN
    assert settings_of(rotated) == settings_of(campaign)


def test_update_merges_event_names_and_clears_what_it_is_told(cli, campaign):
    updated = view(cli("--json", "campaign", "update", "cmp_1", "--event-name", "payment_succeeded=Purchase",
                       "--event-name", "page_view=", "--clear-test-event-code", "--any-origin",
                       "--clear-stripe-account"))
    assert updated["event_names"] == {"lead": "SubmitForm", "payment_succeeded": "Purchase"}
    assert updated["test_event_code"] is None and updated["test_event_code_expires_at"] is None
    assert updated["allowed_origins"] is None and updated["stripe_account"] is None
    assert updated["require_consent"] is True and updated["server_side"] is True


def test_update_with_a_new_test_code_starts_its_clock(cli, campaign):
    updated = view(cli("--json", "campaign", "update", "cmp_1", "--test-event-code", "TEST456"))
    assert updated["test_event_code"] == "TEST456"
    assert datetime.fromisoformat(updated["test_event_code_expires_at"]) >= datetime.fromisoformat(
        campaign["test_event_code_expires_at"])


def test_update_remove_token_makes_the_campaign_pixel_only(cli, campaign):
    updated = view(cli("--json", "campaign", "update", "cmp_1", "--remove-token"))
    assert updated["server_side"] is False and updated["pixel_id"] == PIXEL


def test_update_without_an_option_exits_2_naming_the_options(cli, campaign):
    result = cli("campaign", "update", "cmp_1")
    assert result.exit_code == 2
    line = one_line_error(result)
    for option in ("--pixel-id", "--prompt-token", "--event-name", "--enabled/--disabled", "--any-origin"):
        assert option in line


def test_update_refuses_what_the_settings_api_refuses(cli, campaign):
    result = cli("--json", "campaign", "update", "cmp_1", "--pixel-id", "bad pixel!")
    assert result.exit_code == 2
    assert json.loads(result.stderr)["error"]["details"][0]["field"] == "pixel_id"
    conflicting = cli("campaign", "update", "cmp_1", "--stripe-account", "acct_9", "--clear-stripe-account")
    assert conflicting.exit_code == 2
    assert "--clear-stripe-account and --stripe-account exclude each other" in one_line_error(conflicting)


def test_update_of_an_unknown_campaign_exits_3(cli, aws):
    assert cli("campaign", "update", "ghost", "--disabled").exit_code == 3
