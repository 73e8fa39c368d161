"""The funnel → TikTok event table of docs/design.md §3, as data, in one place."""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class FunnelEvent:
    name: str
    tiktok: str
    # The event carries value/currency on both channels.
    has_value: bool
    # False for payment outcomes: they reach the Events API only from Stripe.
    beacon: bool
    # StartTrial and Subscribe always report this value (revenue comes with CompletePayment).
    fixed_value: Decimal | None = None


_ZERO = Decimal(0)

EVENT_TABLE: dict[str, FunnelEvent] = {
    e.name: e
    for e in (
        FunnelEvent("page_view", "PageView", has_value=False, beacon=True),
        FunnelEvent("lead", "Lead", has_value=False, beacon=True),
        FunnelEvent("page_completed", "PageCompleted", has_value=False, beacon=True),
        FunnelEvent("email_captured", "CompleteRegistration", has_value=False, beacon=True),
        FunnelEvent("checkout_presented", "InitiateCheckout", has_value=True, beacon=True),
        FunnelEvent("payment_method_added", "AddPaymentInfo", has_value=True, beacon=True),
        FunnelEvent("payment_succeeded", "CompletePayment", has_value=True, beacon=False),
        FunnelEvent("payment_failed", "PaymentFailed", has_value=True, beacon=False),
        FunnelEvent("trial_started", "StartTrial", has_value=True, beacon=False, fixed_value=_ZERO),
        FunnelEvent("subscription_started", "Subscribe", has_value=True, beacon=False, fixed_value=_ZERO),
    )
}


def tiktok_event_name(funnel_event: str, overrides: Mapping[str, str] | None = None) -> str:
    """The TikTok name for a funnel event, honouring the campaign's `event_names` overrides."""
    if overrides and funnel_event in overrides:
        return overrides[funnel_event]
    return EVENT_TABLE[funnel_event].tiktok


def browser_event_table() -> dict[str, dict[str, Any]]:
    """The table as tracker.js needs it (baked into the script, so there is one source of truth)."""
    return {e.name: {"tiktok": e.tiktok, "beacon": e.beacon} for e in EVENT_TABLE.values()}
