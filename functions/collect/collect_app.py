"""CollectFunction: POST /v1/events (beacons) and GET /v1/campaigns/{campaign_id}/tracker.js."""

from functools import cache
from pathlib import Path

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from zellify_tiktok.api import (
    PREFLIGHT_HEADERS,
    client_ip,
    json_response,
    make_resolver,
    raw_body,
    request_base_url,
    with_cors,
)
from zellify_tiktok.config import get_config
from zellify_tiktok.http_cache import conditional_response
from zellify_tiktok.observability import lambda_entry, tracer
from zellify_tiktok.runtime import get_runtime
from zellify_tiktok.services.collect import BeaconRequest, collect
from zellify_tiktok.services.tracker import tracker_script

logger = Logger()
get_config()  # at cold start: a function missing an environment variable stops here, naming it
app = make_resolver()
# tracker.js minified at build time (functions/collect/Makefile); the readable source is tracker.js.
TRACKER_JS = Path(__file__).with_name("tracker.min.js")


@cache
def tracker_template() -> str:
    return TRACKER_JS.read_text(encoding="utf-8")


@app.post("/v1/events")
def post_events():
    event = app.current_event
    # HTTP API hands header names over in lower case: the plain dict, not the case-insensitive copy
    # Powertools builds on each `headers` access.
    headers = event.raw_event.get("headers") or {}
    config = get_config()
    answer = collect(BeaconRequest(
        body=raw_body(event),
        origin=headers.get("origin"),
        source_ip=client_ip(event, headers, config.client_ip_header, config.origin_verify_secret),
        user_agent=headers.get("user-agent"),
    ), get_runtime())
    return json_response(202, answer)


@app.route("/v1/events", method="OPTIONS")
def preflight_events():
    # A preflight carries no body: the campaign is unknown, any origin may go on to post.
    return Response(status_code=204, body="", headers=PREFLIGHT_HEADERS)


@app.get("/v1/campaigns/<campaign_id>/tracker.js")
def get_tracker(campaign_id: str):
    event = app.current_event
    script = tracker_script(campaign_id, tracker_template(), request_base_url(event), get_runtime())
    answer = conditional_response(script, content_type="application/javascript; charset=utf-8",
                                  cache_control="public, max-age=300",
                                  accept_encoding=event.headers.get("accept-encoding"),
                                  if_none_match=event.headers.get("if-none-match"))
    return Response(status_code=answer.status, body=answer.body, headers=answer.headers)


@lambda_entry(logger)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    return with_cors(app.resolve(event, context), event)
