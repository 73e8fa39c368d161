"""CloudFormation: a deployed stack's Outputs, where the operator CLI's --stack finds the stack's names."""

from botocore.exceptions import ClientError

from .aws import client


class StackNotFound(Exception):
    """No stack of that name in the region asked."""


def stack_outputs(stack_name: str) -> dict[str, str]:
    """OutputKey → OutputValue of the stack, in one DescribeStacks call."""
    cloudformation = client("cloudformation")
    try:
        response = cloudformation.describe_stacks(StackName=stack_name)
    except ClientError as exc:
        # CloudFormation answers an unknown stack with a ValidationError saying it "does not exist".
        error = exc.response.get("Error", {})
        if error.get("Code") == "ValidationError" and "does not exist" in error.get("Message", ""):
            raise StackNotFound(f"no stack {stack_name!r} in region {cloudformation.meta.region_name}") from None
        raise
    (stack,) = response["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
