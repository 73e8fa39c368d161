"""The TikTok fixture bodies (tests/fixtures/tiktok/) for the stand-in's, the fake's and the e2e tests."""

import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "tiktok"
ACCEPTED = sorted((FIXTURES / "accepted").glob("*.json"))
REFUSED = sorted((FIXTURES / "refused").glob("*.json"))
TOKEN = "tiktok-test-token"  # readable, so valid: the stand-in cannot know TikTok's issued tokens


def load(path: Path) -> dict:
    """A fixture case: {"modelled_on", "why", "refused_field"?, "body"}."""
    return json.loads(path.read_text())


def valid_body(*event_ids: str) -> dict:
    """A body TikTok takes (this product's CompletePayment), one event per id."""
    body = load(FIXTURES / "accepted" / "zellify_payment_and_trial.json")["body"]
    event = body["data"][0]
    body["data"] = [{**event, "event_id": event_id} for event_id in event_ids or ("pi_fixture",)]
    return body
