"""POST /v1/webhooks/{provider} (docs/design.md §6.3): the payment core.

verify (the provider's adapter) → map (the adapter) → the common rules (bounds, campaign, consent, test mode,
first payments, the ledger) → put the built event on the DeliveryQueue (one SendMessage) → answer.

Only signature problems and oversize bodies are refused (400); an unknown provider is 404. Every correctly
signed event is answered 200 (`queued`, `duplicate` or `ignored` with its reason), because providers redeliver
anything else for days. 500 means "redeliver later": a transient failure left nothing durable behind.
"""

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aws_lambda_powertools import Logger

from ..budget import Clock
from ..campaign import CampaignSettings, test_code_to_send
from ..errors import ApiError, BadRequest, NotFound
from ..handoff import submit
from ..payments.adapter import PaymentAdapter
from ..payments.core import MAX_AGE_S, Conversion, Ignored, SubscriptionCheck, conversion_event
from ..payments.paddle import PaddleAdapter
from ..payments.solidgate import SolidgateAdapter
from ..payments.stripe_adapter import StripeAdapter
from ..records import LedgerRecord, ledger_key
from ..repositories import INFRASTRUCTURE_ERRORS
from ..repositories.queues import QueueUnavailable
from ..repositories.secrets import ProviderSecrets
from ..runtime import Runtime

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


def adapter_for(provider: str) -> PaymentAdapter:
    adapter = ADAPTERS.get(provider)
    if adapter is None:
        raise NotFound(f"no payment provider {provider[:40]!r}; served: {', '.join(ADAPTERS)}",
                       code="unknown_provider")
    return adapter


def handle_webhook(provider: str, body: bytes, headers: Mapping[str, str], runtime: Runtime,
                   clock: Clock = time.time) -> dict[str, Any]:
    adapter = adapter_for(provider)
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}", code="payload_too_large")
    lower = {name.lower(): value for name, value in headers.items()}
    verified_test = adapter.verify(body, lower, _signing_secrets(adapter, runtime), clock())
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        event = None
    conversion = adapter.map(event, lower, verified_test)
    answer = process(conversion, runtime, clock)
    logger.info(f"{adapter.name} event handled", extra={"provider": adapter.name, **adapter.describe(event, lower),
                                                **answer.to_dict()})
    return answer.to_dict()


def _signing_secrets(adapter: PaymentAdapter, runtime: Runtime) -> ProviderSecrets:
    name = str(getattr(runtime.config, adapter.secret_name_field, "") or "")
    try:
        secrets = runtime.secrets.provider_secrets(name)
    except INFRASTRUCTURE_ERRORS as exc:
        raise RetryLater(f"the {adapter.name} signing secret could not be read; it will redeliver") from exc
    if not secrets:
        # Our misconfiguration, not a bad request: 500, so the provider keeps the event until it is fixed.
        logger.error("no signing secret configured", extra={"provider": adapter.name, "secret": name})
        raise RetryLater(f"no {adapter.name} signing secret is configured", code="signing_secret_missing")
    return secrets


def process(conversion: Conversion | Ignored, runtime: Runtime, clock: Clock) -> WebhookAnswer:
    """A verified event's outcome. Raises RetryLater when nothing durable could be done."""
    if isinstance(conversion, Ignored):
        return _ignored(conversion.reason, conversion.event_id)
    now = clock()
    if conversion.event_time < now - MAX_AGE_S:
        return _ignored("too_old", conversion.event_id)
    try:
        return _process(conversion, runtime, now)
    except INFRASTRUCTURE_ERRORS as exc:
        raise RetryLater("campaign, session or ledger could not be read; the provider will redeliver") from exc


def _process(conversion: Conversion, runtime: Runtime, now: float) -> WebhookAnswer:
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
    own_key = ledger_key(campaign.pixel_id, event.name, event.event_id)
    first_payment_key = conversion.first_payment_key
    if conversion.subscription_check is SubscriptionCheck.NONE:
        first_payment_key = None
    # One BatchGetItem: this very event confirmed already, and the subscription paid before.
    held = runtime.ledger.already_sent([own_key, *filter(None, [first_payment_key])])
    if own_key in held:
        return WebhookAnswer("duplicate", "already_sent", [conversion.event_id])
    records = _first_payment_records(conversion, campaign, held, runtime)
    if records is None:
        return _ignored("not_first_payment", conversion.event_id)
    try:
        submit(runtime.delivery_queue, campaign_id=campaign.campaign_id, pixel_id=campaign.pixel_id,
               test_event_code=test_code, events=[event], source=conversion.provider, ledger_records=records,
               now=now)
    except QueueUnavailable as exc:
        raise RetryLater("the delivery queue is unavailable; the provider will redeliver") from exc
    return WebhookAnswer("queued", conversion.funnel_event, [conversion.event_id])


def _first_payment_records(conversion: Conversion, campaign: CampaignSettings, held: set[str],
                           runtime: Runtime) -> list[LedgerRecord] | None:
    """Ledger records to write once the event is confirmed; None when the event is not reported.

    A subscription's first paid invoice/transaction/order is found by the absence of its first-payment record
    (in `held`, what the ledger holds), not by a billing reason or origin: a trial's first real payment
    arrives as a renewal.
    """
    key = conversion.first_payment_key
    if conversion.subscription_check is SubscriptionCheck.NONE or not key:
        return []
    if key in held:
        if conversion.subscription_check is SubscriptionCheck.FIRST_PAYMENT and campaign.report_renewals:
            return []
        return None
    if conversion.subscription_check is SubscriptionCheck.FIRST_PAYMENT:
        # 400 days, not the 48 h of the ledger, or next month's renewal would pass for a first payment.
        return [LedgerRecord(key=key, ttl_s=runtime.config.first_payment_ttl_days * 86400)]
    return []


def _ignored(reason: str, event_id: str | None) -> WebhookAnswer:
    return WebhookAnswer("ignored", reason, [event_id] if event_id else [])
