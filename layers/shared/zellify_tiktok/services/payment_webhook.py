"""POST /v1/webhooks/{provider} (docs/design.md §6.3): the payment core.

verify (the provider's adapter) → map (the adapter) → the common rules (bounds, campaign, consent, test mode,
first payments) → hand the built events to delivery (`deliver`, ONE call site) → answer.

Only signature problems and oversize bodies are refused (400); an unknown provider is 404. Every correctly
signed event is answered 200 (`queued`, `duplicate` or `ignored` with its reason), because providers redeliver
anything else for days. 500 means "redeliver later": a transient failure left nothing durable behind.
"""

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aws_lambda_powertools import Logger

from ..budget import Budget, Clock
from ..campaign import Campaign, test_code_to_send
from ..delivery import Delivery, DeliveryCore, ServeRequest
from ..errors import ApiError, BadRequest, NotFound
from ..payments.adapter import PaymentAdapter
from ..payments.core import MAX_AGE_S, Conversion, Ignored, SubscriptionCheck, conversion_event
from ..payments.paddle import PaddleAdapter
from ..payments.solidgate import SolidgateAdapter
from ..payments.stripe_adapter import StripeAdapter
from ..repositories import INFRASTRUCTURE_ERRORS
from ..repositories.ledger import LedgerRecord, ledger_key
from ..repositories.queues import QueueUnavailable
from ..repositories.secrets import ProviderSecrets
from ..runtime import Runtime, get_runtime
from ..server_event import ServerEvent

logger = Logger(child=True)

MAX_BODY_BYTES = 1024 * 1024
ADAPTERS: dict[str, PaymentAdapter] = {adapter.name: adapter for adapter in
                                       (StripeAdapter(), PaddleAdapter(), SolidgateAdapter())}


class RetryLater(ApiError):
    """Nothing durable could be done; the provider redelivers on a 5xx."""

    status = 500
    code = "retry_later"


Status = Literal["queued", "duplicate", "ignored"]


@dataclass(frozen=True)
class WebhookAnswer:
    status: Status
    reason: str
    event_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "event_ids": self.event_ids}


@dataclass(frozen=True)
class Handoff:
    """What delivery made of the built events: `queued` (on their way, or already confirmed) or `duplicate`
    (the ledger holds every one), with a reason when it says more than the funnel event."""

    status: Literal["queued", "duplicate"]
    reason: str | None = None


# The ONE place where built events leave the payment core. Today: the synchronous delivery core; the
# DeliveryQueue's enqueue takes its place without touching anything else here.
Deliver = Callable[[Delivery], Handoff]


def deliver_now(runtime: Runtime, budget: Budget, clock: Clock) -> Deliver:
    """Today's mechanism: DeliveryCore under ServeRequest (one TikTok attempt; the rest to the RetryQueue)."""
    def deliver(delivery: Delivery) -> Handoff:
        try:
            core = DeliveryCore(runtime, ServeRequest(runtime.settings.tiktok_total_timeout_s), budget, clock)
            report = core.deliver(delivery)
        except QueueUnavailable as exc:
            raise RetryLater("TikTok failed and the retry queue is unavailable; the provider will redeliver") from exc
        # Today's outcomes in the answer's vocabulary: `sent` is queued-and-already-confirmed.
        if report.sent:
            return Handoff("queued")
        if report.queued:
            return Handoff("queued", "transient_failure")
        if report.dead_lettered:
            # Refused by TikTok for good (e.g. a revoked token): parked in the DeadLetterQueue for replay.
            return Handoff("queued", "dead_lettered")
        return Handoff("duplicate", "already_sent")
    return deliver


def adapter_for(provider: str) -> PaymentAdapter:
    adapter = ADAPTERS.get(provider)
    if adapter is None:
        raise NotFound(f"no payment provider {provider[:40]!r}; served: {', '.join(ADAPTERS)}",
                       code="unknown_provider")
    return adapter


def handle_webhook(provider: str, body: bytes, headers: Mapping[str, str], budget: Budget,
                   runtime: Runtime | None = None, clock: Clock = time.time,
                   deliver: Deliver | None = None) -> dict[str, Any]:
    adapter = adapter_for(provider)
    runtime = runtime or get_runtime()
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}", code="payload_too_large")
    lower = {name.lower(): value for name, value in headers.items()}
    verified_test = adapter.verify(body, lower, _signing_secrets(adapter, runtime), clock())
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        event = None
    conversion = adapter.map(event, lower, verified_test)
    answer = process(conversion, runtime, clock, deliver or deliver_now(runtime, budget, clock))
    logger.info(f"{adapter.name} event handled", extra={"provider": adapter.name, **adapter.describe(event, lower),
                                                **answer.to_dict()})
    return answer.to_dict()


def _signing_secrets(adapter: PaymentAdapter, runtime: Runtime) -> ProviderSecrets:
    name = str(getattr(runtime.settings, adapter.secret_setting, "") or "")
    try:
        secrets = runtime.secrets.provider_secrets(name)
    except INFRASTRUCTURE_ERRORS as exc:
        raise RetryLater(f"the {adapter.name} signing secret could not be read; it will redeliver") from exc
    if not secrets:
        # Our misconfiguration, not a bad request: 500, so the provider keeps the event until it is fixed.
        logger.error("no signing secret configured", extra={"provider": adapter.name, "secret": name})
        raise RetryLater(f"no {adapter.name} signing secret is configured", code="signing_secret_missing")
    return secrets


def process(conversion: Conversion | Ignored, runtime: Runtime, clock: Clock, deliver: Deliver) -> WebhookAnswer:
    """A verified event's outcome. Raises RetryLater when nothing durable could be done."""
    if isinstance(conversion, Ignored):
        return _ignored(conversion.reason, conversion.event_id)
    now = clock()
    if conversion.event_time < now - MAX_AGE_S:
        return _ignored("too_old", conversion.event_id)
    try:
        return _process(conversion, runtime, now, deliver)
    except INFRASTRUCTURE_ERRORS as exc:
        raise RetryLater("campaign, session or ledger could not be read; the provider will redeliver") from exc


def _process(conversion: Conversion, runtime: Runtime, now: float, deliver: Deliver) -> WebhookAnswer:
    campaign = runtime.campaigns.get(conversion.campaign_id)
    if campaign is None:
        return _ignored("unknown_campaign", conversion.event_id)
    if not campaign.enabled:
        return _ignored("campaign_disabled", conversion.event_id)
    # One merchant's Stripe account must not post conversions into another merchant's pixel.
    if conversion.provider == "stripe" and campaign.stripe_account and conversion.account != campaign.stripe_account:
        return _ignored("account_mismatch", conversion.event_id)
    if not campaign.server_side:
        return _ignored("pixel_only", conversion.event_id)
    # Test payments never reach the live pixel: only with the campaign's active test code, and then with it.
    test_code = test_code_to_send(campaign, now)
    if conversion.test_mode and not test_code:
        return _ignored("test_mode", conversion.event_id)
    # Keyed by campaign + session: another campaign's session is never read.
    session = runtime.sessions.get(campaign.campaign_id, conversion.session_id)
    consent = session.consent if session else None
    # A withdrawn consent stops every later event; require_consent also needs one on record (§5).
    if consent is False or (campaign.require_consent and consent is not True):
        return _ignored("no_consent", conversion.event_id)
    # A provider's clock ahead of ours: the event happened now, not in the future (TikTok refuses those).
    event = conversion_event(conversion, campaign, session, event_time=min(conversion.event_time, int(now)))
    records = _first_payment_records(conversion, campaign, event, runtime)
    if records is None:
        return _ignored("not_first_payment", conversion.event_id)
    delivery = Delivery(campaign=campaign, pixel_id=campaign.pixel_id, events=[event], source=conversion.provider,
                        ledger_records=records, test_event_code=test_code)
    handoff = deliver(delivery)
    return WebhookAnswer(handoff.status, handoff.reason or conversion.funnel_event, [conversion.event_id])


def _first_payment_records(conversion: Conversion, campaign: Campaign, event: ServerEvent,
                           runtime: Runtime) -> list[LedgerRecord] | None:
    """Ledger records to write once the event is confirmed; None when the event is not reported.

    A subscription's first paid invoice/transaction/order is found by the absence of its first-payment record,
    not by a billing reason or origin: a trial's first real payment arrives as a renewal.
    """
    key = conversion.first_payment_key
    if conversion.subscription_check is SubscriptionCheck.NONE or not key:
        return []
    own_key = ledger_key(campaign.pixel_id, event.name, event.event_id)
    found = runtime.ledger.already_sent([key, own_key])
    if own_key in found:
        return []  # this very event was sent: the delivery answers "duplicate"
    if key in found:
        if conversion.subscription_check is SubscriptionCheck.FIRST_PAYMENT and campaign.report_renewals:
            return []
        return None
    if conversion.subscription_check is SubscriptionCheck.FIRST_PAYMENT:
        # 400 days, not the 48 h of the ledger, or next month's renewal would pass for a first payment.
        return [LedgerRecord(key=key, ttl_s=runtime.settings.first_payment_ttl_days * 86400)]
    return []


def _ignored(reason: str, event_id: str | None) -> WebhookAnswer:
    return WebhookAnswer("ignored", reason, [event_id] if event_id else [])
