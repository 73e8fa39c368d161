"""CampaignSettingsFunction, the operator API (JWT-authorized): GET /v1/campaigns and
PUT | GET | DELETE /v1/campaigns/{campaign_id}/tiktok."""

from aws_lambda_powertools import Logger
from zellify_tiktok.api import json_response, make_resolver, raw_body
from zellify_tiktok.observability import tracer
from zellify_tiktok.services.settings import delete_settings, get_settings_view, list_settings_views, put_settings

logger = Logger()
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


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    return app.resolve(event, context)
