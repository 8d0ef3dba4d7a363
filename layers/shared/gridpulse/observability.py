"""One Logger, Tracer and Metrics for the whole code base.

Service name and namespace come from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE (set in template.yaml Globals).

`tracer.capture_lambda_handler` is the Powertools Tracer's wherever tracing is
on, i.e. in Lambda unless POWERTOOLS_TRACE_DISABLED is true: the Tracer (and
with it the X-Ray SDK, which patches botocore) is created on the first
invocation rather than at import, so it is not part of the import a cold start
waits for; the first invocation pays for it instead (`python -m bench --only
imports` prints how much). Where tracing is off (the local stack, the tests,
SAM local) the X-Ray SDK is never imported and the handler is left as it is.
Lambda's own active tracing (`Tracing: Active`) records each invocation either
way; the Tracer adds the subsegments (AWS calls) and the ColdStart and Service
annotations.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from gridpulse import gc_pause

logger = Logger()
metrics = Metrics()

__all__ = ["logger", "tracer", "metrics", "MetricUnit", "count", "tracing_enabled"]


def tracing_enabled() -> bool:
    """Whether the Powertools Tracer traces here (its own rule): in Lambda
    (LAMBDA_TASK_ROOT set), not under SAM local or Chalice, and
    POWERTOOLS_TRACE_DISABLED not true."""
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower()
    if disabled in ("1", "y", "yes", "t", "true", "on"):
        return False
    return bool(os.environ.get("LAMBDA_TASK_ROOT")) and not (
        os.environ.get("AWS_SAM_LOCAL") or os.environ.get("AWS_CHALICE_CLI_MODE")
    )


class _Tracer:
    """The Powertools Tracer, created on first use."""

    def __init__(self) -> None:
        self._powertools = None

    def load(self):
        """The Powertools Tracer (importing the X-Ray SDK and patching botocore the first time)."""
        if self._powertools is None:
            from aws_lambda_powertools import Tracer

            self._powertools = Tracer()
        return self._powertools

    def capture_lambda_handler(
        self,
        lambda_handler: Callable | None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> Any:
        """Powertools' `capture_lambda_handler`, applied on the first invocation;
        with tracing off, the handler unchanged."""
        if lambda_handler is None:
            return functools.partial(
                self.capture_lambda_handler, capture_response=capture_response, capture_error=capture_error
            )
        # Wrapping the handler is the last thing a function module does at import: in Lambda, garbage
        # collection paused while it loaded (gridpulse/gc_pause.py) is back on from here.
        gc_pause.resume()
        if not tracing_enabled():
            return lambda_handler
        traced: Callable | None = None

        @functools.wraps(lambda_handler)
        def handler(event, context, **kwargs):
            nonlocal traced
            if traced is None:
                traced = self.load().capture_lambda_handler(
                    lambda_handler, capture_response=capture_response, capture_error=capture_error
                )
            return traced(event, context, **kwargs)

        return handler


tracer = _Tracer()


def count(name: str, value: int = 1) -> None:
    """Record a business metric (readings ingested, logins failed, ...)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
