"""What `make dev` prints: one readable line per request and per thing a function did, for a person watching.

In Lambda the functions write JSON lines (Powertools Logger) and CloudWatch EMF metric lines, for
machines. Here the same records are written as one line each:

    20:10:08  POST /v1/events 202 14 ms
    20:10:08  Collect: beacon queued · campaign_id=demo event_ids=["pv-1"]
    20:10:09  Delivery: events delivered · campaign_id=demo sent=1 duplicate=0 unanswered=0 refused=0 event_ids=["pv-1"]

Every invocation's routine lines are written (a sample rate of 1: each beacon and each delivery says so), and the
metric lines are left out of stdout. `LOG_LEVEL=DEBUG` shows everything as Lambda writes it: the JSON lines, the
metric lines and the stand-ins' own reads (GET /_dev/…).
"""

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from .functions import LambdaFunction

METRIC_LINE = '{"_aws"'
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "zellify-tiktok")
# Keys every Powertools line carries: said once by the line's layout, or not at all.
_STANDARD_KEYS = frozenset({
    "level", "location", "message", "timestamp", "service", "sampling_rate", "function_name",
    "function_memory_size", "function_arn", "function_request_id", "cold_start", "correlation_id", "xray_trace_id",
})


def debugging() -> bool:
    return os.environ.get("LOG_LEVEL", "").strip().upper() == "DEBUG"


class ReadableFormatter(logging.Formatter):
    """`HH:MM:SS  message`; the level and logger name only for warnings and errors."""

    # UTC, as the functions' own lines (Powertools) write their time.
    converter = time.gmtime

    def __init__(self) -> None:
        super().__init__(datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.levelno >= logging.WARNING:
            text = f"{record.levelname} {record.name}: {text}"
        if record.exc_info:
            text = f"{text}\n{self.formatException(record.exc_info)}"
        return f"{self.formatTime(record, self.datefmt)}  {text}"


def _value(value: Any) -> str:
    if isinstance(value, str) and value.isprintable() and " " not in value:
        return value
    # JSON escapes control characters: a value never breaks the line in two.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def readable_line(line: str, function_name: str | None = None) -> str:
    """One Powertools JSON line as a person reads it (the line as it was when it is not JSON), headed by
    `function_name` when given, else by the line's own."""
    try:
        record = json.loads(line)
    except ValueError:
        return line
    if not isinstance(record, dict) or "message" not in record:
        return line
    function = str(function_name or record.get("function_name") or "").rsplit("-", 1)[-1].removesuffix("Function")
    level = str(record.get("level") or "INFO")
    head = f"{record.get('timestamp', '')[11:19]}  {function + ': ' if function else ''}"
    head += "" if level in ("INFO", "DEBUG") else f"{level} "
    extra = " ".join(f"{key}={_value(value)}" for key, value in record.items()
                     if key not in _STANDARD_KEYS and value is not None)
    message = record["message"] if isinstance(record["message"], str) else _value(record["message"])
    return f"{head}{message}{' · ' + extra if extra else ''}"


class WithoutMetricLines:
    """sys.stdout less Powertools' EMF lines (print()ed JSON for CloudWatch), noise on a terminal.

    Filtered rather than switched off: with POWERTOOLS_METRICS_DISABLED Powertools keeps every value it is
    given and prints them all once a metric holds 100, so the buffer would grow for as long as the stack runs.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._pending = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            *lines, self._pending = self._pending.split("\n")
            for line in lines:
                if not line.startswith(METRIC_LINE):
                    self._stream.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def configure() -> None:
    """The local stack's own loggers, before it starts."""
    level = logging.DEBUG if debugging() else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ReadableFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # botocore announces at INFO where it found credentials and endpoints, for every client; at DEBUG
    # it would write every AWS call's wire bytes.
    logging.getLogger("botocore").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    if not debugging() and not isinstance(sys.stdout, WithoutMetricLines):
        # Before the functions load: their Loggers write to the sys.stdout they find then.
        sys.stdout = WithoutMetricLines(sys.stdout)


def readable_functions(functions: Iterable["LambdaFunction"]) -> None:
    """Once the handlers are loaded: their Loggers write every routine line, readable (not with DEBUG)."""
    if debugging():
        return
    # Imported here, after the handlers: Powertools reads its environment when it is first imported.
    from aws_lambda_powertools import Logger

    from .functions import invoking

    for function in functions:
        module = sys.modules.get(function.spec.handler.rsplit(".", 1)[0])
        logger = getattr(module, "logger", None)
        if isinstance(logger, Logger):
            # Sampled on every invocation: the lines Lambda writes for 1 % (a delivered beacon, say) show.
            logger.sampling_rate = 1.0
            logger.refresh_sample_rate_calculation()
    for handler in logging.getLogger(SERVICE).handlers:
        formatter = handler.formatter
        if formatter is None or getattr(formatter, "_readable", False):
            continue
        # The formatter object stays (the functions add keys to it); only its output is rewritten.
        json_format = formatter.format
        formatter.format = lambda record, json_format=json_format: readable_line(  # type: ignore[method-assign]
            json_format(record), invoking())
        formatter._readable = True  # type: ignore[attr-defined]
