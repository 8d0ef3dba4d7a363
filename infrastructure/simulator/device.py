"""One simulated ESP32 device: samples, batches, store-and-forward, one MQTT connection.

Three parts, the first two pure (no network, unit-tested):

* `Composer` - the firmware's message logic. Each sample becomes a reading
  with the next `seq` (0, 1, 2, ... per device) and an ISO 8601 UTC
  timestamp; every `batch_size` samples make one `{"readings": [...]}`
  message for `gridpulse/{thing}/telemetry`. A light also sends
  `{"status": "on"|"off"|"error", "error_details"?}` to
  `gridpulse/{thing}/status` when its status changes (and with its first
  sample). The device's `FaultPlan` is applied here, exactly once each: the
  telemetry message number `duplicate_at` is emitted twice with the same
  bytes; the reading `late_at` is taken out of its batch and emitted alone
  after `late_by` later telemetry messages (out of order).
* `Outbox` - the store-and-forward buffer: an ordered, bounded FIFO of
  messages waiting for a PUBACK. When full, the oldest message is dropped
  and counted (with a warning), as a device with little RAM must.
  Messages whose publish failed go back to the head, in their original order.
* `SimulatedDevice` - ties a model (infrastructure/simulator/model.py), a
  `Composer` and an `Outbox` to one AWS IoT Device SDK v2 connection
  (`mqtt_connection_builder.mtls_from_bytes`, client id = thing name, clean
  session, MQTT over TLS with the device's certificate). Messages are
  published QoS 1 only while connected, at most `max_inflight` awaiting
  their PUBACK; a message leaves the outbox for good only when acknowledged
  (a publish that fails or times out goes back to the head of the outbox).
  So while the connection is down (awscrt's `on_connection_interrupted`)
  messages pile up in the outbox, and after `on_connection_resumed` the
  backlog is uploaded oldest first.

History: a device made with `history`, tiers of (how far back, interval)
such as ((21 days, 1 h), (30 days, 6 h)), also uploads the past before the
clock's start: the last 21 days hourly, the 9 days before every 6 hours (a
backlog upload, `backlog_batch` readings per message, the newest first, so
the recent past is stored first). Ingestion's cost grows with the hours
touched, so the older past is coarse. History goes out from a second,
lower-priority outbox, `history_delay_s` after the device connected: live
messages always go first, so live figures never wait for the backfill. With
`history_gap_s`, a history message goes out at most that often, so that a
fleet's devices upload their newest history before anyone's older history
(ingestion takes a device's messages of one batch together, and stores them
in queue order). With `history_first`, the first history message holds only
the newest `history_first` readings (the local stack: every meter's newest
two days, what a forecast needs, before anyone's older history), and with
`history_release` (a threading.Event) the later ones wait until it is set
(the local stack sets it once every device's first history message is
stored). With
`report_at_start` the device samples at once when it starts and sends that
reading alone (a device reporting as it boots), then batches of
`batch_size` on its usual schedule.

Reconnecting: the first connection is retried by the device with
exponential backoff and full jitter (awscrt does not retry a first CONNECT
that fails). Once connected, awscrt reconnects by itself after an
interruption, with exponential backoff between `reconnect_min_s` and
`reconnect_max_s`; each device draws its own bounds (+-50 %), so a fleet
whose broker restarts does not reconnect in lock-step.

`SimulatedDevice.tick()` is called by the fleet's one scheduler thread
(infrastructure/simulator/fleet.py): it takes the samples that simulated
time has reached, queues the resulting messages and publishes what it may.
awscrt's callbacks run on its own threads; a lock guards the device state.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from infrastructure.simulator.model import FaultPlan, LightModel, MeterModel, Sample, SimClock, unit

log = logging.getLogger("gridpulse.simulator")

DEFAULT_MQTT_PORT = 8883


# ---------------------------------------------------------------- what a device is


@dataclass
class DeviceSpec:
    """A provisioned device and what the simulator needs to play it.

    kind: "room" (hotel room meter), "household" (a home's meter) or "light".
    key: a stable name (e.g. "h1/204") that seeds the device's model.
    """

    device_id: str
    name: str
    kind: str
    device_type: str
    thing_name: str
    endpoint: str
    topics: dict[str, str]
    certificate_pem: str = field(repr=False)
    private_key: str = field(repr=False)
    ca_pem: str = field(repr=False)
    port: int = DEFAULT_MQTT_PORT
    key: str = ""
    power_rating_w: float | None = None
    timezone: str = "UTC"
    latitude: float | None = None
    longitude: float | None = None
    hotel_id: str | None = None
    room_id: str | None = None
    city: str | None = None
    api_key: str | None = field(default=None, repr=False)

    @property
    def telemetry_topic(self) -> str:
        return self.topics.get("telemetry") or f"gridpulse/{self.thing_name}/telemetry"

    @property
    def status_topic(self) -> str:
        return self.topics.get("status") or f"gridpulse/{self.thing_name}/status"

    @property
    def commands_topic(self) -> str:
        return self.topics.get("commands") or f"gridpulse/{self.thing_name}/commands"


# ---------------------------------------------------------------- pure parts


@dataclass(frozen=True)
class Message:
    """One MQTT publish. `number` orders a device's messages by creation."""

    topic: str
    payload: bytes
    number: int
    kind: str = "telemetry"  # telemetry, duplicate, late or status
    readings: int = 0

    def body(self) -> Any:
        return json.loads(self.payload)


def _dumps(body: dict) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


class Composer:
    """Samples in, messages out: batching, seq numbers, status changes, duplicate and late faults."""

    def __init__(
        self,
        telemetry_topic: str,
        status_topic: str | None = None,
        batch_size: int = 10,
        faults: FaultPlan = FaultPlan(),
        first_seq: int = 0,
        first_batch_size: int | None = None,
    ):
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.telemetry_topic, self.status_topic = telemetry_topic, status_topic
        self.batch_size = batch_size
        # The first message may be sent sooner (a device reporting as it starts), then batch_size.
        self.first_batch_size = max(1, min(first_batch_size or batch_size, batch_size))
        self.faults = faults
        self.seq = first_seq
        self.batch: list[dict] = []
        self.window = 0  # samples since the last batch, the held-back one included
        self.telemetry_count = 0  # telemetry messages emitted (duplicates and late ones excluded)
        self.numbers = 0  # every message emitted
        self.last_status: tuple[str, str | None, str | None] | None = None
        self.held: dict | None = None  # the late reading
        self.held_countdown = 0
        self.injected = {"duplicate": 0, "late": 0}

    def _message(self, topic: str, body: dict, kind: str, readings: int) -> Message:
        message = Message(topic, _dumps(body), self.numbers, kind, readings)
        self.numbers += 1
        return message

    def add(self, sample: Sample) -> list[Message]:
        out: list[Message] = []
        if sample.status is not None and self.status_topic:
            # A change of status, or a newly applied command (its report confirms it).
            status = (sample.status, sample.error_details, sample.command_id)
            if status != self.last_status:
                self.last_status = status
                body = {"status": sample.status}
                if sample.error_details:
                    body["error_details"] = sample.error_details
                if sample.command_id:
                    body["command_id"] = sample.command_id
                out.append(self._message(self.status_topic, body, "status", 0))
        reading = sample.reading(self.seq)
        if self.faults.late_at == self.seq and self.held is None and not self.injected["late"]:
            self.held, self.held_countdown = reading, self.faults.late_by + 1
        else:
            self.batch.append(reading)
        self.seq += 1
        self.window += 1
        if self.window >= (self.first_batch_size if self.telemetry_count == 0 else self.batch_size):
            out += self._emit_batch()
        return out

    def history(self, samples: list[Sample]) -> Message:
        """One backlog message of history readings (no seq; identified by their
        timestamps), outside the live stream: no status message, no fault."""
        readings = []
        for sample in samples:
            reading = sample.reading(0)
            del reading["seq"]
            readings.append(reading)
        return self._message(self.telemetry_topic, {"readings": readings}, "history", len(readings))

    def _emit_batch(self) -> list[Message]:
        out: list[Message] = []
        if self.batch:
            batch, self.batch = self.batch, []
            message = self._message(self.telemetry_topic, {"readings": batch}, "telemetry", len(batch))
            out.append(message)
            if self.faults.duplicate_at == self.telemetry_count and not self.injected["duplicate"]:
                out.append(Message(message.topic, message.payload, self.numbers, "duplicate", message.readings))
                self.numbers += 1
                self.injected["duplicate"] += 1
            self.telemetry_count += 1
        self.window = 0
        if self.held is not None:
            self.held_countdown -= 1
            if self.held_countdown <= 0:
                out.append(self._release_held())
        return out

    def _release_held(self) -> Message:
        held, self.held = self.held, None
        self.injected["late"] += 1
        return self._message(self.telemetry_topic, {"readings": [held]}, "late", 1)

    def flush(self) -> list[Message]:
        """The partial batch and a still-held late reading (on a clean stop)."""
        out = self._emit_batch() if self.batch else []
        if self.held is not None:
            out.append(self._release_held())
        return out


class Outbox:
    """Store-and-forward: an ordered, bounded buffer of messages (thread-safe)."""

    def __init__(self, capacity: int = 10_000, name: str = ""):
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity, self.name = capacity, name
        self._items: deque[Message] = deque()
        self._lock = threading.Lock()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def _drop_oldest(self) -> None:
        self._items.popleft()
        self.dropped += 1
        if self.dropped == 1 or self.dropped % 1000 == 0:
            log.warning(
                "%s: store-and-forward buffer full (%d messages); dropped the oldest (%d so far)",
                self.name or "device",
                self.capacity,
                self.dropped,
            )

    def put(self, message: Message) -> None:
        with self._lock:
            if len(self._items) >= self.capacity:
                self._drop_oldest()
            self._items.append(message)

    def take(self, n: int = 1) -> list[Message]:
        with self._lock:
            return [self._items.popleft() for _ in range(min(n, len(self._items)))]

    def requeue(self, messages: list[Message]) -> None:
        """Put messages that were taken back where they were: the buffer stays in
        creation order (failures that come back one by one, in any order, still
        go out oldest first). If that overflows the buffer, the oldest are dropped."""
        with self._lock:
            for message in sorted(messages, key=lambda m: m.number):
                i = 0
                while i < len(self._items) and self._items[i].number < message.number:
                    i += 1  # only earlier failures sit before it: a short walk from the head
                self._items.insert(i, message)
            while len(self._items) > self.capacity:
                self._drop_oldest()

    def snapshot(self) -> list[Message]:
        with self._lock:
            return list(self._items)


def connect_as_device(credentials: dict, *, client_id: str | None = None, timeout_s: float = 10.0, **options):
    """Connects over MQTT with mutual TLS as a device, from its credentials bundle.

    `credentials` is the bundle `POST /devices` (or a rotation) returns:
    `iot_endpoint`, `mqtt_port`, `certificate_pem`, `private_key`, `ca_pem`,
    `thing_name`. The client id is the thing name unless `client_id` says
    otherwise (to show the broker refusing another device's identity);
    `options` go to `mtls_from_bytes` as they are (callbacks, reconnect
    bounds). Returns the connected awscrt connection.
    """
    from awsiot import mqtt_connection_builder

    settings = {"clean_session": True, "keep_alive_secs": 30, **options}
    connection = mqtt_connection_builder.mtls_from_bytes(
        endpoint=credentials["iot_endpoint"],
        port=credentials["mqtt_port"],
        cert_bytes=credentials["certificate_pem"].encode(),
        pri_key_bytes=credentials["private_key"].encode(),
        ca_bytes=credentials["ca_pem"].encode() if credentials.get("ca_pem") else None,
        client_id=client_id or credentials["thing_name"],
        **settings,
    )
    connection.connect().result(timeout_s)
    return connection


def backoff_s(attempt: int, base_s: float = 1.0, cap_s: float = 60.0, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)], at least 0.1 s."""
    ceiling = min(cap_s, base_s * 2 ** min(attempt, 30))
    return max(0.1, (rng or random).uniform(0, ceiling))


# ---------------------------------------------------------------- the device


@dataclass
class DeviceStats:
    connected: bool = False
    connects: int = 0
    connect_failures: int = 0
    interruptions: int = 0
    resumes: int = 0
    samples: int = 0
    messages_sent: int = 0
    readings_sent: int = 0
    history_sent: int = 0
    status_sent: int = 0
    publish_failures: int = 0
    dropped: int = 0
    backlog: int = 0
    duplicates_injected: int = 0
    late_injected: int = 0
    counter_resets: int = 0
    light_errors: int = 0
    commands: int = 0  # commands a light applied


class SimulatedDevice:
    """One device: a model, a composer, an outbox and one MQTT connection."""

    def __init__(
        self,
        spec: DeviceSpec,
        model: MeterModel | LightModel,
        clock: SimClock,
        *,
        sample_interval_s: float = 30.0,
        batch_size: int = 10,
        faults: FaultPlan = FaultPlan(),
        buffer_capacity: int = 10_000,
        max_inflight: int = 10,
        keep_alive_s: int = 60,
        reconnect_min_s: float = 1.0,
        reconnect_max_s: float = 16.0,
        operation_timeout_s: float = 30.0,
        seed: int = 0,
        connection_factory: Callable[..., Any] | None = None,
        history: tuple[tuple[float, float], ...] = (),
        backlog_batch: int = 96,
        history_delay_s: float = 10.0,
        history_gap_s: float = 0.0,
        history_first: int = 0,
        history_release: threading.Event | None = None,
        report_at_start: bool = False,
    ):
        self.spec, self.model, self.clock = spec, model, clock
        self.last_sampled: datetime | None = None  # the newest sample taken
        self.interval = timedelta(seconds=sample_interval_s)
        self.composer = Composer(
            spec.telemetry_topic,
            spec.status_topic if spec.kind == "light" else None,
            batch_size,
            faults,
            first_batch_size=1 if report_at_start else None,
        )
        self.outbox = Outbox(buffer_capacity, spec.name)
        self.history = tuple(sorted((float(back), float(every)) for back, every in history if back > 0 and every > 0))
        self.history_s = max((back for back, _ in self.history), default=0.0)
        self.backlog_batch = max(1, min(backlog_batch, 500))  # 500: the ingestion limit per message
        self.history_delay_s = history_delay_s
        self.history_gap_s = history_gap_s
        self.history_first = max(0, min(history_first, self.backlog_batch))
        self.history_release = history_release
        self._history_taken = 0  # history messages taken for publishing
        self.history_outbox = Outbox(buffer_capacity, f"{spec.name} (history)")
        self._history_due = bool(self.history)
        self._history_from = 0.0  # time.monotonic() from which history may go out
        self.report_at_start = report_at_start
        self.max_inflight = max_inflight
        self.rng = random.Random(f"{seed}:{spec.key or spec.thing_name}:net")
        self.keep_alive_s = keep_alive_s
        self.reconnect_min_s = reconnect_min_s * self.rng.uniform(0.5, 1.5)
        self.reconnect_max_s = max(self.reconnect_min_s, reconnect_max_s * self.rng.uniform(0.5, 1.5))
        self.operation_timeout_s = operation_timeout_s
        self._factory = connection_factory or self._mqtt_connection
        # Devices do not sample in lock-step: each starts somewhere in its first interval.
        self.phase = timedelta(seconds=unit(seed, spec.key or spec.thing_name, "phase") * sample_interval_s)
        self.next_sample: datetime = clock.start() if report_at_start else clock.start() + self.phase
        self._booting = report_at_start
        self.stats = DeviceStats()
        self._lock = threading.RLock()
        self._inflight: dict[int, Message] = {}
        self._state = "idle"  # idle, connecting, connected, interrupted, stopped
        self._connection = None
        self._attempt = 0
        self._next_attempt = 0.0
        self._last_error: str | None = None

    # ------------------------------------------------------------ connection

    def _mqtt_connection(self):
        from awsiot import mqtt_connection_builder

        spec = self.spec
        return mqtt_connection_builder.mtls_from_bytes(
            endpoint=spec.endpoint,
            port=spec.port,
            cert_bytes=spec.certificate_pem.encode(),
            pri_key_bytes=spec.private_key.encode(),
            ca_bytes=spec.ca_pem.encode() if spec.ca_pem else None,
            client_id=spec.thing_name,
            clean_session=True,
            keep_alive_secs=self.keep_alive_s,
            reconnect_min_timeout_secs=max(1, round(self.reconnect_min_s)),
            reconnect_max_timeout_secs=max(1, round(self.reconnect_max_s)),
            protocol_operation_timeout_ms=int(self.operation_timeout_s * 1000),
            on_connection_interrupted=self._on_interrupted,
            on_connection_resumed=self._on_resumed,
        )

    @property
    def state(self) -> str:
        return self._state

    @property
    def last_error(self) -> str | None:
        return self._last_error

    def _maybe_connect(self) -> None:
        with self._lock:
            if self._state != "idle" or time.monotonic() < self._next_attempt:
                return
            self._state = "connecting"
            try:
                if self._connection is None:
                    self._connection = self._factory()
                future = self._connection.connect()
            except Exception as exc:  # noqa: BLE001 - a bad endpoint or key; retried with backoff
                self._connect_failed(exc)
                return
        future.add_done_callback(self._on_connect_done)

    def _connect_failed(self, exc: BaseException) -> None:
        with self._lock:
            self.stats.connect_failures += 1
            self._last_error = f"{type(exc).__name__}: {exc}"
            delay = backoff_s(self._attempt, 1.0, max(self.reconnect_max_s, 1.0), self.rng)
            self._attempt += 1
            self._next_attempt = time.monotonic() + delay
            if self._state != "stopped":
                self._state = "idle"
        if self.stats.connect_failures in (1, 5) or self.stats.connect_failures % 20 == 0:
            log.warning(
                "%s: connect to %s:%s failed (%s); retrying in %.1fs",
                self.spec.name,
                self.spec.endpoint,
                self.spec.port,
                self._last_error,
                delay,
            )

    def _on_connect_done(self, future) -> None:
        exc = future.exception()
        if exc is not None:
            self._connect_failed(exc)
            return
        with self._lock:
            if self._state == "stopped":
                return
            self._state = "connected"
            self._attempt = 0
            self.stats.connects += 1
            self.stats.connected = True
            if self.stats.connects == 1:
                self._history_from = time.monotonic() + self.history_delay_s
        self._follow_commands()
        self.pump()

    def _on_interrupted(self, connection, error, **kwargs) -> None:
        with self._lock:
            if self._state == "connected":
                self._state = "interrupted"
            self.stats.interruptions += 1
            self.stats.connected = False
            self._last_error = str(error)
        log.info("%s: connection interrupted (%s); buffering", self.spec.name, error)

    def _on_resumed(self, connection, return_code, session_present, **kwargs) -> None:
        with self._lock:
            if self._state == "stopped":
                return
            self._state = "connected"
            self.stats.resumes += 1
            self.stats.connected = True
        if not session_present:  # a clean session forgets subscriptions
            self._follow_commands()
        log.info("%s: connection resumed; uploading %d buffered message(s)", self.spec.name, len(self.outbox))
        self.pump()

    # ------------------------------------------------------------ commands and shadow (lights)

    def _shadow_topic(self, suffix: str) -> str:
        return f"$aws/things/{self.spec.thing_name}/shadow/{suffix}"

    def _follow_commands(self) -> None:
        """On every (re)connect a light does what the firmware does, against
        IoT Core or the local stack alike: subscribe to gridpulse/{thing}/commands,
        to its shadow's update/delta and get/accepted|rejected, then ask for
        the shadow (shadow/get): a desired state written while it was offline
        is applied from the answer; then it reports state.reported."""
        if self.spec.kind != "light" or self._connection is None:
            return
        from awscrt import mqtt

        connection = self._connection
        connection.subscribe(self.spec.commands_topic, mqtt.QoS.AT_LEAST_ONCE, self._on_command)
        connection.subscribe(self._shadow_topic("update/delta"), mqtt.QoS.AT_LEAST_ONCE, self._on_shadow_delta)
        connection.subscribe(self._shadow_topic("get/accepted"), mqtt.QoS.AT_LEAST_ONCE, self._on_shadow_document)
        subscribed, _ = connection.subscribe(
            self._shadow_topic("get/rejected"), mqtt.QoS.AT_LEAST_ONCE, self._on_shadow_rejected
        )

        def ask(_future) -> None:  # once subscribed, so that the answer is not missed
            try:
                connection.publish(self._shadow_topic("get"), b'{"clientToken":"boot"}', mqtt.QoS.AT_LEAST_ONCE)
            except Exception as exc:  # noqa: BLE001 - the connection went away; asked again on resume
                log.info("%s: shadow get not sent: %s", self.spec.name, exc)

        subscribed.add_done_callback(ask)

    def _on_command(self, topic: str, payload: bytes, **kwargs) -> None:
        """A command on gridpulse/{thing}/commands: {command_id, seq, action, brightness?}."""
        try:
            command = json.loads(payload)
            command.get("action")
        except (ValueError, AttributeError):
            log.info("%s: ignored a command that is not a JSON object", self.spec.name)
            return
        self._apply(command, "command")

    def _on_shadow_delta(self, topic: str, payload: bytes, **kwargs) -> None:
        """update/delta: the desired light fields that differ from reported."""
        try:
            light = json.loads(payload)["state"]["light"]
        except (ValueError, KeyError, TypeError):
            return  # a delta about something else (wifi, say)
        self._apply(light, "shadow delta")

    def _on_shadow_document(self, topic: str, payload: bytes, **kwargs) -> None:
        """get/accepted: apply desired.light if it is newer than what the lamp does; report either way."""
        try:
            desired = (json.loads(payload).get("state") or {}).get("desired") or {}
        except (ValueError, AttributeError):
            desired = {}
        light = desired.get("light") if isinstance(desired, dict) else None
        if not isinstance(light, dict) or not self._apply(light, "shadow"):
            self._report_shadow()

    def _on_shadow_rejected(self, topic: str, payload: bytes, **kwargs) -> None:
        """get/rejected (404: no shadow yet): nothing asked; report what the lamp does."""
        self._report_shadow()

    def _apply(self, command: dict, source: str) -> bool:
        """Apply a command or desired state: the lamp switches, its status
        (with the command id) is reported at once and its shadow's reported
        state follows. False when ignored (unknown, malformed, or older than
        the last applied: `seq`)."""
        if not isinstance(command, dict):
            return False
        action = command.get("action", self.model.mode)
        with self._lock:
            if self._state == "stopped" or not self.model.command(
                action, command.get("brightness"), command.get("command_id"), command.get("seq")
            ):
                log.info("%s: ignored %s %r", self.spec.name, source, command)
                return False
            self.stats.commands += 1
            now = self.clock.now()
            if self.last_sampled is None or now > self.last_sampled:
                self._record(self.model.sample(now))
        self.pump()
        self._report_shadow()
        return True

    def _report_shadow(self) -> None:
        """Publish state.reported.light to the shadow (not buffered: the next
        connect asks for the shadow again)."""
        connection = self._connection
        if connection is None or self._state != "connected":
            return
        from awscrt import mqtt

        with self._lock:
            body = {"state": {"reported": {"light": self.model.reported()}}}
        try:
            connection.publish(self._shadow_topic("update"), _dumps(body), mqtt.QoS.AT_LEAST_ONCE)
        except Exception as exc:  # noqa: BLE001 - the connection went away
            log.info("%s: shadow report not sent: %s", self.spec.name, exc)

    # ------------------------------------------------------------ sampling and publishing

    def reschedule(self) -> None:
        """Sample from the clock's (new) start: after `SimClock.restart()`, before the first tick."""
        with self._lock:
            self.next_sample = self.clock.start() if self.report_at_start else self.clock.start() + self.phase
            self._booting = self.report_at_start

    def history_times(self) -> list[datetime]:
        """When the history samples fall, oldest first: each tier from its
        distance back up to the next finer tier (or the clock's start)."""
        start, out = self.clock.start() + self.phase, []
        ends = [back for back, _ in self.history[:-1]]
        for (back, every), until in zip(reversed(self.history), reversed([0.0, *ends])):
            step = timedelta(seconds=every)
            t = start - timedelta(seconds=back)
            while t < start - timedelta(seconds=until):
                out.append(t)
                t += step
        return out

    def _take_history(self) -> None:
        """The whole history, sampled now (cheap: no I/O) and queued as backlog
        messages, the newest readings first."""
        samples = [self.model.sample(t, history=True) for t in self.history_times()]
        chunks = []
        if self.history_first and samples:
            samples, first = samples[: -self.history_first], samples[-self.history_first :]
            chunks.append(first)
        chunks += [
            samples[max(0, end - self.backlog_batch) : end] for end in range(len(samples), 0, -self.backlog_batch)
        ]
        for chunk in chunks:
            self.history_outbox.put(self.composer.history(chunk))
        self._history_due = False

    def tick(self) -> None:
        """Take the history (first tick) and the samples simulated time has
        reached, connect if due, publish."""
        now = self.clock.now()
        with self._lock:
            if self._history_due and self._state != "stopped":
                self._take_history()
            while self.next_sample <= now and self._state != "stopped":
                self._record(self.model.sample(self.next_sample))
                if self._booting:  # the boot reading; then the usual schedule
                    self._booting = False
                    self.next_sample = self.clock.start() + self.phase
                    if self.next_sample - self.clock.start() < timedelta(seconds=1):
                        self.next_sample += self.interval
                else:
                    self.next_sample += self.interval
        self._maybe_connect()
        self.pump()

    def _record(self, sample: Sample) -> None:
        self.last_sampled = sample.ts
        self.stats.samples += 1
        self.stats.counter_resets += sample.counter_reset
        if sample.status == "error" and (self.composer.last_status or ("",))[0] != "error":
            self.stats.light_errors += 1
        for message in self.composer.add(sample):
            self.outbox.put(message)

    def flush(self) -> None:
        """Queue the partial batch and a held-back reading (before a clean stop)."""
        with self._lock:
            for message in self.composer.flush():
                self.outbox.put(message)

    def _history_may_go(self) -> bool:
        """The first history message always; the later ones once `history_release` is set (if any)."""
        return self._history_taken == 0 or self.history_release is None or self.history_release.is_set()

    def pump(self) -> None:
        """Publish from the head of the outbox while connected and the window allows."""
        while True:
            with self._lock:
                if self._state != "connected" or len(self._inflight) >= self.max_inflight:
                    return
                taken = self.outbox.take(1)  # live first; history once the delay after connecting is over
                if not taken and time.monotonic() >= self._history_from and self._history_may_go():
                    taken = self.history_outbox.take(1)
                    if taken:
                        self._history_taken += 1
                    if taken and self.history_gap_s:
                        self._history_from = time.monotonic() + self.history_gap_s
                if not taken:
                    return
                message = taken[0]
                self._inflight[message.number] = message
                connection = self._connection
            try:
                from awscrt import mqtt

                future, _ = connection.publish(message.topic, message.payload, mqtt.QoS.AT_LEAST_ONCE)
            except Exception as exc:  # noqa: BLE001 - e.g. the connection is being torn down
                self._published(message, exc)
                return
            future.add_done_callback(lambda f, m=message: self._published(m, f.exception()))

    def _published(self, message: Message, exc: BaseException | None) -> None:
        with self._lock:
            if self._inflight.pop(message.number, None) is None:
                return
            if exc is None:
                self.stats.messages_sent += 1
                self.stats.readings_sent += message.readings
                self.stats.history_sent += message.readings if message.kind == "history" else 0
                self.stats.status_sent += message.kind == "status"
                self.stats.duplicates_injected += message.kind == "duplicate"
                self.stats.late_injected += message.kind == "late"
            else:
                self.stats.publish_failures += 1
                self._last_error = f"publish: {exc}"
                (self.history_outbox if message.kind == "history" else self.outbox).requeue([message])
        if exc is None:
            self.pump()

    def backlog(self) -> int:
        with self._lock:
            return len(self.outbox) + len(self.history_outbox) + len(self._inflight)

    def snapshot(self) -> DeviceStats:
        with self._lock:
            self.stats.backlog = len(self.outbox) + len(self.history_outbox) + len(self._inflight)
            self.stats.dropped = self.outbox.dropped + self.history_outbox.dropped
            return DeviceStats(**vars(self.stats))

    def stop(self, timeout_s: float = 5.0) -> None:
        """Disconnect (after `flush()` and draining, which the fleet does first)."""
        with self._lock:
            connection, was = self._connection, self._state
            self._state = "stopped"
            self.stats.connected = False
        if connection is not None and was in ("connected", "interrupted", "connecting"):
            try:
                connection.disconnect().result(timeout_s)
            except Exception as exc:  # noqa: BLE001 - already gone
                log.debug("%s: disconnect: %s", self.spec.name, exc)
