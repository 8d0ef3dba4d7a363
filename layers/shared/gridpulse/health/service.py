"""Liveness and dependency checks."""

from __future__ import annotations

import time

from gridpulse import __version__, stats
from gridpulse.aws import client
from gridpulse.security.secrets import jwt_signing_key
from gridpulse.settings import get_settings
from gridpulse.timeutil import iso, utcnow


def _check(fn) -> dict:
    started = time.perf_counter()
    try:
        fn()
        result = {"status": "healthy"}
    except Exception as exc:  # a failing dependency is reported, not raised
        result = {"status": "unhealthy", "detail": type(exc).__name__}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


def dependency_checks() -> dict:
    settings = get_settings()
    return {
        "dynamodb": _check(lambda: client("dynamodb").describe_table(TableName=settings.users_table)),
        "signing_key": _check(jwt_signing_key),
    }


def health(detailed: bool) -> dict:
    out = {"status": "healthy", "version": __version__, "timestamp": iso(utcnow())}
    if detailed:
        checks = dependency_checks()
        out["checks"] = checks
        if any(c["status"] != "healthy" for c in checks.values()):
            out["status"] = "degraded"
    return out


def status() -> dict:
    checks = dependency_checks()
    healthy = all(c["status"] == "healthy" for c in checks.values())
    counts = {"devices": 0, "active_devices": 0}
    if healthy:
        platform = stats.platform_stats()
        counts = {
            "devices": platform["total_devices"],
            "active_devices": platform["active_devices"],
            "users": platform["users"]["total"],
        }
    return {
        "status": "healthy" if healthy else "degraded",
        "version": __version__,
        "timestamp": iso(utcnow()),
        "dependencies": checks,
        "counts": counts,
    }
