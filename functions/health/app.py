"""Health endpoint group: liveness and dependency status, no auth."""

from __future__ import annotations

from typing import Annotated

from gridpulse.api import Query, create_app, lambda_handler
from gridpulse.health import service as health
from gridpulse.health.schemas import HealthOut, StatusOut

app = create_app()


@app.get("/health", tags=["health"], summary="Liveness; ?detailed=true checks each dependency")
def get_health(detailed: Annotated[bool, Query()] = False) -> HealthOut:
    return health.health(detailed)


@app.get("/status", tags=["health"], summary="Dependency status and counts")
def get_status() -> StatusOut:
    return health.status()


handler = lambda_handler(app, group="health")
