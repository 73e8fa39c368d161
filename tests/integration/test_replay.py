"""`zellify-tiktok replay`: dead-lettered events delivered once the cause is fixed, nothing lost on the way."""

import json
import os

import boto3
import pytest
from typer.testing import CliRunner
from zellify_tiktok.cli import app

from tests.integration.helpers import beacon_body, post_beacon, put_settings

REVOKED = {"code": 40105, "message": "Access token is invalid"}


@pytest.fixture
def cli(runtime, monkeypatch):
    """The CLI on the same runtime (moto, the in-memory TikTok) as the handlers."""
    monkeypatch.setattr("zellify_tiktok.cli.common.Runtime.from_config", lambda settings: runtime)
    saved = dict(os.environ)

    def run(*args: str):
        return CliRunner().invoke(app, ["--json", *args], env={"COLUMNS": "200"})

    yield run
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def parked(runtime, tiktok):
    """Four events of campaign demo dead-lettered by a revoked token."""
    put_settings()
    tiktok.script = [REVOKED]
    assert post_beacon(beacon_body())[0] == 202
    tiktok.calls.clear()
    return {"ev-0001-page", "ev-0002-step", "ev-0003-email", "ev-0004-checkout"}


def dead_letters(aws) -> list[dict]:
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(QueueUrl=aws["DEAD_LETTER_QUEUE_URL"], MaxNumberOfMessages=10,
                                   VisibilityTimeout=0).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_dry_run_changes_nothing(cli, parked, tiktok, aws):
    result = cli("replay", "--dry-run")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["outcomes"] == {"would_replay": 1} and summary["events"] == {"would_replay": 4}
    assert tiktok.calls == [] and len(dead_letters(aws)) == 1


def test_replay_delivers_once_the_cause_is_fixed(cli, parked, tiktok, aws):
    result = cli("replay")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["outcomes"] == {"replayed": 1}
    assert {e["event_id"] for e in tiktok.events} == parked
    assert dead_letters(aws) == []
    # Replaying again finds nothing; the ledger would stop a second send anyway.
    assert json.loads(cli("replay").stdout)["outcomes"] == {}


def test_filters_leave_other_messages_in_place(cli, parked, tiktok, aws):
    summary = json.loads(cli("replay", "--campaign", "other").stdout)
    assert summary["outcomes"] == {"skipped": 1}
    summary = json.loads(cli("replay", "--code", "40002").stdout)
    assert summary["outcomes"] == {"skipped": 1}
    summary = json.loads(cli("replay", "--older-than", "1h").stdout)
    assert summary["outcomes"] == {"skipped": 1}
    assert tiktok.calls == [] and len(dead_letters(aws)) == 1
    summary = json.loads(cli("replay", "--code", "40105", "--newer-than", "1h", "--campaign", "demo").stdout)
    assert summary["outcomes"] == {"replayed": 1}


def test_refused_again_is_parked_anew_with_the_new_reason(cli, parked, tiktok, aws):
    tiktok.script = [{"code": 40001, "message": "No permission"}]
    result = cli("replay")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["outcomes"] == {"refused_again": 1}
    parked_again = dead_letters(aws)
    assert len(parked_again) == 1 and parked_again[0]["reason"]["code"] == 40001
    assert {e["event_id"] for e in parked_again[0]["events"]} == parked


def test_transient_failure_leaves_the_message_in_the_dead_letter_queue(cli, parked, tiktok, aws):
    tiktok.script = [503]
    result = cli("replay")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["outcomes"] == {"failed_again": 1}
    remaining = dead_letters(aws)
    assert len(remaining) == 1 and remaining[0]["reason"]["code"] == 40105


def test_bad_duration_is_a_usage_error(cli, parked):
    assert cli("replay", "--older-than", "soon").exit_code == 2
