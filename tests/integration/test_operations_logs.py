"""What the functions log carries the fields the saved Logs Insights queries of
template.yaml read (#16): a rejected reading is one JSON line per reason with
`message`, `reason`, `count` and `device_id`."""

from __future__ import annotations

import io
import json
import logging
from datetime import datetime, timedelta, timezone

import pytest

from gridpulse.observability import logger
from infrastructure.cfn import Stack, load


@pytest.fixture
def captured_logs(monkeypatch):
    """What the functions' logger writes at INFO, as JSON lines. setLevel (not a patched
    attribute) so that the logging module's per-logger isEnabledFor cache is cleared both ways:
    an earlier test in the same worker may have asked it about INFO already."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logger.registered_formatter)
    monkeypatch.setattr(logger._logger, "handlers", [*logger._logger.handlers, handler])
    level = logger._logger.level
    logger._logger.setLevel(logging.INFO)
    try:
        yield out
    finally:
        logger._logger.setLevel(level)


def test_rejected_readings_are_logged_by_reason_as_the_saved_query_reads_them(api, captured_logs):
    query = Stack(load()).resources("AWS::Logs::QueryDefinition")["RejectedReadingsByReasonQuery"]
    text = query["Properties"]["QueryString"]
    token = api.register("logs@example.com")["token"]
    created = api.create("/devices", {"name": "m", "device_type": "meter"}, token)
    key = {"X-API-Key": created["credentials"]["api_key"]}
    out = captured_logs
    now = datetime.now(timezone.utc)
    ts = [(now - timedelta(minutes=m)).isoformat().replace("+00:00", "Z") for m in (3, 2, 1)]
    status, body = api.post(
        "/telemetry",
        {
            "readings": [
                {"timestamp": ts[0], "power_w": "lots"},
                {"timestamp": ts[1], "power_w": -5},
                {"timestamp": ts[2], "power_w": "x"},
            ]
        },
        headers=key,
    )
    assert status in (201, 207, 400, 422), body
    lines = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    quarantined = [line for line in lines if line.get("message") == "readings quarantined"]
    assert quarantined, lines
    assert sum(line["count"] for line in quarantined) == 3
    assert len({line["reason"] for line in quarantined}) == len(quarantined)  # one line per reason
    for line in quarantined:
        assert line["device_id"] == created["device_id"]
    for field in ("message", "reason", "count", "device_id"):
        assert field in text
