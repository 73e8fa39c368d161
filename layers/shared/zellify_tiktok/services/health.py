"""Campaign health (docs/design.md §9): counting what TikTok got, and the route that shows it.

`count_sent` is the HealthFunction's work: the SentEvents ledger's stream (new items only) added up per
campaign, hour and event name. `health_view` answers GET /v1/campaigns/{campaign_id}/tiktok/health.
"""

import hashlib
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..access import Caller
from ..campaign import CampaignSettings, readable, token_warning, warnings_for
from ..errors import BadRequest
from ..health_figures import (
    LOW_COVERAGE,
    MAX_HOURS,
    HealthBucket,
    SentFact,
    health_figures,
    payment_coverage,
    sent_deltas,
    window,
)
from ..observability import average, count, milliseconds
from ..runtime import Runtime
from .settings import campaign_for

DEFAULT_HOURS = 24


def sent_fact(image: dict[str, Any]) -> SentFact | None:
    """A ledger item (a stream record's NewImage, DynamoDB JSON) as a sent event; None for other records."""
    try:
        campaign_id = image["campaign_id"]["S"]
        event = image["event"]["S"]
        sent_at = int(image["sent_at"]["N"])
        keys = tuple(key["S"] for key in image.get("match_keys", {}).get("L", []))
        tiktok_ms = int(image["tiktok_ms"]["N"]) if "tiktok_ms" in image else None
        value = Decimal(image["value"]["N"]) if "value" in image else None
        currency = image["currency"]["S"] if "currency" in image else None
    except (KeyError, TypeError, ValueError, InvalidOperation):
        return None  # a fact record (first-payment:…) or an item from before the figures existed
    return SentFact(campaign_id, event, sent_at, keys, tiktok_ms, value, currency)


def count_sent(images: Iterable[dict[str, Any]], batch_id: str, runtime: Runtime,
               now: float | None = None) -> int:
    """Add a stream batch's sent events to the figures and the metrics, once per `batch_id` (Lambda hands a
    failed batch over again, whole); how many were counted."""
    facts = [fact for image in images if (fact := sent_fact(image)) is not None]
    runtime.health.add_once(sent_deltas(facts), batch_id, int(time.time() if now is None else now))
    emit_sent_metrics(facts)
    return len(facts)


def batch_id(record_ids: Iterable[str]) -> str:
    """A stream batch's identity: its records' ids (unique per stream), hashed."""
    return hashlib.sha256("\n".join(sorted(record_ids)).encode()).hexdigest()[:32]


def emit_sent_metrics(facts: list[SentFact]) -> None:
    """EventsSent, MatchKeysPerEvent and the confirmed calls' TikTokLatency, off the request path.

    The events of one TikTok call share campaign, second and latency: each such group is one call."""
    count("EventsSent", len(facts))
    average("MatchKeysPerEvent", [len(fact.match_keys) for fact in facts])
    calls = {(f.campaign_id, f.sent_at, f.tiktok_ms) for f in facts if f.tiktok_ms is not None}
    for _, _, ms in calls:
        milliseconds("TikTokLatency", float(ms or 0))


def parse_hours(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_HOURS
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_HOURS:
        raise BadRequest(f"hours: a whole number from 1 to {MAX_HOURS}", code="invalid_hours",
                         details=[{"field": "hours", "message": f"a whole number from 1 to {MAX_HOURS}"}])
    return int(raw)


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def health_view(campaign_id: str, hours: str | None, runtime: Runtime,
                now: datetime | None = None, *, caller: Caller) -> dict[str, Any]:
    span = parse_hours(hours)
    campaign = campaign_for(caller, campaign_id, runtime)
    now = now or datetime.now(UTC)
    start, end = window(span, now)
    buckets = runtime.health.read(campaign.campaign_id, int(start.timestamp()), int(end.timestamp()))
    figures = health_figures(buckets)
    return {
        "campaign_id": campaign.campaign_id,
        "from": iso_z(start),
        "to": iso_z(end),
        **figures,
        "server_side": campaign.server_side,
        "last_delivery": campaign.last_delivery.as_dict() if campaign.last_delivery else None,
        "warnings": health_warnings(campaign, buckets, figures, start, now),
    }


def health_warnings(campaign: CampaignSettings, buckets: list[HealthBucket], figures: dict[str, Any], start: datetime,
                    now: datetime) -> list[str]:
    """What an operator should act on: the token, a test code, dead letters, silence, weak matching."""
    warnings = []
    token = token_warning(campaign.last_delivery)
    if token:
        warnings.append(token)
    if campaign.active_test_event_code(now):
        warnings.append(f"a test event code is active until {readable(campaign.test_event_code_expires_at)}: server "
                        "events go to TikTok's Test Events tool and do not count for ads")
    dead = sum(row["dead_lettered"] for row in figures["events"])
    if dead:
        events = "1 event" if dead == 1 else f"{dead} events"
        warnings.append(f"{events} dead-lettered in this window: fix the cause, then `zellify-tiktok replay`")
    beacons = campaign.last_beacon_at is not None and campaign.last_beacon_at >= start
    if campaign.server_side and beacons and not figures["match_keys"]["events"]:
        warnings.append("beacons arrive but no server event reached TikTok in this window "
                        "(is consent recorded? are events failing?)")
    for key, share in (payment_coverage(buckets) or {}).items():
        if share < LOW_COVERAGE:
            warnings.append(f"only {share:.0%} of payment events carry {key}: TikTok matches payments "
                            "poorly without it")
    # The settings' own warnings (disabled, no token, an expired test code), where not said already.
    for warning in warnings_for(campaign, now):
        if warning not in warnings and not warning.startswith("test_event_code is set"):
            warnings.append(warning)
    return warnings
