"""Domain errors. Each carries its HTTP status and a snake_case error code.

The API layer maps them to `{"error": code, "message": text}` once, in
gridpulse.api; domain code raises them and never builds HTTP responses.
"""

from __future__ import annotations


class ApiError(Exception):
    status = 500
    code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: list[dict] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict | None = None,
    ):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or []
        self.headers = headers or {}
        self.extra = extra or {}  # more top-level keys of the error body (e.g. needed_hours)

    def body(self) -> dict:
        body = {"error": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return {**self.extra, **body}


class BadRequest(ApiError):
    status = 400
    code = "bad_request"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class TooManyRequests(ApiError):
    status = 429
    code = "too_many_requests"


def field_error(field: str, message: str, code: str = "invalid") -> dict:
    return {"field": field, "code": code, "message": message}
