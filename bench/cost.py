"""What a one-event beacon costs in AWS, us-east-1 list prices (the formula and the prices: docs/performance.md).

`usd_per_million_beacons`, the target's figure, is the request path as the target defines it: the counted
calls (the request path's AWS calls as bench/aws_calls.py saw them), one HTTP API request and one collector
invocation with its configured memory (256 MB, billed for the beacon's median answer time through
`make dev`). `usd_per_million_beacons_delivered` adds what delivering the event costs, so the whole bill is
in sight: SQS's receive and delete by the event source mapping (ten messages a call), the DeliveryFunction's
invocations (one per TikTok call, 256 MB, billed for a TikTok call of DELIVERY_INVOCATION_S), and the
ledger's read and write of the event.
"""

# USD, us-east-1 list prices.
HTTP_API_PER_REQUEST = 1.00e-6
LAMBDA_PER_REQUEST = 0.20e-6
LAMBDA_ARM_PER_GB_S = 0.0000133334
SQS_PER_REQUEST = 0.40e-6
DYNAMODB_PER_WRU = 0.625e-6
DYNAMODB_PER_RRU = 0.125e-6
MEMORY_GB = 256 / 1024
DELIVERY_INVOCATION_S = 0.5
# Request units per call of the request path (items under 1 KB written, under 4 KB read, eventually consistent).
OPERATION_USD = {
    "dynamodb.GetItem": 0.5 * DYNAMODB_PER_RRU,
    "dynamodb.UpdateItem": 1 * DYNAMODB_PER_WRU,
    "sqs.SendMessage": SQS_PER_REQUEST,
    "sqs.SendMessageBatch": SQS_PER_REQUEST,
    "secretsmanager.GetSecretValue": 0.05 / 10_000,
}


def usd_per_million_beacons(operations: list[str], answer_s: float, tiktok_calls_per_1000_beacons: float) -> dict:
    request = (HTTP_API_PER_REQUEST + LAMBDA_PER_REQUEST + MEMORY_GB * answer_s * LAMBDA_ARM_PER_GB_S
               + sum(OPERATION_USD.get(operation, 0.0) for operation in operations))
    invocations = tiktok_calls_per_1000_beacons / 1000
    delivery = (2 / 10 * SQS_PER_REQUEST
                + invocations * (LAMBDA_PER_REQUEST + MEMORY_GB * DELIVERY_INVOCATION_S * LAMBDA_ARM_PER_GB_S)
                + 0.5 * DYNAMODB_PER_RRU + 1 * DYNAMODB_PER_WRU)
    return {"usd_per_million_beacons": request * 1e6, "usd_per_million_beacons_delivered": (request + delivery) * 1e6,
            "delivery_usd_per_million": delivery * 1e6}
