"""DeliveryFunction: the DeliveryQueue's batches into TikTok; what TikTok does not take yet comes back later."""

from collections.abc import Mapping, Sequence

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from zellify_tiktok.batch import GroupBatchProcessor, process_grouped
from zellify_tiktok.budget import Budget
from zellify_tiktok.config import get_config
from zellify_tiktok.observability import lambda_entry, tracer
from zellify_tiktok.runtime import get_runtime
from zellify_tiktok.services.delivery import QueuedRecord, deliver_batch

logger = Logger()
get_config()  # at cold start: a function missing an environment variable stops here, naming it
processor = GroupBatchProcessor()
# Kept from the invocation's remaining time: a TikTok call cut short, the ledger record, settling the batch.
SAFETY_MARGIN_S = 5


@lambda_entry(logger)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    budget = Budget(context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_S)
    runtime = get_runtime()

    def deliver(records: Sequence[SQSRecord]) -> Mapping[str, Exception]:
        queued = [QueuedRecord(r.message_id, r.receipt_handle, int(r.attributes.get("ApproximateReceiveCount") or 1),
                               r.body) for r in records]
        return deliver_batch(queued, runtime, budget)

    return process_grouped(event, deliver, processor)
