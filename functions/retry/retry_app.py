"""RetryFunction: drains the RetryQueue; what TikTok does not take yet comes back later, with backoff."""

from collections.abc import Mapping, Sequence

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from zellify_tiktok.batch import GroupBatchProcessor
from zellify_tiktok.budget import Budget
from zellify_tiktok.config import get_settings
from zellify_tiktok.observability import lambda_entry, tracer
from zellify_tiktok.services.retry import QueuedRecord, redeliver

logger = Logger()
get_settings()  # at cold start: a function missing a setting stops here, naming it
processor = GroupBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
# A TikTok call may take its whole 3 s: keep room to report the batch before the function's timeout.
SAFETY_MARGIN_S = 5


@lambda_entry(logger)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    budget = Budget(context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_S)

    def deliver(records: Sequence[SQSRecord]) -> Mapping[str, Exception]:
        queued = [QueuedRecord(r.message_id, r.receipt_handle,
                               int(r.raw_event.get("attributes", {}).get("ApproximateReceiveCount", 1)), r.body)
                  for r in records]
        return redeliver(queued, budget)

    return process_partial_response(event=event, record_handler=deliver, processor=processor, context=context)
