"""StripeWebhookFunction: POST /v1/webhooks/stripe (docs/design.md §6.3)."""

from aws_lambda_powertools import Logger
from zellify_tiktok.api import invocation_budget, json_response, make_resolver, raw_body
from zellify_tiktok.config import get_settings
from zellify_tiktok.observability import lambda_entry, tracer
from zellify_tiktok.services.stripe_webhook import handle_webhook

logger = Logger()
get_settings()  # at cold start: a function missing a setting stops here, naming it
app = make_resolver()


@app.post("/v1/webhooks/stripe")
def post_stripe_webhook():
    event = app.current_event
    # The exact bytes Stripe signed (base64-decoded when API Gateway encoded them).
    return json_response(200, handle_webhook(raw_body(event), event.headers.get("stripe-signature"),
                                             invocation_budget(app)))


@lambda_entry(logger)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    return app.resolve(event, context)
