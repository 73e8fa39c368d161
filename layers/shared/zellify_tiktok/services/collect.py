"""POST /v1/events (DESIGN §6.1): validate, remember the session, deliver, answer."""

import time
from dataclasses import dataclass

from aws_lambda_powertools import Logger

from ..beacon import CAMPAIGN_ID, Beacon, parse_beacon
from ..campaign import Campaign
from ..delivery import INFRA_ERRORS, Deliverer
from ..errors import Forbidden, NotFound, ServiceUnavailable, Unprocessable
from ..hashing import hash_external_id
from ..observability import count
from ..payload import beacon_tiktok_event, user_data
from ..repositories.queues import QueueUnavailable
from ..repositories.sessions import SessionUpdate, checkout_record
from ..runtime import Runtime, get_runtime

logger = Logger(child=True)


@dataclass(frozen=True)
class BeaconRequest:
    body: bytes
    origin: str | None
    source_ip: str | None
    user_agent: str | None


def load_campaign(runtime: Runtime, campaign_id: str) -> Campaign:
    # A malformed id names no campaign; DynamoDB would refuse one over 2 KiB with a 500.
    campaign = runtime.campaigns.get(campaign_id) if CAMPAIGN_ID.match(campaign_id or "") else None
    if campaign is None or not campaign.enabled:
        raise NotFound(f"campaign {campaign_id[:128]!r} is unknown or disabled", code="unknown_campaign")
    return campaign


def collect(request: BeaconRequest, runtime: Runtime | None = None, clock=time.time) -> dict:
    runtime = runtime or get_runtime()
    now = clock()
    beacon = parse_beacon(request.body, int(now * 1000))
    try:
        campaign = load_campaign(runtime, beacon.campaign_id)
    except INFRA_ERRORS as exc:
        raise ServiceUnavailable("campaign settings could not be read; try again") from exc
    if not campaign.origin_allowed(request.origin):
        raise Forbidden(f"origin {request.origin!r} is not allowed for this campaign")
    rejected = [r.to_dict() for r in beacon.rejected]
    count("EventsRejected", len(rejected))
    if not beacon.events:
        raise Unprocessable("no valid event in the beacon", code="no_valid_events", details=rejected)
    logger.append_keys(campaign_id=campaign.campaign_id)
    answer = {"accepted": [e.event_id for e in beacon.events], "rejected": rejected}
    count("EventsAccepted", len(answer["accepted"]))
    if not campaign.server_side:
        return answer
    if campaign.require_consent and beacon.consent is not True:
        # Nothing is stored or sent for a visitor who has not consented (DESIGN §5); a refusal after an
        # earlier consent is recorded, so later Stripe events of the session are not sent either.
        if beacon.consent is False:
            try:
                runtime.sessions.withdraw_consent(campaign.campaign_id, beacon.session_id)
            except INFRA_ERRORS as exc:
                logger.warning("consent withdrawal not stored", extra={"error": type(exc).__name__})
        logger.info("beacon without consent ignored", extra={"event_ids": answer["accepted"]})
        return answer
    session = _remember_session(runtime, campaign, beacon, request, int(now))
    events = [beacon_tiktok_event(e, campaign, user_data(session)) for e in beacon.events]
    try:
        report = Deliverer(runtime, clock).deliver(campaign, events, source="beacon")
    except QueueUnavailable as exc:
        raise ServiceUnavailable("events could not be delivered or queued; try again") from exc
    logger.info("beacon delivered", extra={"event_ids": answer["accepted"], "sent": len(report.sent),
                                           "duplicates": len(report.duplicates), "queued": len(report.queued),
                                           "dead_lettered": len(report.dead_lettered)})
    return answer


def _session_update(beacon: Beacon, request: BeaconRequest) -> SessionUpdate:
    emails = [e.email_hash for e in beacon.events if e.email_hash]
    checkouts = [e for e in beacon.events if e.event == "checkout_presented" and e.value is not None]
    last_checkout = checkouts[-1] if checkouts else None
    return SessionUpdate(
        external_id=hash_external_id(beacon.session_id),
        email=emails[-1] if emails else None,
        ttp=beacon.ttp,
        ttclid=beacon.ttclid,
        ip=request.source_ip,
        user_agent=request.user_agent[:512] if request.user_agent else None,
        consent=beacon.consent,
        last_checkout=checkout_record(last_checkout.value, last_checkout.currency, last_checkout.contents)
        if last_checkout else None,
    )


def _remember_session(runtime: Runtime, campaign: Campaign, beacon: Beacon, request: BeaconRequest,
                      now_s: int) -> dict:
    """The session record after this beacon; if DynamoDB fails, what this beacon alone knows."""
    update = _session_update(beacon, request)
    try:
        return runtime.sessions.upsert(campaign.campaign_id, beacon.session_id, update, now_s)
    except INFRA_ERRORS as exc:
        logger.warning("session not stored; using the beacon's own user data",
                       extra={"error": type(exc).__name__})
        return {k: v for k, v in vars(update).items() if v is not None}
