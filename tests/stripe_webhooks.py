"""Stripe webhook samples (events/stripe_*.json) re-signed for a test.

The samples are signed with whsec_dev at a fixed time, so their signatures are stale: a test takes
a sample's body (changed if it wants), and signs it now with the secret it configured. Their events are
re-dated to an hour ago (one time for the whole run): the webhook ignores events older than 7 days.
"""

import json
import re
import time
from pathlib import Path

import stripe

EVENTS = Path(__file__).resolve().parents[1] / "events"
SAMPLE_SECRET = "whsec_dev"
SAMPLES = sorted(path.name for path in EVENTS.glob("stripe_*.json"))
RECENT = int(time.time()) - 3600
_EVENT_CREATED = re.compile(r'^  "created": \d+', re.MULTILINE)  # the event's own, not its object's


def sample(name: str, *, as_stored: bool = False) -> dict:
    """The API Gateway event of a sample, its Stripe event re-dated to RECENT (the text otherwise as stored)."""
    event = json.loads((EVENTS / name).read_text())
    if not as_stored:
        event["body"] = _EVENT_CREATED.sub(f'  "created": {RECENT}', event["body"], count=1)
    return event


def stripe_event(name: str) -> dict:
    """The Stripe event (the webhook body) of a sample, parsed."""
    return json.loads(sample(name)["body"])


def signature_header(body: str | bytes, secret: str, timestamp: int | None = None) -> str:
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    return stripe.WebhookSignature.generate_signature_header(text, secret, timestamp=timestamp or int(time.time()))


def body_text(body: dict | str) -> str:
    # Pretty-printed like Stripe's own bodies; the signature covers exactly these bytes.
    return body if isinstance(body, str) else json.dumps(body, indent=2)


def signed_event(name: str, body: dict | str | None = None, *, secret: str, timestamp: int | None = None) -> dict:
    """The sample's API Gateway event carrying `body` (default: the sample's own), signed now."""
    event = sample(name)
    text = event["body"] if body is None else body_text(body)
    event["body"] = text
    event["headers"]["content-length"] = str(len(text.encode("utf-8")))
    event["headers"]["stripe-signature"] = signature_header(text, secret, timestamp)
    return event
