"""Metrics (CloudWatch EMF) and, when enabled, tracing (X-Ray) through Powertools.

No per-campaign metric dimension: that would bill one custom metric per campaign; per-campaign detail
lives in the logs, keyed by campaign_id.

Tracing is opt-in (template parameter EnableTracing): creating Powertools' Tracer imports the X-Ray
SDK, about 150 ms of every cold start, even when tracing is disabled. When it is on, the tracer
patches boto3 (every AWS call is a subsegment) and the TikTok call gets its own subsegment.
"""

import logging
import os
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

metrics = Metrics()
# A request refused before any count is normal here, not worth a warning per invocation.
warnings.filterwarnings("ignore", message="No application metrics to publish")


F = TypeVar("F", bound=Callable[..., Any])


class _NoTracer:
    """Tracer's decorators, doing nothing: tracing is off."""

    @staticmethod
    def capture_lambda_handler(**_: Any) -> Callable[[F], F]:
        return lambda handler: handler

    @staticmethod
    def capture_method(**_: Any) -> Callable[[F], F]:
        return lambda method: method


def _tracer() -> Any:
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").lower() in ("true", "1"):
        return _NoTracer()
    from aws_lambda_powertools import Tracer

    return Tracer()


tracer = _tracer()
# The functions' own Logger() (the parent of the layer's child loggers) is named after the service.
_service_logger = logging.getLogger(os.environ.get("POWERTOOLS_SERVICE_NAME", "service_undefined"))


def sampled() -> bool:
    """Whether this invocation writes its routine lines: when its logs are sampled
    (POWERTOOLS_LOGGER_SAMPLE_RATE sets the function's logger to DEBUG for a share of invocations) or the
    level is DEBUG. One JSON line costs more than the rest of a warm one-event beacon, so the common case
    logs only what went wrong."""
    return _service_logger.isEnabledFor(logging.DEBUG)


def count(name: str, value: int) -> None:
    if value:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def milliseconds(name: str, value: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=round(value, 1))


def average(name: str, values: list[int]) -> None:
    """One data point per delivery (the mean), instead of one per event: cheaper, same dashboard."""
    if values:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=round(sum(values) / len(values), 2))
