"""One Logger, Tracer and Metrics for the whole code base.

Service name and namespace come from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE (set in template.yaml Globals).

The Tracer is the Powertools Tracer (X-Ray SDK, boto calls patched) wherever
tracing is on, i.e. in Lambda unless POWERTOOLS_TRACE_DISABLED is true: it is
created at import there, during Lambda's init phase (importing it later would
only move the same cost into the first request). Where tracing is off (the
local stack, the tests, SAM local) the X-Ray SDK is never imported and
`tracer.capture_lambda_handler` returns the handler unchanged. With tracing
off in Lambda, `Tracing: Active` still records each invocation's segment
(init, invocation, overhead), without subsegments.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
metrics = Metrics()

__all__ = ["logger", "tracer", "metrics", "MetricUnit", "count", "tracing_enabled"]


def tracing_enabled() -> bool:
    """Whether the Powertools Tracer would trace here (its own rule): in Lambda
    (LAMBDA_TASK_ROOT set), not under SAM local or Chalice, and
    POWERTOOLS_TRACE_DISABLED not true."""
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower()
    if disabled in ("1", "y", "yes", "t", "true", "on"):
        return False
    return bool(os.environ.get("LAMBDA_TASK_ROOT")) and not (
        os.environ.get("AWS_SAM_LOCAL") or os.environ.get("AWS_CHALICE_CLI_MODE"))


class _Tracer:
    """`capture_lambda_handler` of the Powertools Tracer where tracing is on,
    a pass-through (and no X-Ray SDK) where it is off."""

    def __init__(self) -> None:
        self.powertools = None
        if tracing_enabled():
            from aws_lambda_powertools import Tracer

            self.powertools = Tracer()

    def capture_lambda_handler(self, lambda_handler: Callable | None = None, capture_response: bool | None = None,
                               capture_error: bool | None = None) -> Any:
        if self.powertools is not None:
            return self.powertools.capture_lambda_handler(lambda_handler, capture_response=capture_response,
                                                          capture_error=capture_error)
        return lambda_handler if lambda_handler is not None else (lambda handler: handler)


tracer = _Tracer()


def count(name: str, value: int = 1) -> None:
    """Record a business metric (readings ingested, logins failed, ...)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
