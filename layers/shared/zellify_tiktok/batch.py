"""Powertools' batch processing for SQS records that are delivered together and settled one by one.

`BatchProcessor` calls a record handler per record; the DeliveryFunction must send the events of one pixel
in one TikTok call, whatever record holds them. `GroupBatchProcessor` runs the group handler once over the
whole batch when the batch starts (`_prepare`), then settles each record (`_process_record`) from what the
handler answered for it: Powertools keeps its success and failure bookkeeping per record and builds the
`batchItemFailures` answer SQS reads.
"""

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

# Every record of the batch → the exception of each record that must come back (by message id).
GroupHandler = Callable[[Sequence[SQSRecord]], Mapping[str, Exception]]


class GroupBatchProcessor(BatchProcessor):
    def __init__(self) -> None:
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self._failures: Mapping[str, Exception] = {}

    def _prepare(self) -> None:
        super()._prepare()  # type: ignore[no-untyped-call]
        self._failures = self.handler([SQSRecord(record) for record in self.records])

    def _process_record(self, record: dict[str, Any]) -> Any:
        data = SQSRecord(record)
        failure = self._failures.get(data.message_id)
        if failure is None:
            return self.success_handler(record=record, result=None)
        try:
            raise failure
        except Exception:  # Powertools keeps the exception info of each failed record
            return self.failure_handler(record=data, exception=sys.exc_info())

    def _clean(self) -> None:
        super()._clean()  # type: ignore[no-untyped-call]
        self._failures = {}


def process_grouped(event: dict[str, Any], handler: GroupHandler,
                    processor: GroupBatchProcessor) -> PartialItemFailureResponse:
    """The SQS event's records through `handler`, answered as partial batch responses."""
    with processor(records=event.get("Records") or [], handler=handler):
        processor.process()
    return processor.response()
