"""Automatic mode (issue #12, item 5): lights in `auto` follow dusk and dawn.

LightScheduleFunction runs this every few minutes (template.yaml, rate(5
minutes)). It reads only the automatic lights: their state items through
the sparse `light-auto` index (`light_auto = auto`, set on a light's state
item only while its mode is auto: gridpulse.lights.service.send_command),
a page of PAGE at a time (Query, no Scan; the index holds keys only), then
the registry records and the state items of each page (BatchGetItem each). For each light whose stored mode is `auto` it decides
whether the lamp should be on now: on from civil dusk to civil dawn (sun 6 degrees below the horizon),
computed with `astral` at the light's latitude/longitude for today's UTC date.
When that differs from the last command sent to the light (`cmd_action`),
it sends `on` or `off` the way POST /lights/{id}/control does
(gridpulse.lights.service.send_command: shadow desired state, MQTT command,
last_command, log entry), logged as performed_by `schedule`, control_type
`automatic`, and the light's mode stays `auto`. A light whose last command
already says so is left alone, so a run sends nothing twice.

Polar day and night: astral raises ValueError when the sun does not reach
6 degrees below the horizon, or does not rise or set, that day; the decision
then comes from the sun's elevation at solar noon (below the horizon: polar
night, on all day, even through a twilight around noon) and at solar
midnight (above -6 degrees: polar day or white night, off all day), else
from its elevation now.

A lamp burning by day or dark at night: an automatic light whose last
command is the schedule's desired status, sent more than one schedule period
ago, but whose last reported status (on/off) is the other one, opens a
`light_schedule_mismatch` alert through gridpulse.alerts (one open alert per
light, bumped on later runs); the first run after the lamp reports the
desired status (within two periods of that change) resolves it.

One light failing (bad item, no coordinates, AWS error) is logged and
counted (metric LightScheduleFailed); the others are still handled.
"""

from __future__ import annotations

import datetime as dt

from astral import Observer
from astral.sun import elevation, midnight, noon, sun

from gridpulse.devices.data import DeviceItem, DeviceStateItem
from gridpulse.dynamodb import batch_get_intact, intact
from gridpulse.lights import service
from gridpulse.observability import count, logger

CIVIL_DEPRESSION = 6.0  # degrees below the horizon: civil dawn and dusk
PERIOD_S = 300  # the schedule's rate in template.yaml (LightScheduleFunction)
MISMATCH_ALERT = "light_schedule_mismatch"
PAGE = 100


def should_be_on(latitude: float, longitude: float, now: dt.datetime) -> bool:
    """True between civil dusk and the next civil dawn at that place (UTC)."""
    now = now.astimezone(dt.UTC) if now.tzinfo else now.replace(tzinfo=dt.UTC)
    observer = Observer(latitude=float(latitude), longitude=float(longitude))
    day = now.date()
    try:
        times = sun(observer, day, dawn_dusk_depression=CIVIL_DEPRESSION)
    except ValueError:
        return _polar(observer, day, now)
    dawn, dusk = times["dawn"], times["dusk"]
    if dawn <= dusk:  # the UTC day holds dawn, then dusk: dark before dawn and after dusk
        return now < dawn or now >= dusk
    return dusk <= now < dawn  # far east or west of Greenwich: dusk comes first in the UTC day


def _polar(observer: Observer, day: dt.date, now: dt.datetime) -> bool:
    if elevation(observer, noon(observer, day)) < 0:
        return True  # polar night: the sun does not rise, the lamp stays on (even in a noon twilight)
    if elevation(observer, midnight(observer, day)) > -CIVIL_DEPRESSION:
        return False  # polar day: light even at midnight
    return elevation(observer, now) < -CIVIL_DEPRESSION


def _automatic():
    """The automatic lights, a page at a time: (record, state) pairs. The
    light-auto index holds keys only: the page's records and states are then
    read with one BatchGetItem each."""
    start = None
    while True:
        result = DeviceStateItem.by_light_auto.query("auto", limit=PAGE, last_evaluated_key=start)
        ids = [s.pk.split("#", 1)[1] for s in intact(result, "device state")]
        records = batch_get_intact(DeviceItem, [(DeviceItem.key(i), "meta") for i in ids], "device")
        lights = [d for d in records if d.device_type == "light"]
        states = service._states(lights)
        yield [(d, states[d.device_id]) for d in lights if d.device_id in states]
        start = result.last_evaluated_key
        if not start:
            return


def run(now: dt.datetime | None = None) -> dict:
    """One pass over every automatic light. Returns counts for the log."""
    now = now or dt.datetime.now(dt.UTC)
    out = {"lights": 0, "automatic": 0, "sent": 0, "mismatched": 0, "failed": 0}
    for page in _automatic():
        for device, state in page:
            out["lights"] += 1
            if state.light_mode != "auto":
                continue  # the index lags the table (eventually consistent): a light just taken out
            out["automatic"] += 1
            try:
                result = _one(device, state, now)
            except Exception:
                logger.exception("light schedule failed for one light", extra={"light_id": device.device_id})
                count("LightScheduleFailed")
                out["failed"] += 1
                continue
            out["sent"] += result == "sent"
            out["mismatched"] += result == "mismatch"
    return out


def _one(device: DeviceItem, state: DeviceStateItem, now: dt.datetime) -> str | None:
    if device.latitude is None or device.longitude is None:
        raise ValueError("light has no coordinates")
    desired = "on" if should_be_on(float(device.latitude), float(device.longitude), now) else "off"
    if state.cmd_action != desired:
        service.send_command(device, desired, None, performed_by="schedule", control_type="automatic", mode="auto")
        return "sent"
    return _check_lamp(device, state, desired, now)


def _check_lamp(device: DeviceItem, state: DeviceStateItem, desired: str, now: dt.datetime) -> str | None:
    """Open (or bump) the mismatch alert for a lamp that did not follow the
    schedule's command within one period; resolve it once the lamp agrees."""
    from gridpulse.alerts import service as alerts  # only when a lamp disagrees or agrees again
    from gridpulse.alerts.rules import rules_for

    reported = state.light_status
    if reported not in ("on", "off"):
        return None  # unknown yet, or in error (the light_error alert covers that)
    now_ms = int(now.timestamp() * 1000)
    if reported == desired:
        # A lamp that came round recently may have an open alert: one GetItem
        # for those only, not for every agreeing light on every run.
        if now_ms - int(state.light_status_at or 0) <= 2 * PERIOD_S * 1000:
            alerts.resolve_type(device.device_id, MISMATCH_ALERT, by="schedule")
        return None
    if now_ms - int(state.cmd_issued_ms or 0) <= PERIOD_S * 1000:
        return None  # the command is recent: give the lamp one period
    what = "burning by day" if reported == "on" else "dark at night"
    alerts.raise_alert(
        device,
        rules_for(device),
        MISMATCH_ALERT,
        "warning",
        f"{device.name} is {what}: reports {reported}, the dusk/dawn schedule asked for {desired}",
        None,
        None,
        now_ms,
        source="schedule",
    )
    count("LightScheduleMismatch")
    return "mismatch"
