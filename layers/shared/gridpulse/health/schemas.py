from __future__ import annotations

from typing import Literal

from gridpulse.schemas import Output


class CheckOut(Output):
    status: Literal["healthy", "unhealthy"]
    latency_ms: float
    detail: str | None = None


class HealthOut(Output):
    status: Literal["healthy", "degraded"]
    version: str
    timestamp: str
    checks: dict[str, CheckOut] | None = None


class StatusOut(Output):
    status: Literal["healthy", "degraded"]
    version: str
    timestamp: str
    dependencies: dict[str, CheckOut]
    counts: dict[str, int]
