"""Campaign health (docs/design.md §9): what TikTok got, per campaign and hour, as figures. Pure.

Sent events are counted from the SentEvents ledger's stream (the ledger item carries what the figures
need); the rarer outcomes — a repeat dropped by the ledger, an event queued or dead-lettered — are
written where they happen. Both become `HealthDelta`s: increments of one (campaign, hour, event) bucket.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from .server_event import MATCH_KEYS, ServerEvent

HOUR_S = 3600
MAX_HOURS = 168
OUTCOMES = ("sent", "duplicates", "queued", "dead_lettered")
# Below this share of payment events carrying a key, the operator is told.
LOW_COVERAGE = 0.5


def hour_of(epoch_s: float) -> int:
    """The bucket an instant belongs to: the epoch second its hour starts."""
    return int(epoch_s) // HOUR_S * HOUR_S


@dataclass(frozen=True, slots=True)
class HealthDelta:
    """Increments of one campaign's bucket for one TikTok event name in one hour."""

    campaign_id: str
    hour: int
    event: str
    counts: Mapping[str, int]
    revenue: Mapping[str, Decimal] = field(default_factory=dict)
    payments: Mapping[str, int] = field(default_factory=dict)


def outcome_deltas(campaign_id: str, events: Iterable[ServerEvent], outcome: str, at: float,
                   sign: int = 1) -> list[HealthDelta]:
    """One delta per event name: `outcome` (duplicates, queued, dead_lettered) counted at `at`."""
    per_name: dict[str, int] = defaultdict(int)
    for event in events:
        per_name[event.name] += 1
    return [HealthDelta(campaign_id, hour_of(at), name, {outcome: sign * n}) for name, n in per_name.items()]


def added_up(deltas: Iterable[HealthDelta]) -> list[HealthDelta]:
    """Deltas of the same bucket as one: a bucket's figures in one write."""
    buckets: dict[tuple[str, int, str], tuple[dict[str, int], dict[str, Decimal], dict[str, int]]] = {}
    for delta in deltas:
        counts, revenue, payments = buckets.setdefault((delta.campaign_id, delta.hour, delta.event),
                                                       (defaultdict(int), defaultdict(Decimal), defaultdict(int)))
        for name, n in delta.counts.items():
            counts[name] += n
        for currency, value in delta.revenue.items():
            revenue[currency] += value
        for currency, n in delta.payments.items():
            payments[currency] += n
    return [HealthDelta(campaign_id, hour, event, dict(counts), dict(revenue), dict(payments))
            for (campaign_id, hour, event), (counts, revenue, payments) in buckets.items()]


@dataclass(frozen=True, slots=True)
class SentFact:
    """What the ledger's stream tells of one sent event."""

    campaign_id: str
    event: str
    sent_at: int
    match_keys: tuple[str, ...]
    tiktok_ms: int | None = None
    value: Decimal | None = None
    currency: str | None = None


def sent_deltas(facts: Iterable[SentFact]) -> list[HealthDelta]:
    """The sent events of a stream batch, added up per bucket (one write per bucket, not per event)."""
    buckets: dict[tuple[str, int, str], dict[str, Any]] = {}
    for fact in facts:
        bucket = buckets.setdefault((fact.campaign_id, hour_of(fact.sent_at), fact.event),
                                    {"counts": defaultdict(int), "revenue": defaultdict(Decimal),
                                     "payments": defaultdict(int)})
        counts = bucket["counts"]
        counts["sent"] += 1
        for key in fact.match_keys:
            if key in MATCH_KEYS:
                counts[f"key_{key}"] += 1
        # Only payments carry a value in the ledger, whatever TikTok name the campaign gives them.
        if fact.value is not None and fact.currency:
            bucket["revenue"][fact.currency] += fact.value
            bucket["payments"][fact.currency] += 1
    return [HealthDelta(campaign_id, hour, event, dict(b["counts"]), dict(b["revenue"]), dict(b["payments"]))
            for (campaign_id, hour, event), b in buckets.items()]


@dataclass(frozen=True, slots=True)
class HealthBucket:
    """One stored bucket, as read back."""

    hour: int
    event: str
    counts: Mapping[str, int]
    revenue: Mapping[str, Decimal]
    payments: Mapping[str, int]


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def health_figures(buckets: Sequence[HealthBucket]) -> dict[str, Any]:
    """The `events`, `match_keys` and `revenue` parts of the health answer."""
    per_event: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(OUTCOMES, 0))
    keys: dict[str, int] = dict.fromkeys(MATCH_KEYS, 0)
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    payments: dict[str, int] = defaultdict(int)
    for bucket in buckets:
        row = per_event[bucket.event]
        for outcome in OUTCOMES:
            row[outcome] += bucket.counts.get(outcome, 0)
        for key in MATCH_KEYS:
            keys[key] += bucket.counts.get(f"key_{key}", 0)
        for currency, value in bucket.revenue.items():
            revenue[currency] += value
        for currency, n in bucket.payments.items():
            payments[currency] += n
    sent = sum(row["sent"] for row in per_event.values())
    return {
        "events": [{"event": name, **{o: max(0, row[o]) for o in OUTCOMES}} for name, row in sorted(per_event.items())],
        "match_keys": {"events": sent,
                       "coverage": {key: round(keys[key] / sent, 4) if sent else 0.0 for key in MATCH_KEYS}},
        "revenue": [{"currency": c, "value": _number(revenue[c]), "payments": payments[c]} for c in sorted(revenue)],
    }


def payment_coverage(buckets: Sequence[HealthBucket]) -> dict[str, float] | None:
    """Email and ttclid coverage of payment events alone (the buckets holding payments), or None without any."""
    paid = [b for b in buckets if b.payments]
    sent = sum(b.counts.get("sent", 0) for b in paid)
    if not sent:
        return None
    return {key: sum(b.counts.get(f"key_{key}", 0) for b in paid) / sent for key in ("email", "ttclid")}


def window(hours: int, now: datetime) -> tuple[datetime, datetime]:
    """The window's first hour and its end: the last `hours` whole hours, the current one included."""
    end = datetime.fromtimestamp(hour_of(now.timestamp()) + HOUR_S, UTC)
    return end - timedelta(hours=hours), end
