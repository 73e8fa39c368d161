"""CampaignSettingsFunction, the operator API (JWT-authorized): the campaign list, settings, test event,
health and audit trail (docs/design.md §6.4, §9, §10). Every route acts for the caller its token names."""

from aws_lambda_powertools import Logger
from zellify_tiktok.access import Caller
from zellify_tiktok.api import invocation_budget, json_response, make_resolver, operator_caller, raw_body
from zellify_tiktok.config import ConfigurationError, get_config
from zellify_tiktok.observability import add_log_keys, lambda_entry, tracer
from zellify_tiktok.runtime import get_runtime
from zellify_tiktok.services.audit import audit_view
from zellify_tiktok.services.health import health_view
from zellify_tiktok.services.settings import delete_settings, get_settings_view, list_settings_views, put_settings
from zellify_tiktok.services.test_event import requested_test_code, send_test_event

logger = Logger()
config = get_config()  # at cold start: a function missing an environment variable stops here, naming it
if not config.audit_table:
    raise ConfigurationError("missing environment variable(s): AUDIT_TABLE")
app = make_resolver()


def identify_caller(app, next_middleware):
    """Who calls, for the route and for every log line of this request."""
    caller = operator_caller(app.current_event.raw_event, admin_group=config.admin_group,
                             groups_claim=config.groups_claim)
    add_log_keys(sub=caller.sub)
    app.append_context(caller=caller)
    return next_middleware(app)


app.use(middlewares=[identify_caller])


def caller() -> Caller:
    return app.context["caller"]


@app.get("/v1/campaigns")
def list_campaigns():
    return json_response(200, list_settings_views(get_runtime(), caller=caller()))


@app.put("/v1/campaigns/<campaign_id>/tiktok")
def put(campaign_id: str):
    return json_response(200, put_settings(campaign_id, raw_body(app.current_event), get_runtime(), caller=caller()))


@app.get("/v1/campaigns/<campaign_id>/tiktok")
def get(campaign_id: str):
    return json_response(200, get_settings_view(campaign_id, get_runtime(), caller=caller()))


@app.delete("/v1/campaigns/<campaign_id>/tiktok")
def delete(campaign_id: str):
    delete_settings(campaign_id, get_runtime(), caller=caller())
    return json_response(204)


@app.post("/v1/campaigns/<campaign_id>/tiktok/test-event")
def test_event(campaign_id: str):
    code = requested_test_code(raw_body(app.current_event))
    return json_response(200, send_test_event(campaign_id, code, invocation_budget(app), get_runtime(),
                                              caller=caller()).to_dict())


@app.get("/v1/campaigns/<campaign_id>/tiktok/health")
def health(campaign_id: str):
    return json_response(200, health_view(campaign_id, app.current_event.get_query_string_value("hours"),
                                          get_runtime(), caller=caller()))


@app.get("/v1/campaigns/<campaign_id>/tiktok/audit")
def audit(campaign_id: str):
    return json_response(200, audit_view(campaign_id, app.current_event.get_query_string_value("limit"),
                                         get_runtime(), caller=caller()))


@lambda_entry(logger)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    return app.resolve(event, context)
