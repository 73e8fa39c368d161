"""CampaignSettingsFunction, the operator API (JWT-authorized): the campaign list, settings, test event and
health (docs/design.md §6.4, §9, §10)."""

from aws_lambda_powertools import Logger
from zellify_tiktok.api import invocation_budget, json_response, make_resolver, raw_body
from zellify_tiktok.config import get_settings
from zellify_tiktok.observability import lambda_entry, tracer
from zellify_tiktok.services.health import health_view
from zellify_tiktok.services.settings import delete_settings, get_settings_view, list_settings_views, put_settings
from zellify_tiktok.services.test_event import requested_test_code, send_test_event

logger = Logger()
get_settings()  # at cold start: a function missing a setting stops here, naming it
app = make_resolver()


@app.get("/v1/campaigns")
def list_campaigns():
    return json_response(200, list_settings_views())


@app.put("/v1/campaigns/<campaign_id>/tiktok")
def put(campaign_id: str):
    return json_response(200, put_settings(campaign_id, raw_body(app.current_event)))


@app.get("/v1/campaigns/<campaign_id>/tiktok")
def get(campaign_id: str):
    return json_response(200, get_settings_view(campaign_id))


@app.delete("/v1/campaigns/<campaign_id>/tiktok")
def delete(campaign_id: str):
    delete_settings(campaign_id)
    return json_response(204)


@app.post("/v1/campaigns/<campaign_id>/tiktok/test-event")
def test_event(campaign_id: str):
    code = requested_test_code(raw_body(app.current_event))
    return json_response(200, send_test_event(campaign_id, code, invocation_budget(app)).to_dict())


@app.get("/v1/campaigns/<campaign_id>/tiktok/health")
def health(campaign_id: str):
    return json_response(200, health_view(campaign_id, app.current_event.get_query_string_value("hours")))


@lambda_entry(logger)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    return app.resolve(event, context)
