"""The cold-start floor: a minimal Powertools HTTP handler that creates, at import, the boto3 clients and
the HTTP connection pool the real functions use, and answers without doing anything.

Whatever a real function costs above this is its own (domain code, its imports, its first request).
"""

import boto3
import urllib3
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from botocore.config import Config

# The same clients as zellify_tiktok.repositories.aws, made eagerly.
_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 2, "mode": "standard"})
_session = boto3.session.Session()
dynamodb = _session.client("dynamodb", config=_CONFIG)
secretsmanager = _session.client("secretsmanager", config=_CONFIG)
sqs = _session.client("sqs", config=_CONFIG)
http = urllib3.PoolManager(num_pools=4, maxsize=8, retries=False)

app = APIGatewayHttpResolver()


@app.post("/v1/events")
def post_events():
    return Response(status_code=202, content_type="application/json", body='{"accepted":[],"rejected":[]}')


@app.post("/v1/webhooks/stripe")
def post_stripe_webhook():
    return Response(status_code=200, content_type="application/json", body='{"status":"ignored"}')


def lambda_handler(event, context):
    return app.resolve(event, context)
