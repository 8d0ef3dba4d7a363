"""Typed configuration, read from the environment once per container.

Every function gets its settings from template.yaml (Globals and per-function
Environment). A missing or malformed variable fails at cold start with a clear
message rather than at the first request that happens to need it.
"""
from __future__ import annotations

import functools
import os

from pydantic import BaseModel, Field


class Settings(BaseModel):
    stage: str = "dev"
    users_table: str = "gridpulse-users"
    telemetry_table: str = "gridpulse-telemetry"
    alerts_topic_arn: str = ""
    cleanup_queue_url: str = ""
    password_reset_queue_url: str = ""
    # Where POST /telemetry sends accepted messages for alert evaluation (the alerts IoT rule's queue).
    alerts_queue_url: str = ""
    # Idempotency-Key records (POST /devices, POST /telemetry): table and how long a key is remembered.
    idempotency_table: str = "gridpulse-idempotency"
    idempotency_ttl_seconds: int = Field(3600, ge=60, le=7 * 86400)
    # Raw readings are kept this long; hourly/daily rollups are kept for good.
    raw_retention_days: int = Field(90, ge=1, le=3650)
    jwt_secret_arn: str = ""
    # Only for unit tests and tools: a literal secret instead of Secrets Manager.
    jwt_secret: str = ""
    token_ttl_seconds: int = Field(3600, ge=60, le=86400)
    reset_token_ttl_seconds: int = Field(900, ge=60, le=86400)
    mail_from: str = "no-reply@gridpulse.example.com"
    public_url: str = "http://127.0.0.1:3000"
    max_body_bytes: int = Field(256 * 1024, ge=1024)

    @classmethod
    def from_env(cls) -> "Settings":
        values = {}
        for name in cls.model_fields:
            raw = os.environ.get(name.upper())
            if raw is not None and raw != "":
                values[name] = raw
        return cls(**values)


@functools.cache
def get_settings() -> Settings:
    return Settings.from_env()
