"""The local stack's one change to moto: SQS's retention check reads the one attribute it needs (local/aws.py)."""

import boto3
from moto import mock_aws
from moto.core.utils import unix_time
from moto.sqs.models import sqs_backends

from local.aws import retained
from local.template import ACCOUNT_ID, REGION


def test_a_message_is_retained_for_its_queues_retention_period_and_not_after():
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="retention", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="kept")
        backend = sqs_backends[ACCOUNT_ID][REGION]
        [message] = backend.get_queue("retention")._messages
        assert retained(backend, "retention", message)
        message.sent_timestamp = int((unix_time() - 61) * 1000)
        assert not retained(backend, "retention", message)
        # moto's own check, on the same message, agrees.
        assert not backend.is_message_valid_based_on_retention_period("retention", message)
        message.sent_timestamp = int((unix_time() - 59) * 1000)
        assert retained(backend, "retention", message)
        assert backend.is_message_valid_based_on_retention_period("retention", message)
