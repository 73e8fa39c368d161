"""Stripe webhook samples (events/stripe_*.json) re-signed for a test.

The samples are signed with whsec_dev at a fixed time, so their signatures are stale: a test takes
a sample's body (changed if it wants), and signs it now with the secret it configured.
"""

import json
import time
from pathlib import Path

import stripe

EVENTS = Path(__file__).resolve().parents[1] / "events"
SAMPLE_SECRET = "whsec_dev"
SAMPLES = sorted(path.name for path in EVENTS.glob("stripe_*.json"))


def sample(name: str) -> dict:
    """The API Gateway event of a sample, as stored."""
    return json.loads((EVENTS / name).read_text())


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
