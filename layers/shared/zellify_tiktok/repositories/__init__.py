"""Repositories: the only modules that touch boto3."""

from botocore.exceptions import BotoCoreError, ClientError

from .secrets import SecretUnavailable

# What our own infrastructure failing looks like to the code above the repositories (DynamoDB,
# Secrets Manager): a request-serving function queues what it can and answers "try again" otherwise.
INFRASTRUCTURE_ERRORS: tuple[type[Exception], ...] = (BotoCoreError, ClientError, SecretUnavailable)
