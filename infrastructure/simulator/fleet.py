"""A fleet of simulated devices: one scheduler thread, one MQTT connection per device.

`Fleet(specs, ...)` builds a model and a `SimulatedDevice` per `DeviceSpec`,
assigns the exactly-once faults (see `assign_faults`) and, once started,
runs one daemon thread that ticks every device every `tick_s` wall seconds
(sampling is cheap; publishing is asynchronous in awscrt, whose callbacks
run on its own threads). Every `progress_s` seconds it reports a progress
line to `log`. `stop()` queues each device's partial batch, waits up to
`drain_s` for the outboxes to empty, then disconnects every device.

`start_fleet(api_url, admin_email, admin_password, **options)` provisions an
estate through the REST API (infrastructure/simulator/provision.py) and
returns a started `Fleet`; the local stack calls it from a background thread.

History: with `history` (tiers of (how far back, interval); `history_tiers(days)`
gives the last 21 days hourly and any older days every 6 hours) every device
also uploads the past before the simulated start as a backlog (device.py), the
newest first, while its live readings go out first; the local stack uses this
(21 days, in real time) so that live figures have data within a minute and
hour and day charts and forecasts (14 days hourly to train, 7 to backtest) soon
after.

Simulated time: see `SimClock` in infrastructure/simulator/model.py. With
`speed` > 1 the fleet replays the recent past (`backfill_s`, by default
`(speed - 1) * duration_s`, or 24 h when the run has no duration) `speed`
times faster than real time and then continues in real time, so no
timestamp is ever ahead of the wall clock.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from typing import Callable, Iterable

from infrastructure.simulator.device import DeviceSpec, SimulatedDevice
from infrastructure.simulator.model import FaultPlan, LightModel, MeterModel, SimClock

log = logging.getLogger("gridpulse.simulator")

# Where the default faults land: early, so that a 30 s demo at 60x sees each one.
FAULT_POSITIONS = {
    "counter_reset": FaultPlan(counter_reset_at=40),
    "duplicate": FaultPlan(duplicate_at=2),
    "late": FaultPlan(late_at=25, late_by=2),
    "light_error": FaultPlan(light_error_at=30),
}
ALL_FAULTS = tuple(FAULT_POSITIONS)
# The last 21 days hourly: a forecast's model trains on 14 days of hourly kWh and
# is backtested on the 7 after them (gridpulse.forecasts.model).
RECENT_HISTORY_S, RECENT_INTERVAL_S, OLDER_INTERVAL_S = 21 * 86400, 3600, 6 * 3600


def history_tiers(days: float) -> tuple[tuple[float, float], ...]:
    """The history a device uploads at start: the last 21 days hourly (one
    cumulative-counter reading an hour, so every hour's kWh is stored: what
    hourly charts and the forecasts' model and backtest need), the days before
    every 6 hours (enough for day charts, a quarter of the hours to store)."""
    if days <= 0:
        return ()
    span = days * 86400
    tiers = [(min(span, RECENT_HISTORY_S), RECENT_INTERVAL_S)]
    if span > RECENT_HISTORY_S:
        tiers.append((span, OLDER_INTERVAL_S))
    return tuple(tiers)


def assign_faults(specs: list[DeviceSpec], faults: Iterable[str] = ALL_FAULTS) -> dict[str, FaultPlan]:
    """Each requested fault exactly once, on its own device where the fleet is big enough.

    counter_reset, duplicate and late go to meters (room or household), in
    that order, one device each; light_error goes to the first light. Returns
    {device_id: FaultPlan} for the devices that get one.
    """
    wanted = [f for f in faults if f]
    unknown = set(wanted) - set(ALL_FAULTS)
    if unknown:
        raise ValueError(f"unknown fault(s) {sorted(unknown)}; known: {', '.join(ALL_FAULTS)}")
    meters = [s for s in specs if s.kind != "light"]
    lights = [s for s in specs if s.kind == "light"]
    plans: dict[str, dict] = {}
    meter_faults = [f for f in ("counter_reset", "duplicate", "late") if f in wanted]
    for i, name in enumerate(meter_faults):
        if meters:
            target = meters[i % len(meters)]
            plans.setdefault(target.device_id, {}).update(_changes(FAULT_POSITIONS[name]))
    if "light_error" in wanted and lights:
        plans.setdefault(lights[0].device_id, {}).update(_changes(FAULT_POSITIONS["light_error"]))
    return {device_id: FaultPlan(**changes) for device_id, changes in plans.items()}


def _changes(plan: FaultPlan) -> dict:
    default = FaultPlan()
    return {f.name: getattr(plan, f.name) for f in fields(plan) if getattr(plan, f.name) != getattr(default, f.name)}


def build_model(
    spec: DeviceSpec, seed: int, faults: FaultPlan, light_error_prob: float = 5e-5, spike_prob: float = 0.01
) -> MeterModel | LightModel:
    if spec.kind == "light":
        return LightModel(
            spec.key or spec.thing_name,
            spec.latitude or 0.0,
            spec.longitude or 0.0,
            spec.power_rating_w or 90.0,
            seed=seed,
            error_prob=light_error_prob,
            faults=faults,
        )
    return MeterModel(
        spec.key or spec.thing_name,
        spec.power_rating_w or 5000.0,
        spec.timezone,
        kind=spec.kind,
        seed=seed,
        spike_prob=spike_prob,
        faults=faults,
    )


@dataclass(frozen=True)
class FleetStats:
    devices: int
    connected: int
    samples: int
    messages_sent: int
    readings_sent: int
    history_sent: int
    status_sent: int
    backlog: int
    dropped: int
    publish_failures: int
    connect_failures: int
    interruptions: int
    resumes: int
    duplicates_injected: int
    late_injected: int
    counter_resets: int
    light_errors: int
    sim_time: str
    running: bool

    def line(self) -> str:
        return (
            f"[fleet] sim {self.sim_time} | connected {self.connected}/{self.devices} | "
            f"messages {self.messages_sent} | readings {self.readings_sent} (history {self.history_sent}) | "
            f"status {self.status_sent} | "
            f"backlog {self.backlog} | dropped {self.dropped} | reconnects {self.resumes} | "
            f"faults: reset {self.counter_resets}, duplicate {self.duplicates_injected}, "
            f"late {self.late_injected}, bulb {self.light_errors}"
        )

    def as_dict(self) -> dict:
        return asdict(self)


class Fleet:
    """N simulated devices. `start()`, `stats()`, `stop()`; `wait()` until stopped.

    `connection_factory(spec)`, if given, makes each device's connection
    instead of the AWS IoT Device SDK (tests pass fakes); `log(line)` gets the
    progress lines (default: the "gridpulse.simulator" logger at INFO).
    """

    def __init__(
        self,
        specs: list[DeviceSpec],
        *,
        speed: float = 1.0,
        sample_interval_s: float = 30.0,
        batch_size: int = 10,
        duration_s: float = 0.0,
        backfill_s: float | None = None,
        seed: int = 0,
        faults: Iterable[str] = ALL_FAULTS,
        buffer_capacity: int = 10_000,
        max_inflight: int = 10,
        reconnect_min_s: float = 1.0,
        reconnect_max_s: float = 16.0,
        light_error_prob: float = 5e-5,
        spike_prob: float = 0.01,
        tick_s: float = 0.1,
        progress_s: float = 5.0,
        drain_s: float = 5.0,
        history: tuple[tuple[float, float], ...] = (),
        backlog_batch: int = 96,
        history_delay_s: float = 10.0,
        history_gap_s: float = 0.0,
        history_first: int = 0,
        history_release: threading.Event | None = None,
        report_at_start: bool = False,
        log: Callable[[str], None] | None = None,
        connection_factory=None,
    ):
        if backfill_s is None:
            backfill_s = SimClock.backfill_for(speed, duration_s)
        self.clock = SimClock(speed, backfill_s)
        self.duration_s = duration_s
        self.tick_s, self.progress_s, self.drain_s = tick_s, progress_s, drain_s
        self._log = log
        self.plans = assign_faults(specs, faults)
        self.devices: list[SimulatedDevice] = []
        for spec in specs:
            plan = self.plans.get(spec.device_id, FaultPlan())
            model = build_model(spec, seed, plan, light_error_prob, spike_prob)
            factory = (lambda s=spec: connection_factory(s)) if connection_factory else None
            self.devices.append(
                SimulatedDevice(
                    spec,
                    model,
                    self.clock,
                    sample_interval_s=sample_interval_s,
                    batch_size=batch_size,
                    faults=plan,
                    buffer_capacity=buffer_capacity,
                    max_inflight=max_inflight,
                    reconnect_min_s=reconnect_min_s,
                    reconnect_max_s=reconnect_max_s,
                    seed=seed,
                    connection_factory=factory,
                    history=history,
                    backlog_batch=backlog_batch,
                    history_delay_s=history_delay_s,
                    history_gap_s=history_gap_s,
                    history_first=history_first,
                    history_release=history_release,
                    report_at_start=report_at_start,
                )
            )
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._started_at = 0.0
        self._sim_end: datetime | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> Fleet:
        if self._thread is not None:
            raise RuntimeError("fleet already started")
        self._started_at = time.monotonic()
        self.clock.restart()  # simulated time starts now, however long ago the fleet was built
        for device in self.devices:
            device.reschedule()
        history = self.devices[0].history_s if self.devices else 0
        self._say(
            f"[fleet] {len(self.devices)} devices, speed {self.clock.speed:g}x, simulated time from "
            f"{self.clock.start().strftime('%Y-%m-%d %H:%M:%S')} UTC"
            + (f"; uploading the {history / 86400:g} days before as history" if history else "")
            + (f", fault plans: {self._fault_summary()}" if self.plans else ", no faults")
        )
        self._thread = threading.Thread(target=self._run, name="gridpulse-fleet", daemon=True)
        self._thread.start()
        return self

    def _fault_summary(self) -> str:
        names = {d.spec.device_id: d.spec.name for d in self.devices}
        return "; ".join(
            f"{names[i]}: {', '.join(f'{k}={v}' for k, v in _changes(p).items())}" for i, p in self.plans.items()
        )

    def _say(self, text: str) -> None:
        if self._log:
            self._log(text)
        else:
            log.info(text)

    def _run(self) -> None:
        next_progress = time.monotonic() + self.progress_s
        try:
            while not self._stop.is_set():
                for device in self.devices:
                    try:
                        device.tick()
                    except Exception:  # noqa: BLE001 - one device's bug must not stop the fleet
                        log.exception("%s: tick failed", device.spec.name)
                now = time.monotonic()
                if self.progress_s and now >= next_progress:
                    next_progress = now + self.progress_s
                    self._say(self.stats().line())
                if self.duration_s and now - self._started_at >= self.duration_s:
                    break
                self._stop.wait(self.tick_s)
        finally:
            if not self._stop.is_set():  # the duration ended: stop from here
                threading.Thread(target=self.stop, name="gridpulse-fleet-stop", daemon=True).start()

    def stop(self, drain_s: float | None = None) -> FleetStats:
        """Flush partial batches, drain the outboxes (bounded), disconnect. Idempotent."""
        with self._stop_lock:
            if self._stopped.is_set():
                return self.stats()
            self._stop.set()
            if self._thread is not None and self._thread is not threading.current_thread():
                self._thread.join(timeout=10)
            self._sim_end = self.clock.now()  # simulated time ends with the last tick
            drain = self.drain_s if drain_s is None else drain_s
            for device in self.devices:
                device.flush()
                device.pump()
            deadline = time.monotonic() + drain
            while time.monotonic() < deadline and any(d.backlog() for d in self.devices):
                for device in self.devices:
                    device.pump()
                time.sleep(0.05)
            left = sum(d.backlog() for d in self.devices)
            if left:
                self._say(f"[fleet] stopping with {left} message(s) not delivered")
            threads = [threading.Thread(target=d.stop, daemon=True) for d in self.devices]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=10)
            self._stopped.set()
            final = self.stats()
            self._say(final.line().replace("[fleet]", "[fleet] stopped:"))
            return final

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the fleet has stopped (duration over or `stop()`); True if it has."""
        return self._stopped.wait(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._stopped.is_set()

    # ------------------------------------------------------------ numbers

    def stats(self) -> FleetStats:
        per = [d.snapshot() for d in self.devices]

        def total(name: str) -> int:
            return int(sum(getattr(s, name) for s in per))

        return FleetStats(
            devices=len(per),
            connected=sum(s.connected for s in per),
            samples=total("samples"),
            messages_sent=total("messages_sent"),
            readings_sent=total("readings_sent"),
            history_sent=total("history_sent"),
            status_sent=total("status_sent"),
            backlog=total("backlog"),
            dropped=total("dropped"),
            publish_failures=total("publish_failures"),
            connect_failures=total("connect_failures"),
            interruptions=total("interruptions"),
            resumes=total("resumes"),
            duplicates_injected=total("duplicates_injected"),
            late_injected=total("late_injected"),
            counter_resets=total("counter_resets"),
            light_errors=total("light_errors"),
            sim_time=(self._sim_end or self.clock.now()).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
            running=self.running,
        )


ESTATE_OPTIONS = (
    "hotels",
    "floors",
    "rooms",
    "lights",
    "households",
    "mqtt_host",
    "mqtt_port",
    "wifi",
    "on_progress",
    "cancel",
)


def start_fleet(api_url: str, admin_email: str, admin_password: str, **options) -> Fleet:
    """Provision an estate through the REST API and start simulating it.

    Estate options (provision.py): hotels=2, floors=3, rooms=4, lights=4,
    households=1, mqtt_host / mqtt_port (override what the API returns),
    wifi=True, on_progress (callable(str) for provisioning lines; default
    `log`), cancel (a threading.Event: once set, provisioning stops with
    ProvisioningCancelled, so a stack shutting down need not wait for it).
    Fleet options (Fleet): speed=1, sample_interval_s=30, batch_size=10,
    duration_s=0 (0 = until stop()), backfill_s, seed=0, faults (names from
    ALL_FAULTS; () for none), buffer_capacity=10000, max_inflight=10,
    reconnect_min_s=1, reconnect_max_s=16, light_error_prob, spike_prob,
    progress_s=5, drain_s=5, history=() (see history_tiers), backlog_batch=96,
    history_delay_s=10, history_gap_s=0, history_first=0, history_release=None (device.py), report_at_start=False, log (callable(str); default: logging).
    Returns the started Fleet (call .stop() to end it, .stats() for numbers).
    """
    from infrastructure.simulator.provision import EstatePlan, provision_estate

    estate = {k: options.pop(k) for k in list(options) if k in ESTATE_OPTIONS}
    on_progress = estate.pop("on_progress", None) or options.get("log")
    cancel = estate.pop("cancel", None)
    plan = EstatePlan(**estate, seed=options.get("seed", 0))
    specs = provision_estate(api_url, admin_email, admin_password, plan, on_progress=on_progress, cancel=cancel)
    return Fleet(specs, **options).start()
