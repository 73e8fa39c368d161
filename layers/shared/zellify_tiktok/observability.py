"""Metrics (CloudWatch EMF through Powertools). No per-campaign dimension: that would bill one custom
metric per campaign; per-campaign detail lives in the logs, keyed by campaign_id."""

import warnings

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

metrics = Metrics()
# A request refused before any count is normal here, not worth a warning per invocation.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def count(name: str, value: int) -> None:
    if value:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def milliseconds(name: str, value: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=round(value, 1))
