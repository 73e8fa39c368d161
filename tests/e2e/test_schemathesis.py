"""Schemathesis against the local stack: every operation of openapi.yaml, no 5xx, no contract violation.

Bounded: at most MAX_EXAMPLES generated cases per operation in the fuzzing phase, plus the examples
and coverage phases (a few dozen boundary cases each). Settings routes carry the admin token.

Beacons whose generated campaign id is well formed are mostly pointed at a campaign of our own
(FUZZ_CAMPAIGN, server-side, no origin list), so generated events go the whole way: session,
ledger, payload, the TikTok stand-in. The seeded `demo` campaign is never written or deleted.
"""

import re
import uuid
import zlib
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.conftest import LocalStackProcess

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = 30
FUZZ_CAMPAIGN = "st-fuzz"
FUZZ_PIXEL = "CSTFUZZ0000000000PIXEL"
# Campaigns other tests rely on: a generated settings call never touches them.
PROTECTED_CAMPAIGNS = {"demo"}
READ_ONLY = {"GET /v1/campaigns/{campaign_id}/tracker.js", "GET /v1/campaigns/{campaign_id}/tiktok",
             "GET /v1/campaigns/{campaign_id}/tiktok/audit"}
CAMPAIGN_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}\Z")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

config = schemathesis.Config.from_dict({
    "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
    "phases": {"stateful": {"enabled": False}},
    "auth": {"openapi": {"operatorJwt": {"bearer": LocalStackProcess.admin_token}}},
    "request-timeout": 20,
    # Two shared cores: slow generation is no finding.
    "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large", "large_base_example"],
})
schema = schemathesis.openapi.from_path(ROOT / "openapi.yaml", config=config)


@pytest.fixture(scope="module")
def fuzz_campaign(stack):
    answer = stack.admin("PUT", f"/v1/campaigns/{FUZZ_CAMPAIGN}/tiktok", json={
        "pixel_id": FUZZ_PIXEL, "access_token": "st-fuzz-token-0123456789", "enabled": True,
        "allowed_origins": None,
    })
    assert answer.status_code == 200, answer.text
    yield FUZZ_CAMPAIGN
    stack.admin("DELETE", f"/v1/campaigns/{FUZZ_CAMPAIGN}/tiktok")


def _mostly(generated: object) -> bool:
    """A deterministic three in four of the generated ids: the unknown-campaign 404 stays covered."""
    return isinstance(generated, str) and bool(generated) and zlib.crc32(generated.encode()) % 4 != 0


def _steer(case) -> None:
    """Keep generated calls off the campaigns other tests use; send most reads and beacons to ours.

    Only well-formed ids are replaced (by another well-formed one), so a positive case stays positive
    and a negative one keeps what makes it negative.
    """
    label = case.operation.label
    parameters = case.path_parameters or {}
    campaign_id = parameters.get("campaign_id")
    if isinstance(campaign_id, str) and campaign_id in PROTECTED_CAMPAIGNS:
        parameters["campaign_id"] = f"{campaign_id}-st"
    elif label in READ_ONLY and CAMPAIGN_ID.match(str(campaign_id)) and _mostly(campaign_id):
        parameters["campaign_id"] = FUZZ_CAMPAIGN
    body = case.body
    if (label == "POST /v1/events" and isinstance(body, dict) and _mostly(body.get("campaign_id"))
            and CAMPAIGN_ID.match(body["campaign_id"])):
        body["campaign_id"] = FUZZ_CAMPAIGN


@schema.parametrize()
def test_api_conforms_to_openapi(case, stack, fuzz_campaign):
    _steer(case)
    case.call_and_validate(base_url=stack.base_url, checks=CHECKS, timeout=20)


def test_generated_beacons_that_we_accept_tiktok_accepts(stack):
    """Valid beacons generated from openapi.yaml, for a campaign of this test's own: what we accept
    reaches the TikTok stand-in, and it refuses none of it (no 40002). Self-contained, so it holds
    whichever tests ran before, and it fails when nothing got through (it would check nothing)."""
    suffix = uuid.uuid4().hex[:8].upper()
    campaign, pixel = f"st-beacons-{suffix.lower()}", f"CSTB{suffix}PIXEL"
    answer = stack.admin("PUT", f"/v1/campaigns/{campaign}/tiktok", json={
        "pixel_id": pixel, "access_token": f"st-beacons-token-{suffix}", "enabled": True, "allowed_origins": None})
    assert answer.status_code == 200, answer.text
    statuses, accepted = Counter(), []

    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=schema["/v1/events"]["POST"].as_strategy(GenerationMode.POSITIVE))
    def send(case):
        withdrawn = False
        if isinstance(case.body, dict):
            case.body["campaign_id"] = campaign
            # A session of its own per example: a withdrawal generated earlier would silence it (by design).
            case.body["session_id"] = f"st-{sum(statuses.values())}"
            withdrawn = case.body.get("consent") is False
        response = case.call(base_url=stack.base_url, timeout=20)
        statuses[response.status_code] += 1
        if response.status_code == 202 and not withdrawn:  # accepted without consent: nothing is sent
            accepted.extend(response.json()["accepted"])

    try:
        send()
        stack.wait_for_empty_retry_queue()  # what a slow moment queued reaches TikTok through the retries
    finally:
        stack.admin("DELETE", f"/v1/campaigns/{campaign}/tiktok")
    assert sum(statuses.values()) >= MAX_EXAMPLES // 2, statuses
    assert not [status for status in statuses if status >= 500], statuses
    assert accepted, f"no generated beacon was accepted ({dict(statuses)}): nothing reached TikTok to check"
    records = [r for r in stack.tiktok_requests()
               if isinstance(r["body"], dict) and r["body"].get("event_source_id") == pixel]
    sent = {event["event_id"] for r in records for event in r["body"].get("data", [])}
    # Every accepted event was sent (an event_id generated twice, once).
    assert set(accepted) <= sent, sorted(set(accepted) - sent)[:5]
    refused = [(r["response"], r["body"]) for r in records if (r["response"] or {}).get("code") != 0]
    assert not refused, f"the stand-in refused {len(refused)} of {len(records)} calls, e.g. {refused[:2]}"
