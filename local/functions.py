"""The template's functions, imported from their CodeUri folders and invoked as Lambda would invoke them."""

import importlib
import logging
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from .template import ACCOUNT_ID, REGION, STACK_NAME, FunctionSpec

log = logging.getLogger("local.functions")
# Lambda runs one invocation per execution environment at a time; here every function shares one process,
# and Powertools keeps per-invocation state process-wide (the resolvers' current event is a class attribute
# of BaseRouter). The functions that serve HTTP routes therefore take turns in one environment, or one
# request's answer could be built from another's event. A function fed by a queue or a stream runs in an
# environment of its own (`own_environment`), as in Lambda: a DeliveryFunction invocation waiting on a slow
# TikTok never delays a beacon's answer. Re-entrant, in case a function's work ever invokes another.
_SHARED_ENVIRONMENT = threading.RLock()
# The function whose invocation runs on each thread. Powertools keeps the Lambda context's keys on a formatter
# all Loggers of one service share, so with several functions running at once in this one process a line's
# `function_name` can name another; make dev's log names the one the thread runs instead.
_invoking = threading.local()


def invoking() -> str | None:
    """The name (as in template.yaml) of the function running on this thread, if any."""
    return getattr(_invoking, "name", None)


class Status(StrEnum):
    LOADED = "loaded"
    # Its handler failed to import (no such CodeUri, module or attribute, or an error while importing):
    # invoking it fails as Lambda's Runtime.ImportModuleError does.
    FAILED = "failed"


class FunctionUnavailable(Exception):
    """The handler could not be imported; Lambda reports the invocation as failed."""


class FunctionTimedOut(Exception):
    """The handler ran past the function's Timeout: Lambda would have stopped it and kept no result."""


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    deadline: float  # time.monotonic() at which Lambda would stop the invocation
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/[$LATEST]{self.aws_request_id.replace('-', '')}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@dataclass
class LambdaFunction:
    spec: FunctionSpec
    status: Status
    handler: Callable[[Any, LambdaContext], Any] | None = None
    error: str = ""
    # Held for each invocation: one at a time per execution environment.
    environment: threading.RLock = field(default_factory=lambda: _SHARED_ENVIRONMENT)

    @property
    def physical_name(self) -> str:
        return f"{STACK_NAME}-{self.spec.name}"

    def invoke(self, event: Any) -> Any:
        """Call the handler with a fresh context; raise what it raises, like a failed invocation."""
        if self.handler is None:
            raise FunctionUnavailable(f"{self.spec.name}: {self.error}")
        with self.environment:
            caller, _invoking.name = invoking(), self.spec.name
            started = time.monotonic()
            context = LambdaContext(
                function_name=self.physical_name,
                memory_limit_in_mb=self.spec.memory_mb,
                invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.physical_name}",
                deadline=started + self.spec.timeout_s,
            )
            try:
                result = self.handler(event, context)
            finally:
                _invoking.name = caller
        # A thread cannot be stopped halfway; the overrun is reported once the handler returns.
        if time.monotonic() > context.deadline:
            raise FunctionTimedOut(f"{self.spec.name} ran past its Timeout of {self.spec.timeout_s} s")
        return result


def load_function(spec: FunctionSpec, *, own_environment: bool = False) -> LambdaFunction:
    """Import `Handler` from `CodeUri`, which goes first on sys.path as the task root does in Lambda.

    `own_environment`: its invocations take turns only with each other, not with the HTTP functions'.
    """
    module_name, attribute = spec.handler.rsplit(".", 1)
    folder = spec.code_uri.resolve()
    module_file = folder / (module_name.replace(".", "/") + ".py")
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    try:
        module = importlib.import_module(module_name)
        if Path(module.__file__ or "").resolve() != module_file:
            raise ImportError(f"module {module_name} is already imported from {module.__file__}: "
                              "handler modules need names unique across functions")
        handler = getattr(module, attribute)
    except Exception as exc:
        log.error("%s failed to import %s:\n%s", spec.name, spec.handler, traceback.format_exc())
        return LambdaFunction(spec, Status.FAILED, error=f"{type(exc).__name__}: {exc}")
    function = LambdaFunction(spec, Status.LOADED, handler=handler)
    if own_environment:
        function.environment = threading.RLock()
    return function
