"""Typed configuration, read from the environment once per container.

Every function gets its settings from template.yaml (Globals and per-function
Environment). A variable that is unset or empty keeps its default (an empty
queue URL or topic ARN included: nothing fails until a call needs it). A
malformed whole number is not caught at import: `get_settings()` raises a
ValueError naming the variable, from the first request that reads a setting
(and on every call after it, since a failure is not cached). A plain dataclass, not a
pydantic model: the ingestion and event functions read settings and never
import pydantic otherwise (cold start, see `python -m bench --only imports`).
"""

from __future__ import annotations

import dataclasses
import functools
import os


def _bounded(ge: int, le: int | None = None) -> dict:
    return {"metadata": {"ge": ge, "le": le}}


@dataclasses.dataclass(frozen=True)
class Settings:
    users_table: str = "gridpulse-users"
    telemetry_table: str = "gridpulse-telemetry"
    alerts_topic_arn: str = ""
    cleanup_queue_url: str = ""
    password_reset_queue_url: str = ""
    # Where POST /telemetry sends accepted messages for alert evaluation (AlertsQueue, the telemetry IoT rule's second action).
    alerts_queue_url: str = ""
    # Idempotency-Key records (POST /devices, POST /telemetry): table and how long a key is remembered.
    idempotency_table: str = "gridpulse-idempotency"
    idempotency_ttl_seconds: int = dataclasses.field(default=3600, **_bounded(60, 7 * 86400))
    # Raw readings are kept this long; day and month rollups are kept for good.
    raw_retention_days: int = dataclasses.field(default=90, **_bounded(1, 3650))
    jwt_secret_arn: str = ""
    # Only for unit tests and tools: a literal secret instead of Secrets Manager.
    jwt_secret: str = dataclasses.field(default="", repr=False)
    token_ttl_seconds: int = dataclasses.field(default=3600, **_bounded(60, 86400))
    reset_token_ttl_seconds: int = dataclasses.field(default=900, **_bounded(60, 86400))
    mail_from: str = "no-reply@gridpulse.example.com"
    public_url: str = "http://127.0.0.1:3000"
    # The web dashboard's origin: the password reset e-mail links to <web_origin>/#/reset?token=...
    web_origin: str = "http://127.0.0.1:3000"
    # The API's Cors AllowOrigin, on every answer: template.yaml sets the web dashboard's CloudFront origin
    # (parameter CorsAllowOrigin empty) or the parameter's value; "*" here and in the local stack.
    cors_allow_origin: str = "*"
    max_body_bytes: int = dataclasses.field(default=256 * 1024, **_bounded(1024))

    @classmethod
    def from_env(cls) -> "Settings":
        """Each field from its upper-case environment variable; unset or empty keeps the default."""
        values: dict[str, str | int] = {}
        for f in dataclasses.fields(cls):
            raw = os.environ.get(f.name.upper())
            if raw is None or raw == "":
                continue
            values[f.name] = _integer(f, raw) if f.type == "int" else raw
        return cls(**values)


def _integer(f: dataclasses.Field, raw: str) -> int:
    ge, le = f.metadata["ge"], f.metadata["le"]
    bounds = f"from {ge} to {le}" if le is not None else f"at least {ge}"
    try:
        value = int(raw.strip())
    except ValueError:
        value = None
    if value is None or value < ge or (le is not None and value > le):
        raise ValueError(f"{f.name.upper()} must be a whole number {bounds}, got {raw!r}")
    return value


@functools.cache
def get_settings() -> Settings:
    return Settings.from_env()
