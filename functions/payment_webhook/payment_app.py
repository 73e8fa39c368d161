"""PaymentWebhookFunction: POST /v1/webhooks/{provider} for Stripe, Paddle and Solidgate (docs/design.md §6.3)."""

from aws_lambda_powertools import Logger
from zellify_tiktok.api import json_response, make_resolver, raw_body
from zellify_tiktok.config import get_config
from zellify_tiktok.observability import lambda_entry, tracer
from zellify_tiktok.runtime import get_runtime
from zellify_tiktok.services.payment_webhook import handle_webhook

logger = Logger()
get_config()  # at cold start: a function missing an environment variable stops here, naming it
app = make_resolver()


@app.post("/v1/webhooks/<provider>")
def post_payment_webhook(provider: str):
    event = app.current_event
    # The exact bytes the provider signed (base64-decoded when API Gateway encoded them).
    return json_response(200, handle_webhook(provider, raw_body(event), event.headers or {}, get_runtime()))


@lambda_entry(logger)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    return app.resolve(event, context)
