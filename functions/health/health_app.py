"""HealthFunction: the SentEvents ledger's stream, added up into the campaigns' health figures (§9)."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source
from zellify_tiktok.config import get_config
from zellify_tiktok.observability import lambda_entry, tracer
from zellify_tiktok.runtime import get_runtime
from zellify_tiktok.services.health import batch_id, count_sent

logger = Logger()
get_config()  # at cold start: a function missing an environment variable stops here, naming it


@lambda_entry(logger)
@tracer.capture_lambda_handler(capture_response=False)
@event_source(data_class=DynamoDBStreamEvent)
def lambda_handler(event: DynamoDBStreamEvent, context):
    # New ledger items only (the template's filter): a repeat write or a TTL expiry is no new send.
    records = list(event.records)
    images = [record.raw_event["dynamodb"].get("NewImage", {}) for record in records]
    counted = count_sent(images, batch_id(record.event_id or "" for record in records), get_runtime())
    logger.info("sent events counted", extra={"records": len(images), "counted": counted})
