"""POST /v1/webhooks/stripe (docs/design.md §6.3): verify, map, guard, join the session, queue, answer.

Only signature problems and oversize bodies are refused (400): every correctly signed event is
answered 200, because Stripe redelivers anything else for three days. 500 means "redeliver
later": a transient failure left nothing durable behind (the queue was down, or what to send could
not be decided because a table or the signing secret could not be read).
"""

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from ..budget import Budget, Clock
from ..campaign import Campaign, test_code_to_send
from ..errors import ApiError, BadRequest
from ..handoff import submit
from ..observability import count
from ..records import LedgerRecord, ledger_key
from ..repositories import INFRASTRUCTURE_ERRORS
from ..repositories.queues import QueueUnavailable
from ..runtime import Runtime, get_runtime
from ..stripe_mapping import Conversion, Ignored, SubscriptionCheck, conversion_event, first_payment_key, map_event

logger = Logger(child=True)

MAX_BODY_BYTES = 1024 * 1024
SIGNATURE_TOLERANCE_S = 300


class RetryLater(ApiError):
    """Nothing durable could be done; Stripe redelivers on a 5xx."""

    status = 500
    code = "retry_later"


@dataclass(frozen=True)
class WebhookAnswer:
    status: str  # queued | duplicate | ignored
    reason: str
    event_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "event_ids": self.event_ids}


def verify_signature(body: bytes, header: str | None, secrets: Sequence[str], now: float | None = None) -> None:
    """Accept the body when any secret (several during a rotation) matches any `v1` of the header,
    signed within SIGNATURE_TOLERANCE_S of `now` either way.

    The library refuses only stale timestamps; one far in the future would let a captured delivery be
    replayed after the 48 h ledger has forgotten its event (docs/design.md §6.3: 300 s both ways).
    """
    if not header:
        raise BadRequest("the Stripe-Signature header is missing", code="missing_signature")
    invalid = (f"Stripe-Signature does not match the body for any configured signing secret "
               f"within {SIGNATURE_TOLERANCE_S} s")
    # The library compares with hmac.compare_digest (TypeError on non-ASCII text) and decodes the
    # body as UTF-8 (UnicodeDecodeError): neither can be a Stripe signature, so refuse them first.
    if not header.isascii():
        raise BadRequest(invalid, code="invalid_signature", details=[{"message": "header is not ASCII"}])
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(invalid, code="invalid_signature", details=[{"message": "body is not UTF-8"}]) from None
    # Imported here, not at module level: the package is large and slow to import, and only this
    # function ships it; the collector imports the layer without it (docs/design.md §2).
    import stripe

    problems: list[str] = []
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(body, header, secret, tolerance=SIGNATURE_TOLERANCE_S)
        except stripe.SignatureVerificationError as exc:
            problems.append(str(exc))  # the library's messages name no secret
            continue
        if _signed_at(header) <= (time.time() if now is None else now) + SIGNATURE_TOLERANCE_S:
            return
        problems.append(f"Timestamp more than {SIGNATURE_TOLERANCE_S} s in the future")
    # Stripe disables an endpoint that keeps refusing its deliveries: template.yaml alarms on this.
    count("StripeSignatureFailures", 1)
    raise BadRequest(invalid, code="invalid_signature",
                     details=[{"message": message} for message in dict.fromkeys(problems)])


def _signed_at(header: str) -> int:
    """The header's `t=` timestamp, read as the library reads it (it has accepted the header)."""
    return int(next(value for key, _, value in (item.partition("=") for item in header.split(",")) if key == "t"))


def handle_webhook(body: bytes, signature: str | None, budget: Budget, runtime: Runtime | None = None,
                   clock: Clock = time.time) -> dict[str, Any]:
    runtime = runtime or get_runtime()
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}", code="payload_too_large")
    verify_signature(body, signature, _signing_secrets(runtime), now=clock())
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        event = None
    answer = process_event(event, runtime, budget, clock)
    stripe_event = event if isinstance(event, dict) else {}
    logger.info("stripe event handled", extra={
        "stripe_event_id": str(stripe_event.get("id"))[:64],
        "stripe_type": str(stripe_event.get("type"))[:64],
        **answer.to_dict(),
    })
    return answer.to_dict()


def _signing_secrets(runtime: Runtime) -> list[str]:
    try:
        secrets = runtime.secrets.stripe_signing_secrets()
    except INFRASTRUCTURE_ERRORS as exc:
        raise RetryLater("the Stripe signing secret could not be read; Stripe will redeliver") from exc
    if not secrets:
        # Our misconfiguration, not a bad request: 500, so Stripe keeps the event until it is fixed.
        logger.error("no Stripe signing secret configured", extra={"secret": runtime.settings.stripe_secret_name})
        raise RetryLater("no Stripe signing secret is configured", code="signing_secret_missing")
    return secrets


def process_event(event: Any, runtime: Runtime, budget: Budget, clock: Clock = time.time) -> WebhookAnswer:
    """A verified event's outcome. Raises RetryLater when nothing durable could be done."""
    conversion = map_event(event)
    if isinstance(conversion, Ignored):
        return _ignored(conversion.reason, conversion.event_id)
    try:
        return _deliver(conversion, runtime, clock)
    except INFRASTRUCTURE_ERRORS as exc:
        raise RetryLater("campaign, session or ledger could not be read; Stripe will redeliver") from exc


def _deliver(conversion: Conversion, runtime: Runtime, clock: Clock) -> WebhookAnswer:
    campaign = runtime.campaigns.get(conversion.campaign_id)
    if campaign is None:
        return _ignored("unknown_campaign", conversion.event_id)
    if not campaign.enabled:
        return _ignored("campaign_disabled", conversion.event_id)
    # One merchant's Stripe account must not post conversions into another merchant's pixel.
    if campaign.stripe_account and conversion.account != campaign.stripe_account:
        return _ignored("account_mismatch", conversion.event_id)
    if not campaign.server_side:
        return _ignored("pixel_only", conversion.event_id)
    # Keyed by campaign + session: another campaign's session is never read.
    session = runtime.sessions.get(campaign.campaign_id, conversion.session_id)
    consent = session.consent if session else None
    # A withdrawn consent stops every later event; require_consent also needs one on record (§5).
    if consent is False or (campaign.require_consent and consent is not True):
        return _ignored("no_consent", conversion.event_id)
    event = conversion_event(conversion, campaign, session)
    own_key = ledger_key(campaign.pixel_id, event.name, event.event_id)
    subscription_keys = ([first_payment_key(conversion.subscription_id)] if conversion.subscription_id and
                         conversion.subscription_check is not SubscriptionCheck.NONE else [])
    held = runtime.ledger.already_sent([own_key, *subscription_keys])  # one BatchGetItem
    if own_key in held:
        return WebhookAnswer("duplicate", "already_sent", [conversion.event_id])
    records = _first_payment_records(conversion, campaign, held, runtime)
    if records is None:
        return _ignored("not_first_payment", conversion.event_id)
    try:
        submit(runtime.delivery_queue, campaign_id=campaign.campaign_id, pixel_id=campaign.pixel_id,
               test_event_code=test_code_to_send(campaign, clock()), events=[event], source="stripe",
               ledger_records=records, now=clock())
    except QueueUnavailable as exc:
        raise RetryLater("the delivery queue is unavailable; Stripe will redeliver") from exc
    return WebhookAnswer("queued", conversion.funnel_event, [conversion.event_id])


def _first_payment_records(conversion: Conversion, campaign: Campaign, held: set[str],
                           runtime: Runtime) -> list[LedgerRecord] | None:
    """Ledger records to write once the event is confirmed; None when the event is not reported.

    A subscription's first paid invoice is found by the absence of its first-payment record (in `held`, what
    the ledger holds), not by billing_reason: a trial's first real payment arrives as `subscription_cycle`.
    """
    if conversion.subscription_check is SubscriptionCheck.NONE or not conversion.subscription_id:
        return []
    key = first_payment_key(conversion.subscription_id)
    if key in held:
        if conversion.subscription_check is SubscriptionCheck.FIRST_PAYMENT and campaign.report_renewals:
            return []
        return None
    if conversion.subscription_check is SubscriptionCheck.FIRST_PAYMENT:
        # 400 days, not the 48 h of the ledger, or next month's renewal would pass for a first payment.
        return [LedgerRecord(key=key, ttl_s=runtime.settings.first_payment_ttl_days * 86400)]
    return []


def _ignored(reason: str, event_id: str | None) -> WebhookAnswer:
    return WebhookAnswer("ignored", reason, [event_id] if event_id else [])
