"""Value types the layer passes between its parts; repositories store them, nothing here touches boto3."""

from dataclasses import dataclass
from decimal import Decimal

from .server_event import Content, UserData


def ledger_key(pixel_id: str, event_name: str, event_id: str) -> str:
    """The SentEvents ledger's key: TikTok's own dedup key, pixel + event name + event_id (docs/design.md §4)."""
    return f"{pixel_id}#{event_name}#{event_id}"


@dataclass(frozen=True, slots=True)
class LedgerRecord:
    """An extra record written with the event it belongs to, once TikTok confirmed it (e.g. first-payment:{sub})."""

    key: str
    ttl_s: int


@dataclass(slots=True)  # one per sent event: not frozen (cheaper to build), never changed
class SentRecord:
    """One event TikTok confirmed, as the ledger keeps it (its stream feeds the health figures)."""

    key: str
    campaign_id: str
    event: str
    match_keys: tuple[str, ...]
    # How long the TikTok call that took the event lasted.
    tiktok_ms: int
    value: Decimal | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class Checkout:
    """The session's last `checkout_presented`: a payment without zellify_contents uses its items."""

    value: Decimal
    currency: str
    contents: tuple[Content, ...] = ()


@dataclass(slots=True)  # one or two per beacon: not frozen (cheaper to build), never changed
class SessionRecord:
    """A session as stored, or what one request knows of it (merged in by `upsert`)."""

    user: UserData
    consent: bool | None = None
    last_checkout: Checkout | None = None
