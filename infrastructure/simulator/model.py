"""What a simulated device measures: load curves, grid noise, an energy counter.

Pure and deterministic under a seed: no I/O, no wall clock. A model is fed
the (simulated) time of each sample and returns a `Sample`; the same seed,
key and sample times always give the same samples.

* `MeterModel` - a hotel room meter (`kind="room"`) or a household
  meter (`kind="household"`). Power follows a daily curve in the site's time
  zone: a night base load (fridge, standby), a morning peak (showers, kettle)
  and a larger evening peak (lighting, HVAC, TV). A hotel room only shows the
  peaks while it is occupied: guests stay the night of a date with
  probability `occupancy_rate`, decided by hashing (seed, key, date), so
  occupancy is a pure function of the date (check-in 15:00, check-out 11:00).
  Occasional spikes (a kettle, a hair dryer) add load; power never exceeds
  `rating_w`. Voltage is ~230 V with an evening sag and noise, power factor
  0.90-0.99 (higher under resistive load), frequency 50 Hz +- a few mHz,
  current = P / V / PF, temperature is the meter enclosure's. `energy_kwh`
  is a cumulative counter that integrates power (trapezoids) from a random
  starting value; with `FaultPlan.counter_reset_at` it restarts near 0 once
  (a meter replacement or a reset after a power cut).
* `LightModel` - a street light: on while the sun is below the horizon at
  its latitude/longitude (solar elevation < about -2 degrees, i.e. dusk to
  dawn), off by day. A bulb fails now and then (`error_prob` per sample) or
  exactly once at `FaultPlan.light_error_at`; it then reports status "error"
  ("Bulb failed") and draws only the controller's standby power until it is
  repaired `repair_after_s` later.
* `FaultPlan` - the exactly-once faults of one device. The counter reset and
  the bulb failure live here; the duplicate and late message are applied by
  the device's message composer (infrastructure/simulator/device.py).
* `SimClock` - simulated time for the time-accelerated demo (see its
  docstring): timestamps never run ahead of the wall clock.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

NOMINAL_VOLTAGE = 230.0
NOMINAL_FREQUENCY = 50.0
BULB_FAILED = "Bulb failed"


@dataclass(frozen=True)
class FaultPlan:
    """Faults injected exactly once, at fixed positions (None = never).

    counter_reset_at: sample index at which the energy counter restarts near 0.
    duplicate_at:     telemetry message index published twice (same bytes).
    late_at:          reading index (= seq) held back from its batch ...
    late_by:          ... and published alone after this many later telemetry messages.
    light_error_at:   sample index at which a light's bulb fails.
    """

    counter_reset_at: int | None = None
    duplicate_at: int | None = None
    late_at: int | None = None
    late_by: int = 2
    light_error_at: int | None = None

    @property
    def empty(self) -> bool:
        return all(v is None for v in (self.counter_reset_at, self.duplicate_at, self.late_at, self.light_error_at))


@dataclass(frozen=True)
class Sample:
    """One measurement. `reading(seq)` is the payload form (readings.py's contract)."""

    ts: datetime
    voltage: float
    current: float
    power_w: float
    energy_kwh: float
    temperature: float
    power_factor: float
    frequency: float
    spike: bool = False
    counter_reset: bool = False
    status: str | None = None  # lights: on, off or error
    error_details: str | None = None  # lights: why status is error
    command_id: str | None = None  # lights: the last command applied (its status report carries it)

    def reading(self, seq: int) -> dict:
        return {
            "timestamp": iso(self.ts),
            "seq": seq,
            "voltage": self.voltage,
            "current": self.current,
            "power_w": self.power_w,
            "energy_kwh": self.energy_kwh,
            "temperature": self.temperature,
            "power_factor": self.power_factor,
            "frequency": self.frequency,
        }


def iso(ts: datetime) -> str:
    """ISO 8601 UTC with milliseconds and a Z, like an ESP32's SNTP clock prints it."""
    ts = ts.astimezone(timezone.utc)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def unit(*parts: object) -> float:
    """A uniform number in [0, 1) determined by `parts` (stable across runs and processes)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def bump(hour: float, centre: float, width: float) -> float:
    """A Gaussian bump on the 24 h circle: 1 at `centre`, falling off over `width` hours."""
    d = abs(hour - centre) % 24
    d = min(d, 24 - d)
    return math.exp(-0.5 * (d / width) ** 2)


def room_profile(hour: float) -> float:
    """Activity of an occupied hotel room (fraction of rating) by local hour."""
    return 0.04 + 0.38 * bump(hour, 7.5, 0.9) + 0.10 * bump(hour, 13.0, 2.5) + 0.52 * bump(hour, 20.5, 1.7)


def household_profile(hour: float) -> float:
    """Activity of a household (its meter) by local hour."""
    return 0.05 + 0.30 * bump(hour, 7.0, 1.0) + 0.14 * bump(hour, 13.0, 3.0) + 0.50 * bump(hour, 19.5, 1.8)


def _hour(local: datetime) -> float:
    return local.hour + local.minute / 60 + local.second / 3600


def _utc(ts: datetime) -> datetime:
    if ts.tzinfo is None:
        raise ValueError("sample times must be timezone-aware")
    return ts.astimezone(timezone.utc)


class _Grid:
    """Voltage and frequency as the grid supplies them, with a little memory."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.freq_dev = 0.0
        self.volt_offset = rng.uniform(-2.0, 2.0)  # where on the feeder the device sits

    def sample(self, local_hour: float, load_fraction: float) -> tuple[float, float]:
        self.freq_dev = 0.85 * self.freq_dev + self.rng.gauss(0, 0.008)
        sag = 4.0 * bump(local_hour, 20.0, 2.0) + 1.5 * bump(local_hour, 7.5, 1.0)
        voltage = NOMINAL_VOLTAGE + 1.5 + self.volt_offset - sag - 2.0 * load_fraction + self.rng.gauss(0, 0.8)
        voltage = min(max(voltage, 207.0), 253.0)  # the +-10 % statutory band
        frequency = min(max(NOMINAL_FREQUENCY + self.freq_dev, 49.8), 50.2)
        return round(voltage, 1), round(frequency, 3)


class _Counter:
    """The cumulative kWh register: trapezoidal integration of power over time."""

    def __init__(self, start_kwh: float):
        self.kwh = start_kwh
        self.last: tuple[datetime, float] | None = None

    def add(self, ts: datetime, power_w: float, reset: bool = False) -> float:
        step = 0.0
        if self.last is not None:
            dt_h = max((ts - self.last[0]).total_seconds(), 0.0) / 3600
            step = (self.last[1] + power_w) / 2 * dt_h / 1000
        self.last = (ts, power_w)
        # After a reset the register holds only what was counted since: about half this interval.
        self.kwh = step / 2 if reset else self.kwh + step
        return round(self.kwh, 5)


class MeterModel:
    """A room or household meter. `sample(ts)` for increasing `ts` (timezone-aware)."""

    KINDS = ("room", "household")

    def __init__(
        self,
        key: str,
        rating_w: float,
        tz: str = "UTC",
        *,
        kind: str = "room",
        seed: int = 0,
        occupancy_rate: float = 0.7,
        spike_prob: float = 0.01,
        faults: FaultPlan = FaultPlan(),
    ):
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}")
        self.key, self.kind, self.seed = key, kind, seed
        self.rating_w = float(rating_w)
        self.tz = ZoneInfo(tz)
        self.occupancy_rate = occupancy_rate
        self.spike_prob = spike_prob
        self.faults = faults
        self.rng = random.Random(f"{seed}:{key}:meter")
        self.grid = _Grid(self.rng)
        self.counter = _Counter(round(self.rng.uniform(50, 5000), 2))
        self.standby = self.rng.uniform(0.025, 0.045)  # fridge, standby, emergency lighting
        self.index = 0
        self.temp_base = self.rng.uniform(20.5, 23.5)

    # ---------------------------------------------------------------- occupancy

    def booked(self, night: date) -> bool:
        """Guests sleep here the night starting on `night` (local date)."""
        if self.kind == "household":
            return True
        return unit(self.seed, self.key, "night", night.toordinal()) < self.occupancy_rate

    def occupied(self, ts: datetime) -> bool:
        """Occupied at `ts`: check-in 15:00 on a booked night, check-out 11:00 the next day."""
        local = _utc(ts).astimezone(self.tz)
        if local.hour >= 15:
            return self.booked(local.date())
        if local.hour < 11:
            return self.booked(local.date() - timedelta(days=1))
        return self.booked(local.date() - timedelta(days=1)) and self.booked(local.date())  # a stay that continues

    def _day_scale(self, day: date) -> float:
        """Some guests (days) use more than others."""
        return 0.7 + 0.6 * unit(self.seed, self.key, "scale", day.toordinal())

    def expected_fraction(self, ts: datetime) -> float:
        """The noise-free load (fraction of rating) at `ts`: the daily curve the samples scatter around."""
        local = _utc(ts).astimezone(self.tz)
        hour = _hour(local)
        if self.kind == "household":
            activity = household_profile(hour) * self._day_scale(local.date())
        elif self.occupied(ts):
            activity = room_profile(hour) * self._day_scale(local.date())
        else:
            activity = 0.01  # vacant: set-back HVAC only
        return min(self.standby + activity, 1.0)

    # ---------------------------------------------------------------- sampling

    def sample(self, ts: datetime, history: bool = False) -> Sample:
        """The sample at `ts`. A `history` sample (the backfill a device uploads
        at start, infrastructure/simulator/device.py) continues the energy
        counter but applies no FaultPlan fault and does not count towards the
        fault positions (sample indexes count live samples)."""
        ts = _utc(ts)
        local = ts.astimezone(self.tz)
        hour = _hour(local)
        fraction = self.expected_fraction(ts) * max(self.rng.gauss(1.0, 0.08), 0.5)
        fraction += self.rng.uniform(0, 0.015)  # fridge compressor cycling
        spike = self.rng.random() < self.spike_prob
        if spike:
            fraction += self.rng.uniform(0.25, 0.45)  # a kettle, a hair dryer
        fraction = min(max(fraction, 0.005), 1.0)
        power = round(self.rating_w * fraction, 1)
        voltage, frequency = self.grid.sample(hour, fraction)
        pf = min(max(0.90 + 0.09 * min(fraction / 0.5, 1.0) + self.rng.gauss(0, 0.004), 0.90), 0.99)
        pf = round(pf, 3)
        reset = not history and self.faults.counter_reset_at == self.index
        energy = self.counter.add(ts, power, reset=reset)
        temperature = self.temp_base + 1.2 * math.sin(2 * math.pi * (hour - 9) / 24) + 9.0 * fraction
        self.index += not history
        return Sample(
            ts=ts,
            voltage=voltage,
            current=round(power / voltage / pf, 3),
            power_w=power,
            energy_kwh=energy,
            temperature=round(temperature + self.rng.gauss(0, 0.2), 1),
            power_factor=pf,
            frequency=frequency,
            spike=spike,
            counter_reset=reset,
        )


def solar_elevation(ts: datetime, latitude: float, longitude: float) -> float:
    """Approximate solar elevation in degrees (NOAA-style, good to about a degree)."""
    ts = _utc(ts)
    n = ts.timetuple().tm_yday
    declination = -23.44 * math.cos(2 * math.pi / 365 * (n + 10))
    b = 2 * math.pi * (n - 81) / 364
    equation_of_time_min = 9.87 * math.sin(2 * b) - 7.53 * math.cos(b) - 1.5 * math.sin(b)
    solar_hours = _hour(ts) + longitude / 15 + equation_of_time_min / 60
    hour_angle = math.radians(15 * (solar_hours - 12))
    lat, dec = math.radians(latitude), math.radians(declination)
    sin_elev = math.sin(lat) * math.sin(dec) + math.cos(lat) * math.cos(dec) * math.cos(hour_angle)
    return math.degrees(math.asin(max(-1.0, min(1.0, sin_elev))))


class LightModel:
    """A street light with a photocell; `sample(ts)` for increasing `ts`.

    `command(action, brightness, command_id, seq)` is what the lamp does with
    a command from gridpulse/{thing}/commands or its shadow's desired state,
    as the firmware's LightController does: "on" and "off" switch it by hand,
    "auto" hands it back to the photocell; brightness (0..100) dims the
    lamp's power. A command carries the cloud's `seq` (rising per command of
    this light): one not newer than the last applied is ignored, so two
    commands arriving in reverse order leave the lamp as the newer one says.
    """

    def __init__(
        self,
        key: str,
        latitude: float,
        longitude: float,
        rating_w: float = 90.0,
        *,
        seed: int = 0,
        error_prob: float = 5e-5,
        repair_after_s: float = 2 * 3600,
        faults: FaultPlan = FaultPlan(),
    ):
        self.key, self.seed = key, seed
        self.latitude, self.longitude = latitude, longitude
        self.rating_w = float(rating_w)
        self.error_prob = error_prob
        self.repair_after = timedelta(seconds=repair_after_s)
        self.faults = faults
        self.rng = random.Random(f"{seed}:{key}:light")
        self.grid = _Grid(self.rng)
        self.counter = _Counter(round(self.rng.uniform(10, 800), 2))
        self.threshold = -2.0 + self.rng.uniform(-1.0, 1.0)  # each photocell is a little different
        self.failed_until: datetime | None = None
        self.index = 0
        self.mode = "auto"  # auto (photocell), on or off
        self.brightness = 100
        self.command_id: str | None = None  # the last command applied
        self.seq = 0  # its seq

    def dark(self, ts: datetime) -> bool:
        return solar_elevation(ts, self.latitude, self.longitude) < self.threshold

    def command(
        self, action: str, brightness: int | None = None, command_id: str | None = None, seq: int | None = None
    ) -> bool:
        """Apply a command; False (and nothing changes) for one the lamp does
        not know, or one older than (or the same as) the last applied."""
        if action not in ("on", "off", "auto"):
            return False
        if brightness is not None:
            if isinstance(brightness, bool) or not isinstance(brightness, int) or not 0 <= brightness <= 100:
                return False
        if seq is not None:
            if isinstance(seq, bool) or not isinstance(seq, int) or seq <= self.seq:
                return False
            self.seq = seq
        if brightness is not None:
            self.brightness = brightness
        self.mode = action
        if command_id is not None:
            self.command_id = str(command_id)[:64]
        return True

    def reported(self) -> dict:
        """What the lamp reports to its shadow (state.reported.light)."""
        out: dict = {"action": self.mode, "brightness": self.brightness, "seq": self.seq}
        if self.command_id:
            out["command_id"] = self.command_id
        return out

    def switched_on(self, ts: datetime) -> bool:
        return self.mode == "on" or (self.mode == "auto" and self.dark(ts))

    def sample(self, ts: datetime, history: bool = False) -> Sample:
        """The sample at `ts`; a `history` sample applies no FaultPlan fault (see MeterModel.sample)."""
        ts = _utc(ts)
        if self.failed_until is not None and ts >= self.failed_until:
            self.failed_until = None  # the crew replaced the bulb
        if self.failed_until is None and (
            (not history and self.faults.light_error_at == self.index) or self.rng.random() < self.error_prob
        ):
            self.failed_until = ts + self.repair_after
        failed = self.failed_until is not None
        on = self.switched_on(ts) and not failed
        standby = 0.6 + self.rng.uniform(-0.1, 0.1)
        lit = self.rating_w * max(self.brightness, 1) / 100
        power = round(min(lit * self.rng.gauss(0.985, 0.01), lit) if on else standby, 1)
        fraction = power / self.rating_w
        voltage, frequency = self.grid.sample(_hour(ts.astimezone(timezone.utc)), 0.0)
        pf = round(min(max((0.95 if on else 0.90) + self.rng.gauss(0, 0.005), 0.90), 0.99), 3)
        energy = self.counter.add(ts, power)
        outdoor = 14 + 7 * math.sin(2 * math.pi * (_hour(ts) + self.longitude / 15 - 9) / 24)
        self.index += not history
        return Sample(
            ts=ts,
            voltage=voltage,
            current=round(power / voltage / pf, 3),
            power_w=power,
            energy_kwh=energy,
            temperature=round(outdoor + 12 * fraction + self.rng.gauss(0, 0.2), 1),
            power_factor=pf,
            frequency=frequency,
            status="error" if failed else ("on" if on else "off"),
            error_details=BULB_FAILED if failed else None,
            command_id=self.command_id,
        )


class SimClock:
    """Simulated time: `speed` times faster than the wall clock, never ahead of it.

    The simulation covers the recent past. It starts `backfill_s` before the
    wall clock, runs `speed` times faster and, once it has caught up with the
    wall clock, follows it at 1x: `now() = min(start + speed * elapsed, wall)`.
    So a time-accelerated demo fills the charts with (say) the last day while
    every timestamp stays in the past, as ingestion requires, and a long run
    continues as a real-time fleet. With speed 1 and no backfill it is the
    wall clock. `backfill_for(speed, duration)` picks the backfill that makes
    a run of `duration` wall seconds end exactly at "now".
    """

    def __init__(self, speed: float = 1.0, backfill_s: float = 0.0, wall=None):
        if speed < 1:
            raise ValueError("speed must be >= 1")
        self.speed = float(speed)
        self.backfill_s = max(backfill_s, 0.0)
        self._wall = wall or time.time
        self.restart()

    def restart(self) -> None:
        """Start (again) from `backfill_s` before the wall clock's now."""
        self.wall_start = self._wall()
        self.sim_start = self.wall_start - self.backfill_s

    @staticmethod
    def backfill_for(speed: float, duration_s: float, default_s: float = 24 * 3600) -> float:
        if speed <= 1:
            return 0.0
        return (speed - 1) * duration_s if duration_s > 0 else default_s

    def now_epoch(self) -> float:
        wall = self._wall()
        return min(self.sim_start + self.speed * (wall - self.wall_start), wall)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.now_epoch(), tz=timezone.utc)

    def start(self) -> datetime:
        return datetime.fromtimestamp(self.sim_start, tz=timezone.utc)

    def caught_up(self) -> bool:
        return self.now_epoch() >= self._wall() - 1e-6
