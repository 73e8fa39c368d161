"""Metrics (CloudWatch EMF) and, when enabled, tracing (X-Ray) through Powertools.

Every handler is wrapped in Powertools' `Logger.inject_lambda_context(clear_state=True, log_event=False)`
(its log lines carry the function's name, memory, ARN, request id and `cold_start`, API Gateway's request
id as `correlation_id`, and nothing an earlier invocation added; the event is never logged: a beacon's or
webhook's body holds raw emails) and in `metrics.log_metrics` (what the invocation counted, flushed).

No per-campaign metric dimension: that would bill one custom metric per campaign; per-campaign detail
lives in the logs, keyed by campaign_id.

Tracing is opt-in (template parameter EnableTracing): creating Powertools' Tracer imports the X-Ray
SDK, about 150 ms of every cold start, even when tracing is disabled. When it is on, the tracer
patches boto3 (every AWS call is a subsegment) and the TikTok call gets its own subsegment.
"""

import functools
import logging
import os
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

metrics = Metrics()


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

# Metrics are flushed by Powertools' `log_metrics` after every invocation; the common beacon emits none,
# and an empty flush only warns that it had nothing to publish: expected here, not news.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def add_log_keys(**keys: str) -> None:
    """Keys for the rest of this invocation's log lines, set on the formatter the function's Logger
    registered; the next invocation starts without them (`inject_lambda_context(clear_state=True)`)."""
    _service_formatter().append_keys(**keys)


@functools.cache
def _service_formatter() -> Any:
    return Logger(service=_service_logger.name, child=True).registered_formatter


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
