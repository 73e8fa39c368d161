"""Metrics (CloudWatch EMF) and, when enabled, tracing (X-Ray) through Powertools.

No per-campaign metric dimension: that would bill one custom metric per campaign; per-campaign detail
lives in the logs, keyed by campaign_id.

Tracing is opt-in (template parameter EnableTracing): creating Powertools' Tracer imports the X-Ray
SDK, about 150 ms of every cold start, even when tracing is disabled. When it is on, the tracer
patches boto3 (every AWS call is a subsegment) and the TikTok call gets its own subsegment.
"""

import functools
import logging
import os
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

# Every key an invocation has added to its log lines on the way (`add_log_keys`), as None: the next
# invocation starts without them (a None value is left out of a line).
_added_keys: dict[str, None] = {}


def add_log_keys(**keys: str) -> None:
    """Keys for the rest of this invocation's log lines, set on the formatter the function's Logger
    registered (`Logger.append_keys` finds it again through three properties each call)."""
    _added_keys.update(dict.fromkeys(keys))
    _service_formatter().append_keys(**keys)


@functools.cache
def _service_formatter() -> Any:
    return Logger(service=_service_logger.name, child=True).registered_formatter


def lambda_entry(logger: Logger) -> Callable[[F], F]:
    """Every function's handler wrapper: what Powertools' `inject_lambda_context(clear_state=True)` and
    `log_metrics` give an invocation, at a fraction of their cost on a warm one.

    Log lines carry the same keys (function name, memory, ARN and request id, cold_start, and API Gateway's
    request id as correlation_id), set by one `append_keys` call that also drops what the invocation before
    added (None values are left out of a line). Log sampling is drawn again for each warm invocation, as the
    decorator does. Metrics are flushed when there are some: an empty flush only raises a warning, and the
    common beacon emits none. Together the two decorators cost ~15 µs of a ~120 µs one-event beacon
    (docs/performance.md); this costs ~2 µs. Logging the incoming event (POWERTOOLS_LOGGER_LOG_EVENT) is
    left out on purpose: a beacon's or webhook's body holds raw emails.
    """

    def decorate(handler: F) -> F:
        # A provisioned-concurrency environment starts before its first invocation: none of them is cold.
        first = os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") != "provisioned-concurrency"

        @functools.wraps(handler)
        def run(event: Any, context: Any) -> Any:
            nonlocal first
            if not first and logger.sampling_rate:
                logger.refresh_sample_rate_calculation()
            request_context = event.get("requestContext") if isinstance(event, dict) else None
            # Every key, every time: the local stack serves all functions from one process and one formatter.
            _service_formatter().append_keys(
                function_name=context.function_name, function_memory_size=context.memory_limit_in_mb,
                function_arn=context.invoked_function_arn, function_request_id=context.aws_request_id,
                cold_start=first, correlation_id=request_context.get("requestId") if request_context else None,
                **_added_keys)
            first = False
            try:
                return handler(event, context)
            finally:
                if metrics.metric_set:
                    metrics.flush_metrics()

        return run  # type: ignore[return-value]

    return decorate


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
