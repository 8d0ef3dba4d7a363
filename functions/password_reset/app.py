"""Password reset emails, off the request path (queue fed by POST /auth/forgot-password)."""

from __future__ import annotations

from typing import Any

from gridpulse.accounts.password_reset import handle_reset_requests
from gridpulse.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict, context: Any) -> dict:
    return handle_reset_requests(event)
