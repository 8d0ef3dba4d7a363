"""Password reset emails, off the request path (queue fed by POST /auth/forgot-password)."""

from __future__ import annotations

from typing import Any

from gridpulse.accounts.password_reset import handle_reset_requests
from gridpulse.observability import event_handler


@event_handler("password_reset")
def handler(event: dict, context: Any) -> dict:
    return handle_reset_requests(event)
