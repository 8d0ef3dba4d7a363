"""No garbage collection while a function's modules load in Lambda; what they built is frozen after.

A cold start of an API function creates about 85,000 container objects
(boto3, Powertools, pydantic, PynamoDB, the models): enough for the
interpreter's first full collection to run in the middle of the import and walk
every object created so far (15-25 ms of CPU on the dev machine, a tenth of the
whole import). Nothing an import creates is garbage worth collecting: module
objects, classes and their attributes live as long as the container.

So, in Lambda only (LAMBDA_TASK_ROOT set): `pause()` (gridpulse/__init__.py,
so before any of the shared layer's imports) turns automatic collection off;
`resume()` freezes every object that exists at that point (gc.freeze: moved to
the permanent generation, never walked by a later collection) and turns
collection back on. `tracer.capture_lambda_handler` (gridpulse/observability.py)
calls `resume()` when it wraps the handler, the last thing each function module
does at import (an API function through gridpulse.api.lambda_handler), so every
invocation runs with collection on; tests/unit/test_cold_start.py checks that
for every function. Elsewhere (the local stack, tests, scripts) nothing changes.
"""

from __future__ import annotations

import gc
import os

_paused = False


def pause() -> None:
    """Turn automatic collection off until `resume()`, in Lambda only (once per process)."""
    global _paused
    if os.environ.get("LAMBDA_TASK_ROOT") and gc.isenabled() and not _paused:
        gc.disable()
        _paused = True


def resume() -> None:
    """Freeze what exists and turn collection back on, if `pause()` turned it off (else a no-op)."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
