"""AWS for the local stack: moto's server in this process, and the tables, queues and secret of the template."""

import json
import os
from typing import Any

import boto3
from moto.core.utils import unix_time
from moto.server import ThreadedMotoServer
from moto.sqs.models import Message, SQSBackend, sqs_backends

from .template import ACCOUNT_ID, REGION, Resolver, Template, cfn_string

DUMMY_CREDENTIAL = "testing"
# The queue properties that name other queues: set once every queue exists.
_REDRIVE_PROPERTIES = ("RedrivePolicy", "RedriveAllowPolicy")
# CloudFormation queue properties that are not SQS queue attributes.
_NOT_QUEUE_ATTRIBUTES = ("QueueName", "Tags", *_REDRIVE_PROPERTIES)
_TABLE_PROPERTIES = ("KeySchema", "AttributeDefinitions", "BillingMode", "ProvisionedThroughput",
                     "LocalSecondaryIndexes")
# CloudFormation index properties CreateTable accepts (it refuses e.g. ContributorInsightsSpecification).
_INDEX_PROPERTIES = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput", "OnDemandThroughput")


def retained(backend: SQSBackend, queue_name: str, message: Message) -> bool:
    """Whether the message is within its queue's MessageRetentionPeriod: moto's own answer, read from the one
    attribute it needs. moto (5.2) computes every attribute of the queue for it, the message counts among them,
    each a scan of the whole queue, and asks once per message it hands out: a receive then costs the queue's
    length squared, and under a backlog the local stack's beacons waited seconds on their SendMessage."""
    period = int(backend.get_queue(queue_name).message_retention_period)
    return period + message.sent_timestamp / 1000 > unix_time()  # type: ignore[operator]


class MotoServer:
    """moto's server on a free port of 127.0.0.1; its state is this process's moto backends."""

    def __init__(self) -> None:
        SQSBackend.is_message_valid_based_on_retention_period = retained  # type: ignore[method-assign]
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint_url = ""

    def start(self) -> str:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        return self.endpoint_url

    def stop(self) -> None:
        if getattr(self._server, "_thread", None) is None:  # never started
            return
        # Stopped while starting (Ctrl-C during start-up): moto's stop() joins a thread that would serve
        # forever if it got to serve_forever() after the check for its server, so wait for it to exist.
        self._server._server_ready_event.wait(timeout=5)
        self._server.stop()
        # moto's stop() ends serve_forever but leaves the listening socket open until the process ends.
        server = getattr(self._server, "_server", None)
        if server is not None:
            server.server_close()


def use_endpoint(endpoint_url: str) -> None:
    """Point every boto3 client made in this process from now on, the handlers' included, at moto."""
    for name in list(os.environ):
        # A service-specific endpoint, a profile or a session token would win over the settings below.
        if name.startswith("AWS_ENDPOINT_URL_") or name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            del os.environ[name]
    os.environ.update({
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIAL,
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIAL,
    })


def create_resources(template: Template) -> dict[str, dict[str, str]]:
    """Create every SQS queue and DynamoDB table of the template; answer what each resolves to."""
    attributes: dict[str, dict[str, str]] = {}
    resolver = Resolver(template, attributes)
    sqs = boto3.client("sqs")
    queues = template.resources_of_type("AWS::SQS::Queue")
    for logical_id, props in queues.items():
        own = {key: value for key, value in props.items() if key not in _REDRIVE_PROPERTIES}
        attributes[logical_id] = _create_queue(sqs, logical_id, resolver.resolve(own))
    for logical_id, props in queues.items():
        policies = {key: json.dumps(resolver.resolve(props[key])) for key in _REDRIVE_PROPERTIES if key in props}
        if policies:
            sqs.set_queue_attributes(QueueUrl=attributes[logical_id]["QueueUrl"], Attributes=policies)
    dynamodb = boto3.client("dynamodb")
    for logical_id, props in template.resources_of_type("AWS::DynamoDB::Table").items():
        attributes[logical_id] = _create_table(dynamodb, logical_id, resolver.resolve(props))
    return attributes


def _create_queue(sqs: Any, logical_id: str, props: dict) -> dict[str, str]:
    name = props.get("QueueName", logical_id)
    queue_attributes = {key: cfn_string(value) for key, value in props.items() if key not in _NOT_QUEUE_ATTRIBUTES}
    url = sqs.create_queue(QueueName=name, Attributes=queue_attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"Ref": url, "QueueUrl": url, "Arn": arn, "QueueName": name}


def _create_table(dynamodb: Any, logical_id: str, props: dict) -> dict[str, str]:
    name = props.get("TableName", logical_id)
    request = {key: props[key] for key in _TABLE_PROPERTIES if key in props}
    if "GlobalSecondaryIndexes" in props:
        request["GlobalSecondaryIndexes"] = [
            {key: index[key] for key in _INDEX_PROPERTIES if key in index} for index in props["GlobalSecondaryIndexes"]
        ]
    stream = props.get("StreamSpecification")
    if stream:
        # CloudFormation enables a stream by naming its view type; CreateTable wants both.
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    description = dynamodb.create_table(TableName=name, **request)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    attributes = {"Ref": name, "Arn": description["TableArn"]}
    if stream:
        attributes["StreamArn"] = description["LatestStreamArn"]
    return attributes


def create_stripe_secret(name: str, signing_secret: str) -> None:
    create_provider_secret(name, [signing_secret], [], "Stripe")


def create_provider_secret(name: str, live: list[str], test: list[str], provider: str) -> None:
    """A payment provider's signing secrets as the stack keeps them: {"live": [...], "test": [...]}."""
    boto3.client("secretsmanager").create_secret(
        Name=name,
        SecretString=json.dumps({"live": live, "test": test}),
        Description=f"{provider} webhook signing secret(s) of the local stack",
    )


def peek_messages(queue_name: str) -> list[Any]:
    """The bodies (parsed when JSON) of a queue's messages, in flight ones included, left where they are.

    ReceiveMessage is no peek: each call counts as a receive and, repeated by a page that refreshes,
    would push messages to the dead-letter queue. moto runs in this process, so read its backend.
    """
    queue = sqs_backends[ACCOUNT_ID][REGION].queues.get(queue_name)
    if queue is None:
        return []
    bodies = []
    for message in list(queue._messages):
        try:
            bodies.append(json.loads(message.body))
        except ValueError:
            bodies.append(message.body)
    return bodies
