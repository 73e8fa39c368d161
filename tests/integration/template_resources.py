"""Create template.yaml's tables and queues in moto and resolve the functions' environment."""

import json
from pathlib import Path

import boto3
from cfnlint.decode import decode


def create_resources(template_path: Path, *, stack_name: str) -> dict[str, str]:
    template, _ = decode(str(template_path))
    physical: dict[str, dict] = {}
    dynamodb = boto3.client("dynamodb")
    sqs = boto3.client("sqs")
    resources = template["Resources"]
    for logical, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::DynamoDB::Table":
            dynamodb.create_table(
                TableName=logical,
                KeySchema=props["KeySchema"],
                AttributeDefinitions=props["AttributeDefinitions"],
                BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
                **({"GlobalSecondaryIndexes": props["GlobalSecondaryIndexes"]}
                   if "GlobalSecondaryIndexes" in props else {}),
            )
            ttl = props.get("TimeToLiveSpecification")
            if ttl:
                dynamodb.update_time_to_live(TableName=logical, TimeToLiveSpecification=ttl)
            physical[logical] = {"Ref": logical}
    queues = [(k, r) for k, r in resources.items() if r["Type"] == "AWS::SQS::Queue"]
    # Dead-letter targets first, so a redrive policy can name their ARN.
    queues.sort(key=lambda kv: "RedrivePolicy" in kv[1].get("Properties", {}))
    for logical, resource in queues:
        props = resource.get("Properties", {})
        attributes = {"VisibilityTimeout": str(props.get("VisibilityTimeout", 30))}
        redrive = props.get("RedrivePolicy")
        if redrive:
            target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": physical[target]["Arn"], "maxReceiveCount": str(redrive["maxReceiveCount"])}
            )
        url = sqs.create_queue(QueueName=logical, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        physical[logical] = {"Ref": url, "QueueUrl": url, "Arn": arn, "QueueName": logical}
    parameters = {name: str(p.get("Default", "")) for name, p in template.get("Parameters", {}).items()}
    conditions = template.get("Conditions", {})
    env = {}
    for name, value in template["Globals"]["Function"]["Environment"]["Variables"].items():
        env[name] = _resolve(value, physical, parameters, stack_name, conditions)
    return env


def _condition(expr, parameters: dict, conditions: dict) -> bool:
    """CloudFormation condition functions, evaluated with the parameters' defaults."""
    if "Condition" in expr:
        return _condition(conditions[expr["Condition"]], parameters, conditions)
    if "Fn::Equals" in expr:
        left, right = (parameters[v["Ref"]] if isinstance(v, dict) else str(v) for v in expr["Fn::Equals"])
        return left == right
    if "Fn::Not" in expr:
        return not _condition(expr["Fn::Not"][0], parameters, conditions)
    if "Fn::And" in expr:
        return all(_condition(e, parameters, conditions) for e in expr["Fn::And"])
    if "Fn::Or" in expr:
        return any(_condition(e, parameters, conditions) for e in expr["Fn::Or"])
    raise ValueError(f"cannot evaluate condition {expr!r}")


def _resolve(value, physical: dict, parameters: dict, stack_name: str, conditions: dict) -> str:
    if isinstance(value, str | int):
        return str(value)
    if "Fn::If" in value:
        name, when_true, when_false = value["Fn::If"]
        chosen = when_true if _condition(conditions[name], parameters, conditions) else when_false
        return _resolve(chosen, physical, parameters, stack_name, conditions)
    if "Ref" in value:
        ref = value["Ref"]
        return parameters[ref] if ref in parameters else physical[ref]["Ref"]
    if "Fn::GetAtt" in value:
        logical, attribute = value["Fn::GetAtt"]
        return physical[logical][attribute]
    if "Fn::Sub" in value:
        return value["Fn::Sub"].replace("${AWS::StackName}", stack_name)
    raise ValueError(f"cannot resolve {value!r}")
