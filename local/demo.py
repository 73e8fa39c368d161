"""Demo funnel for the seeded campaign `demo`, mounted by the local stack at /demo (docs/design.md §8).

`demo_app` is a WSGI callable; it sees PATH_INFO relative to its mount (SCRIPT_NAME = /demo).
The pages (local/demo/*.html) carry the two-line tracker snippet a merchant would paste and fire
the funnel events; `POST /pay` stands in for the payment provider: for Stripe (the default) it makes
the PaymentIntent a real payment would and delivers the matching signed `payment_intent.succeeded`
webhook to our own `/v1/webhooks/stripe`; with `"provider": "paddle"` it delivers the signed
`transaction.completed` Paddle would send to `/v1/webhooks/paddle` (payments/samples.py, the local
secrets). Either way both channels of CompletePayment can be watched end to end.

`/pay` calls back into the same local server, which therefore has to serve requests concurrently
(the local stack's server is threaded).
"""

import json
import os
import re
import secrets
import string
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import stripe
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from .payment_secrets import LocalPaymentSecrets

CAMPAIGN_ID = "demo"
STATIC_DIR = Path(__file__).resolve().parent / "demo"
PAGES = {
    "/": "landing.html",
    "/quiz-1": "quiz-1.html",
    "/quiz-2": "quiz-2.html",
    "/email": "email.html",
    "/checkout": "checkout.html",
    "/success": "success.html",
}
ASSETS = {
    "/static/demo.css": ("demo.css", "text/css; charset=utf-8"),
    "/static/demo.js": ("demo.js", "application/javascript; charset=utf-8"),
}
DEFAULT_WEBHOOK_SECRET = "whsec_dev"
# Pinned like a real endpoint's API version, so payloads look like what Stripe sends today.
STRIPE_API_VERSION = "2025-08-27.basil"
WEBHOOK_TIMEOUT_S = 10
MAX_PAY_BODY = 16 * 1024
MAX_METADATA_VALUE = 500  # Stripe's limit for one metadata value
SESSION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
CURRENCY = re.compile(r"^[A-Za-z]{3}$")
ID_ALPHABET = string.ascii_letters + string.digits


def stripe_id(prefix: str) -> str:
    """An id shaped like Stripe's (`pi_3Q…`): prefix, a version digit, 24 base62 characters."""
    return f"{prefix}_3" + "".join(secrets.choice(ID_ALPHABET) for _ in range(24))


def payment_intent_succeeded(*, session_id: str, amount_minor: int, currency: str, contents: list[dict],
                             email: str | None = None, campaign_id: str = CAMPAIGN_ID,
                             now: int | None = None) -> dict:
    """A `payment_intent.succeeded` event as Stripe would deliver it for a funnel checkout."""
    created = int(time.time()) if now is None else now
    metadata = {"zellify_campaign_id": campaign_id, "zellify_session_id": session_id}
    encoded_contents = json.dumps(contents, separators=(",", ":"))
    # Stripe refuses longer metadata values; the webhook then falls back to the session's checkout.
    if contents and len(encoded_contents) <= MAX_METADATA_VALUE:
        metadata["zellify_contents"] = encoded_contents
    description = ", ".join(str(c.get("content_name") or c.get("content_id")) for c in contents) or None
    intent = {
        "id": stripe_id("pi"),
        "object": "payment_intent",
        "amount": amount_minor,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": amount_minor,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": {"allow_redirects": "always", "enabled": True},
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic_async",
        "confirmation_method": "automatic",
        "created": created,
        "currency": currency.lower(),
        "customer": None,
        "description": description,
        "last_payment_error": None,
        "latest_charge": stripe_id("ch"),
        # Live mode: the stand-in plays a real purchase. A test-mode one (livemode false) reaches TikTok only
        # while the campaign has a test event code (docs/design.md §6.3), and the demo campaign has none.
        "livemode": True,
        "metadata": metadata,
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": stripe_id("pm"),
        "payment_method_options": {"card": {"installments": None, "network": None,
                                            "request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": email,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded",
        "transfer_data": None,
        "transfer_group": None,
    }
    return {
        "id": stripe_id("evt"),
        "object": "event",
        "api_version": STRIPE_API_VERSION,
        "created": created,
        "data": {"object": intent},
        "livemode": True,
        "pending_webhooks": 1,
        "request": {"id": "req_" + "".join(secrets.choice(ID_ALPHABET) for _ in range(14)),
                    "idempotency_key": str(uuid.uuid4())},
        "type": "payment_intent.succeeded",
    }


def webhook_secret() -> str:
    # The same variable and default the local stack stores as the webhook's signing secret.
    return os.environ.get("STRIPE_WEBHOOK_SECRET") or DEFAULT_WEBHOOK_SECRET


def deliver_webhook(payload: str, base_url: str) -> dict:
    """POST the signed event like Stripe does; the answer as {webhook_status, webhook_body[, webhook_error]}."""
    request = urllib.request.Request(
        base_url.rstrip("/") + "/v1/webhooks/stripe",
        data=payload.encode(),
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": stripe.WebhookSignature.generate_signature_header(payload, webhook_secret()),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        },
    )
    return _send(request)


def _error(status: int, code: str, message: str) -> Response:
    return _json({"error": {"code": code, "message": message, "details": []}}, status)


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json",
                    headers={"Cache-Control": "no-store"})


def _pay_request(request: Request) -> tuple[dict | None, Response | None]:
    """The validated body of POST /pay, or the 400 that says what is wrong with it."""
    if (request.content_length or 0) > MAX_PAY_BODY:
        return None, _error(413, "payload_too_large", f"body over {MAX_PAY_BODY} bytes")
    try:
        data = json.loads(request.get_data(cache=False))
    except ValueError:
        return None, _error(400, "invalid_json", "body must be JSON")
    if not isinstance(data, dict):
        return None, _error(400, "invalid_json", "body must be a JSON object")
    session_id, amount, currency = data.get("session_id"), data.get("amount_minor"), data.get("currency")
    contents, email = data.get("contents", []), data.get("email")
    provider = data.get("provider", "stripe")
    problems = []
    if provider not in ("stripe", "paddle"):
        problems.append("provider: stripe or paddle")
    if not isinstance(session_id, str) or not SESSION_ID.match(session_id):
        problems.append("session_id: 1-128 characters of [A-Za-z0-9._:-]")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        problems.append("amount_minor: a positive integer in the currency's smallest unit")
    if not isinstance(currency, str) or not CURRENCY.match(currency):
        problems.append("currency: an ISO 4217 code")
    if not isinstance(contents, list) or not all(isinstance(c, dict) for c in contents):
        problems.append("contents: a list of objects")
    if email is not None and not isinstance(email, str):
        problems.append("email: a string")
    if problems:
        return None, _error(400, "invalid_field", "; ".join(problems))
    return {"session_id": session_id, "amount_minor": amount, "currency": currency, "contents": contents,
            "email": email or None, "provider": provider}, None


def pay(request: Request) -> Response:
    order, problem = _pay_request(request)
    if problem is not None:
        return problem
    base_url = os.environ.get("PUBLIC_BASE_URL") or request.host_url
    if order.pop("provider") == "paddle":
        return _json(pay_with_paddle(order, base_url))
    event = payment_intent_succeeded(**order)
    delivery = deliver_webhook(json.dumps(event, indent=2), base_url)
    # The PaymentIntent id is the CompletePayment event_id on both channels (docs/design.md §4).
    return _json({"event_id": event["data"]["object"]["id"], "provider": "stripe", **delivery})


def pay_with_paddle(order: dict, base_url: str) -> dict:
    """Paddle's `transaction.completed` for the checkout, signed with the local live secret and delivered.

    The transaction id is the event_id: Paddle.js's `checkout.completed` hands it to the page (docs/paddle.md).
    """
    # Imported here, not at start: the layer's logging must first see the handlers' environment
    # (POWERTOOLS_SERVICE_NAME), which the stack sets after importing this module.
    from zellify_tiktok.payments.core import major_units
    from zellify_tiktok.payments.samples import Secrets, build

    local = LocalPaymentSecrets.from_environ()
    currency = order["currency"].upper()
    contents = order["contents"] if len(json.dumps(order["contents"])) <= MAX_METADATA_VALUE else None
    webhook = build("paddle", "payment", campaign_id=CAMPAIGN_ID, session_id=order["session_id"],
                    value=major_units(order["amount_minor"], currency), currency=currency,
                    secrets=Secrets(paddle_live=local.paddle_live, paddle_test=local.paddle_test),
                    contents=contents or None)
    request = urllib.request.Request(base_url.rstrip("/") + webhook.path, data=webhook.body, method="POST",
                                     headers={**webhook.headers, "User-Agent": "Paddle"})
    return {"event_id": webhook.event_id, "provider": "paddle", **_send(request)}


def _send(request: urllib.request.Request) -> dict:
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, TimeoutError) as exc:
        return {"webhook_status": None, "webhook_body": None, "webhook_error": str(exc)}
    text = raw.decode("utf-8", "replace")
    try:
        body: Any = json.loads(text)
    except ValueError:
        body = text
    return {"webhook_status": status, "webhook_body": body}


def _file(name: str, content_type: str) -> Response:
    # Read on every request, so the demo can be edited while the stack runs.
    return Response((STATIC_DIR / name).read_bytes(), content_type=content_type,
                    headers={"Cache-Control": "no-store"})


def demo_app(environ: dict, start_response: Any):
    request = Request(environ)
    # Request.path turns an empty PATH_INFO into "/": relative links need the trailing slash.
    path = environ.get("PATH_INFO", "")
    if path == "":
        query = environ.get("QUERY_STRING", "")  # keeps a landing ?ttclid=…
        response = redirect(request.script_root + "/" + (f"?{query}" if query else ""), 308)
    elif path in PAGES:
        response = _file(PAGES[path], "text/html; charset=utf-8")
    elif path in ASSETS:
        response = _file(*ASSETS[path])
    elif path == "/pay":
        if request.method == "POST":
            response = pay(request)
        else:
            response = _error(405, "method_not_allowed", "POST only")
            response.headers["Allow"] = "POST"
    else:
        response = _error(404, "not_found", f"no demo page at {path}")
    return response(environ, start_response)
