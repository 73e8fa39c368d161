"""Paddle and Solidgate webhooks for tests: Paddle's published payloads (tests/fixtures/paddle, from Paddle's
SDK) in Paddle's envelope, Solidgate's shapes from its API reference, each signed now as the provider signs.

Paddle bodies are signed with the SDK's own HMAC (`PaddleSignature.calculate_hmac`), Solidgate's by the
formula of its reference written out here, so neither test signs with the code it checks.
"""

import base64
import copy
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path

from zellify_tiktok.payments.samples import SignedWebhook

ROOT = Path(__file__).resolve().parents[1]
PADDLE_FIXTURES = ROOT / "tests" / "fixtures" / "paddle"
SESSION = "5f0c2b1e-8d7a-4c1b-9e0f-0a1b2c3d4e5f"
FUNNEL = {"zellify_campaign_id": "demo", "zellify_session_id": SESSION}
PADDLE_LIVE, PADDLE_TEST = "pdl_ntfset_live_0123456789", "pdl_ntfset_test_0123456789"
SOLIDGATE_LIVE = ("wh_pk_live_0123456789", "wh_sk_live_0123456789")
SOLIDGATE_TEST = ("wh_pk_test_0123456789", "wh_sk_test_0123456789")


def paddle_data(event_type: str, custom_data: dict | None = FUNNEL) -> dict:
    """The SDK fixture's `data` of `event_type`, with the funnel's custom data."""
    data = json.loads((PADDLE_FIXTURES / f"{event_type}.json").read_text())
    data["custom_data"] = copy.deepcopy(custom_data)
    return data


def paddle_envelope(event_type: str, data: dict, occurred_at: str | None = None) -> dict:
    return {"event_id": f"evt_01{uuid.uuid4().hex[:24]}", "event_type": event_type,
            "occurred_at": occurred_at or time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime()),
            "notification_id": f"ntf_01{uuid.uuid4().hex[:24]}", "data": data}


def paddle_signature(body: bytes, secret: str, timestamp: int | None = None, extra: tuple[str, ...] = ()) -> str:
    from paddle_billing.Notifications import PaddleSignature

    ts = int(time.time()) if timestamp is None else timestamp
    digest = PaddleSignature.calculate_hmac(secret, f"{ts}:{body.decode()}".encode()).hexdigest()
    return ";".join([f"ts={ts}", *(f"h1={h}" for h in extra), f"h1={digest}"])


def solidgate_signature(public: str, secret: str, body: bytes) -> str:
    hexdigest = hmac.new(secret.encode(), public.encode() + body + public.encode(), hashlib.sha512).hexdigest()
    return base64.b64encode(hexdigest.encode()).decode()


def solidgate_order(status: str = "approved", *, amount: int = 999, currency: str = "USD",
                    order_id: str = "order-0001", subscription_id: str | None = None,
                    metadata: dict | None = FUNNEL, email: str | None = "Ann@Example.com") -> dict:
    """A card order update as Solidgate's reference shows it: `order`, `transactions` keyed by id, metadata."""
    transaction = "txn-0001" if status != "declined" else "txn-0002"
    body = {"order": {"order_id": order_id, "amount": amount, "currency": currency, "status": status,
                      "customer_email": email, "order_description": "Pro plan", "subscription_id": subscription_id,
                      "created_at": "2026-12-06 10:00:00", "updated_at": "2026-12-06 10:00:05"},
            "transactions": {transaction: {"id": transaction, "operation": "pay",
                                           "status": "fail" if status == "declined" else "success",
                                           "amount": amount, "currency": currency}}}
    if metadata is not None:
        body["order_metadata"] = metadata
    return body


def solidgate_subscription(callback_type: str = "init", *, trial: bool = False, sub: str = "sub-sg-0001",
                           metadata: dict | None = FUNNEL) -> dict:
    body = {"callback_type": callback_type,
            "subscription": {"id": sub, "status": "active", "trial": trial, "started_at": "2026-12-06 10:00:00"},
            "product": {"name": "Pro plan", "amount": 999, "currency": "USD", "trial": trial},
            "customer": {"customer_email": "ann@example.com"}}
    if metadata is not None:
        body["order_metadata"] = metadata
    return body


def signed(provider: str, payload: dict | bytes, *, secret=None, headers: dict | None = None,
           timestamp: int | None = None) -> SignedWebhook:
    """`payload` signed for `provider` with `secret` (Paddle: a key; Solidgate: a (public, secret) pair)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload, indent=2).encode()
    out = {"content-type": "application/json"}
    if provider == "paddle":
        out["paddle-signature"] = paddle_signature(body, secret or PADDLE_LIVE, timestamp)
    elif provider == "solidgate":
        public, key = secret or SOLIDGATE_LIVE
        out.update({"merchant": public, "signature": solidgate_signature(public, key, body),
                    "solidgate-event-id": str(uuid.uuid4()), "solidgate-event-type": "card_gate.order.updated",
                    "solidgate-event-created-at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())})
    out.update(headers or {})
    return SignedWebhook(provider, "", f"/v1/webhooks/{provider}", body, out, "", "")


def apigw_event(webhook: SignedWebhook, *, path: str | None = None) -> dict:
    """The API Gateway (HTTP API, payload 2.0) event of a webhook delivery."""
    raw_path = path or webhook.path
    return {
        "version": "2.0", "routeKey": "POST /v1/webhooks/{provider}", "rawPath": raw_path, "rawQueryString": "",
        "headers": {"content-length": str(len(webhook.body)), "host": "abc123.execute-api.us-east-1.amazonaws.com",
                    "user-agent": "provider-webhooks/1.0", **{k.lower(): v for k, v in webhook.headers.items()}},
        "requestContext": {"accountId": "123456789012", "apiId": "abc123",
                           "domainName": "abc123.execute-api.us-east-1.amazonaws.com", "domainPrefix": "abc123",
                           "http": {"method": "POST", "path": raw_path, "protocol": "HTTP/1.1",
                                    "sourceIp": "3.18.12.63", "userAgent": "provider-webhooks/1.0"},
                           "requestId": f"req-{uuid.uuid4().hex[:8]}", "routeKey": "POST /v1/webhooks/{provider}",
                           "stage": "$default", "time": "06/Dec/2026:10:00:00 +0000",
                           "timeEpoch": int(time.time() * 1000)},
        "pathParameters": {"provider": raw_path.rsplit("/", 1)[-1]},
        **_body(webhook.body),
    }


def _body(raw: bytes) -> dict:
    try:
        return {"isBase64Encoded": False, "body": raw.decode("utf-8")}
    except UnicodeDecodeError:  # API Gateway hands binary bodies over base64-encoded
        return {"isBase64Encoded": True, "body": base64.b64encode(raw).decode()}
