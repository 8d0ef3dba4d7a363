"""A device's backlog upload (hundreds of hourly counter readings, as the
simulated fleet's history or a meter back on-line sends them) is stored with
every hour's energy right, at about one write per hour and a handful of
queries per message, so weeks of hourly history land in seconds."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from gridpulse.devices.context import context_for
from gridpulse.telemetry.ingest import Message, ingest

END = datetime.now(timezone.utc).replace(minute=20, second=0, microsecond=0) - timedelta(hours=1)


def _hourly(hours: int) -> tuple[list[datetime], list[float]]:
    stamps = [END - timedelta(hours=hours - 1 - i) for i in range(hours)]
    counter, out = 100.0, []
    for i, _ in enumerate(stamps):
        counter += 0.2 + 0.1 * (i % 24) / 24
        out.append(round(counter, 4))
    return stamps, out


def test_a_backlog_of_hourly_counters_gives_every_hours_energy_with_few_queries(api, meter, dynamodb_calls):  # noqa: F811
    stamps, counters = _hourly(192)
    context = context_for(meter["id"])
    queries = []
    for part in (slice(96, 192), slice(0, 96)):  # newest first, as a device uploads its backlog
        body = {
            "readings": [{"timestamp": t.isoformat(), "energy_kwh": c} for t, c in zip(stamps[part], counters[part])]
        }
        dynamodb_calls.clear()
        [outcome] = ingest(context, [Message(body, int(datetime.now(timezone.utc).timestamp() * 1000), "mqtt")])
        assert outcome.accepted == 96
        calls = dynamodb_calls.dynamodb()
        queries.append(calls.count("Query"))
        assert calls.count("PutItem") <= 96 + 6  # one raw item per hour, and the day items
    assert max(queries) <= 6, queries  # not one (or three) per hour
    status, hours = api.get(
        f"/devices/{meter['id']}/energy",
        token=meter["token"],
        query={"period": "hour", "start": stamps[0].isoformat(), "end": (END + timedelta(hours=1)).isoformat()},
    )
    assert status == 200
    by_hour = [item["kwh"] for item in hours["items"]]
    expected = [b - a for a, b in zip(counters, counters[1:])]  # the first reading is the baseline
    assert len(by_hour) >= 191
    assert [round(k, 4) for k in by_hour[-191:]] == [round(e, 4) for e in expected]
    assert math.isclose(hours["total_kwh"], counters[-1] - counters[0], abs_tol=1e-6)
