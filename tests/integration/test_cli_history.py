"""`zellify-tiktok campaign history ID` under moto: the audit route's entries (docs/design.md §6.4), drawn
and as JSON; changes made through the CLI are recorded as the terminal's user."""

import json

import pytest
from typer.testing import CliRunner
from zellify_tiktok.cli import app

from tests.integration.test_access import ACME, put, request

pytestmark = pytest.mark.usefixtures("aws")

PIXEL = "C4ABCDEF0123456789AB"
TOKEN = "tok-secret-0123456789abcdef-wxyz"


@pytest.fixture
def cli():
    def run(*args: str, input: str | None = None):
        return CliRunner().invoke(app, list(args), input=input, env={"COLUMNS": "200"})
    return run


def test_history_lists_who_changed_what_newest_first_never_the_token(cli, runtime):
    assert put(ACME, "acme-1")[0] == 200
    assert cli("campaign", "update", "acme-1", "--disabled").exit_code == 0
    assert cli("campaign", "update", "acme-1", "--token-from-stdin", input=TOKEN).exit_code == 0

    result = cli("--json", "campaign", "history", "acme-1")
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)["entries"]
    assert [e["action"] for e in entries] == ["updated", "updated", "created"]
    assert entries[0]["actor"]["sub"].startswith("cli:") and entries[0]["actor"]["client_id"] == "zellify-tiktok-cli"
    assert entries[0]["changes"] == [{"field": "access_token", "old": None, "new": "replaced", "new_last4": "wxyz"}]
    assert entries[1]["changes"] == [{"field": "enabled", "old": True, "new": False}]
    assert entries[2]["actor"]["email"] == "ann@acme.example"

    drawn = cli("campaign", "history", "acme-1")
    assert drawn.exit_code == 0, drawn.output
    assert "enabled: True → False" in drawn.stdout and "access_token replaced (…wxyz)" in drawn.stdout
    assert "ann@acme.example (agency-acme)" in drawn.stdout and "203.0.113.9" in drawn.stdout
    assert TOKEN not in drawn.stdout + result.stdout


def test_history_outlives_the_campaign(cli, runtime):
    assert put(ACME, "acme-1")[0] == 200
    assert request(ACME, "DELETE", "/v1/campaigns/acme-1/tiktok")[0] == 204
    result = cli("campaign", "history", "acme-1")
    assert result.exit_code == 0 and "deleted" in result.stdout and "created" in result.stdout


def test_history_of_a_campaign_never_changed_says_so(cli, runtime):
    result = cli("campaign", "history", "nothing-here")
    assert result.exit_code == 0 and "No recorded change of nothing-here." in result.stdout


def test_a_limit_outside_1_to_200_exits_2(cli, runtime):
    result = cli("campaign", "history", "acme-1", "--limit", "500")
    assert result.exit_code == 2 and "1 to 200" in result.stderr
