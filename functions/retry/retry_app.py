"""RetryFunction: drains the RetryQueue; transient failures come back later, with backoff."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from zellify_tiktok.observability import metrics, tracer
from zellify_tiktok.services.retry import retry_batch

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class DeliveryPending(Exception):
    """The record's events failed transiently: SQS delivers it again after its backoff."""


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event, context):
    pending = retry_batch(event.get("Records", []), time_left_s=context.get_remaining_time_in_millis() / 1000)

    def record_handler(record: SQSRecord) -> None:
        if record.message_id in pending:
            raise DeliveryPending(record.message_id)

    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
