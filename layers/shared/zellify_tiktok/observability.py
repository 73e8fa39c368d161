"""Metrics (CloudWatch EMF) and tracing (X-Ray) through Powertools.

No per-campaign metric dimension: that would bill one custom metric per campaign; per-campaign detail
lives in the logs, keyed by campaign_id. The tracer patches boto3, so every AWS call is a subsegment,
and the TikTok call gets its own; outside Lambda it is disabled and costs nothing.
"""

import warnings

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

metrics = Metrics()
tracer = Tracer()
# A request refused before any count is normal here, not worth a warning per invocation.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def count(name: str, value: int) -> None:
    if value:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def milliseconds(name: str, value: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=round(value, 1))
