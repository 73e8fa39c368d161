"""Powertools' batch processing for records that are handled together, not one by one.

`BatchProcessor` calls a record handler per record; the RetryFunction must send the records of one
pixel in one TikTok call. `GroupBatchProcessor` hands the handler every record at once, and the handler
answers, per record id, the exception of each record that failed. Powertools then does what it exists
for: success and failure bookkeeping per record, and the `batchItemFailures` answer SQS reads.
"""

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

GroupHandler = Callable[[Sequence[SQSRecord]], Mapping[str, Exception]]


class GroupBatchProcessor(BatchProcessor):
    def process(self) -> list[tuple[Any, ...]]:
        records = [SQSRecord(record) for record in self.records]
        failures = self.handler(records)
        results: list[tuple[Any, ...]] = []
        for raw, record in zip(self.records, records, strict=True):
            failure = failures.get(record.message_id)
            if failure is None:
                results.append(self.success_handler(record=raw, result=None))
                continue
            try:
                raise failure
            except Exception:  # Powertools keeps the exception info of each failed record
                results.append(self.failure_handler(record=record, exception=sys.exc_info()))
        return results
