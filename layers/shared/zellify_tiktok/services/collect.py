"""POST /v1/events (docs/design.md §6.1): validate, remember the session, queue the events, answer.

The beacon never waits for TikTok: its events go to the DeliveryQueue (handoff.py `submit`).
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from ..beacon import Beacon, parse_beacon
from ..campaign import CampaignSettings, is_campaign_id, test_code_to_send
from ..errors import Forbidden, NotFound, ServiceUnavailable, Unprocessable
from ..handoff import submit
from ..hashing import hash_external_id
from ..observability import add_log_keys, count, sampled
from ..records import Checkout, SessionRecord
from ..repositories import INFRASTRUCTURE_ERRORS
from ..repositories.queues import QueueUnavailable
from ..runtime import Runtime
from ..server_event import UserData

logger = Logger(child=True)


@dataclass(slots=True)  # one per request: not frozen (cheaper to build), never changed
class BeaconRequest:
    body: bytes
    origin: str | None
    source_ip: str | None
    user_agent: str | None


def load_campaign(runtime: Runtime, campaign_id: str) -> CampaignSettings:
    # A malformed id names no campaign; DynamoDB would refuse one over 2 KiB with a 500.
    campaign = runtime.campaigns.get(campaign_id) if is_campaign_id(campaign_id or "") else None
    if campaign is None or not campaign.enabled:
        shown = campaign_id[:128] if is_campaign_id(campaign_id[:128]) else "?"
        raise NotFound(f"campaign {shown!r} is unknown or disabled", code="unknown_campaign")
    return campaign


def collect(request: BeaconRequest, rt: Runtime, clock: Any = time.time) -> dict[str, Any]:
    now = clock()
    beacon = parse_beacon(request.body, int(now * 1000))
    try:
        campaign = load_campaign(rt, beacon.campaign_id)
    except INFRASTRUCTURE_ERRORS as exc:
        raise ServiceUnavailable("campaign settings could not be read; try again") from exc
    if not campaign.origin_allowed(request.origin):
        raise Forbidden("origin is not allowed for this campaign")
    add_log_keys(campaign_id=campaign.campaign_id)
    rejected = [r.to_dict() for r in beacon.rejected]
    if rejected:
        count("EventsRejected", len(rejected))
    if not beacon.events and not beacon.withdraws_consent:
        raise Unprocessable("no valid event in the beacon", code="no_valid_events", details=rejected)
    answer = {"accepted": [e.event_id for e in beacon.events], "rejected": rejected}
    if not campaign.server_side:
        return answer
    _note_beacon(rt, campaign, now)
    if beacon.consent is False or (campaign.require_consent and beacon.consent is not True):
        # Nothing is stored or sent for a visitor without consent (docs/design.md §5); a refusal after an
        # earlier consent is recorded, so later Stripe events of the session are not sent either.
        if beacon.consent is False:
            _withdraw_consent(rt, campaign, beacon)
        logger.info("beacon without consent: nothing sent", extra={"event_ids": answer["accepted"]})
        return answer
    session = _remember_session(rt, campaign, beacon, request, int(now))
    if session.consent is False:
        # Withdrawn earlier (a later page need not say it again): the stored refusal wins.
        logger.info("beacon of a session that withdrew consent: nothing sent", extra={"event_ids": answer["accepted"]})
        return answer
    naming = campaign.naming
    events = [event.server_event(naming, session.user) for event in beacon.events]
    try:
        submit(rt.delivery_queue, campaign_id=campaign.campaign_id, pixel_id=campaign.pixel_id,
               test_event_code=test_code_to_send(campaign, now), events=events, source="beacon", now=now)
    except QueueUnavailable as exc:
        raise ServiceUnavailable("events could not be queued; try again") from exc
    # A queued beacon is the common case: logged on sampled invocations.
    if sampled():
        logger.info("beacon queued", extra={"event_ids": answer["accepted"]})
    return answer


def _note_beacon(rt: Runtime, campaign: CampaignSettings, now: float) -> None:
    """Health's sign that beacons arrive: noted at most once a refresh period per container."""
    last = campaign.last_beacon_at
    if last is not None and now - last.timestamp() < rt.config.last_delivery_refresh_s:
        return
    try:
        rt.campaigns.record_beacon(campaign.campaign_id, datetime.fromtimestamp(now, UTC))
    except INFRASTRUCTURE_ERRORS as exc:
        logger.warning("beacon time not recorded", extra={"error": type(exc).__name__})


def _withdraw_consent(rt: Runtime, campaign: CampaignSettings, beacon: Beacon) -> None:
    try:
        rt.sessions.withdraw_consent(campaign.campaign_id, beacon.session_id)
    except INFRASTRUCTURE_ERRORS as exc:
        logger.warning("consent withdrawal not stored", extra={"error": type(exc).__name__})


def _session_update(beacon: Beacon, request: BeaconRequest) -> SessionRecord:
    """What this beacon knows of its visitor: the last email, phone and checkout it carries."""
    email = phone = last_checkout = None
    for e in beacon.events:
        email = e.email_hash or email
        phone = e.phone_hash or phone
        if e.event == "checkout_presented" and e.value is not None and e.currency:
            last_checkout = Checkout(e.value, e.currency, e.contents)
    return SessionRecord(
        user=UserData(
            external_id=hash_external_id(beacon.session_id),
            email=email,
            phone=phone,
            ttp=beacon.ttp,
            ttclid=beacon.ttclid,
            ip=request.source_ip,
            user_agent=request.user_agent[:512] if request.user_agent else None,
        ),
        consent=beacon.consent,
        last_checkout=last_checkout,
    )


def _remember_session(rt: Runtime, campaign: CampaignSettings, beacon: Beacon, request: BeaconRequest,
                      now_s: int) -> SessionRecord:
    """The session record after this beacon; if DynamoDB fails, what this beacon knows."""
    update = _session_update(beacon, request)
    try:
        return rt.sessions.upsert(campaign.campaign_id, beacon.session_id, update, now_s)
    except INFRASTRUCTURE_ERRORS as exc:
        logger.warning("session not stored; using the beacon's own user data", extra={"error": type(exc).__name__})
        return update
