"""GET /v1/campaigns/{campaign_id}/tracker.js (docs/design.md §6.2): the script with the campaign baked in."""

import json
from typing import Any

from ..campaign import CampaignSettings
from ..events import browser_event_table
from ..runtime import Runtime
from .collect import load_campaign

# An expression, not the line around it: it survives minification (functions/collect/minify.mjs).
CONFIG_PLACEHOLDER = "/*__ZT_CONFIG__*/{}"


def tracker_config(campaign: CampaignSettings, *, api_base: str, pixel_sdk_url: str) -> dict[str, Any]:
    """What the browser may know of a campaign: never the token, nor anything derived from it."""
    return {
        "campaign_id": campaign.campaign_id,
        "pixel_id": campaign.pixel_id,
        "server_side": campaign.server_side,
        "endpoint": api_base.rstrip("/") + "/v1/events",
        "event_names": campaign.event_names,
        "event_table": browser_event_table(),
        "require_consent": campaign.require_consent,
        "limited_data_use": campaign.limited_data_use,
        "pixel_sdk_url": pixel_sdk_url,
    }


def render_tracker(template: str, config: dict[str, Any]) -> str:
    # ensure_ascii keeps U+2028/2029 and any non-ASCII out of the script text.
    return template.replace(CONFIG_PLACEHOLDER, json.dumps(config, ensure_ascii=True), 1)


def tracker_script(campaign_id: str, template: str, request_base_url: str,
                   runtime: Runtime) -> str:
    campaign = load_campaign(runtime, campaign_id)
    api_base = runtime.config.public_base_url or request_base_url
    return render_tracker(template, tracker_config(campaign, api_base=api_base,
                                                   pixel_sdk_url=runtime.config.tiktok_pixel_sdk_url))
