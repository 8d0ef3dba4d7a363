"""The device simulator (infrastructure/simulator/): load model, batching and seq
numbers, payloads as ingestion validates them, store-and-forward, exactly-once
faults, the simulated clock, and the estate it provisions. Pure and fast: no
network (MQTT connections are fakes, the REST API is a recording stub)."""

from __future__ import annotations

import json
import random
import threading
from concurrent.futures import Future
from datetime import datetime, timedelta, timezone

import pytest

from gridpulse.devices.registry_schemas import DeviceIn, RoomDeviceIn
from gridpulse.sites.schemas import HotelIn, RoomIn, SectionIn
from gridpulse.telemetry.energy import interval, max_power_for
from gridpulse.telemetry.readings import KNOWN_FIELDS, MAX_BATCH, Reading, split_message, validate
from infrastructure.simulator import __main__ as cli
from infrastructure.simulator import provision
from infrastructure.simulator.device import Composer, DeviceSpec, Message, Outbox, SimulatedDevice, backoff_s
from infrastructure.simulator.fleet import ALL_FAULTS, FAULT_POSITIONS, Fleet, assign_faults, build_model, history_tiers
from infrastructure.simulator.model import BULB_FAILED, FaultPlan, LightModel, MeterModel, SimClock, solar_elevation

T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)  # a Monday, midnight UTC
STEP = timedelta(seconds=30)
LISBON = (38.7223, -9.1393)


def times(n: int, start: datetime = T0, step: timedelta = STEP) -> list[datetime]:
    return [start + i * step for i in range(n)]


def run(model, n: int, start: datetime = T0, step: timedelta = STEP):
    return [model.sample(ts) for ts in times(n, start, step)]


def compose(samples, batch_size=10, faults=FaultPlan(), status=False) -> list[Message]:
    composer = Composer("gridpulse/gp-x/telemetry", "gridpulse/gp-x/status" if status else None, batch_size, faults)
    out: list[Message] = []
    for sample in samples:
        out += composer.add(sample)
    return out + composer.flush()


def telemetry_readings(messages: list[Message]) -> list[dict]:
    return [r for m in messages if m.topic.endswith("/telemetry") for r in m.body()["readings"]]


# ---------------------------------------------------------------- the load model


def test_meter_model_is_deterministic_under_a_seed():
    def samples(seed):
        return run(MeterModel("h1/101", 5000, "Europe/Lisbon", seed=seed, faults=FaultPlan(counter_reset_at=50)), 500)

    assert samples(7) == samples(7)
    assert samples(7) != samples(8)
    light = [LightModel("l1", *LISBON, seed=3, error_prob=0.01).sample(ts) for ts in times(300)]
    again = [LightModel("l1", *LISBON, seed=3, error_prob=0.01).sample(ts) for ts in times(300)]
    assert light == again


@pytest.mark.parametrize("kind,rating", [("room", 3000), ("room", 7000), ("household", 6000)])
def test_meter_values_are_plausible(kind, rating):
    model = MeterModel(f"{kind}-1", rating, "Africa/Nairobi", kind=kind, seed=1, spike_prob=0.05)
    samples = run(model, 2880 * 3)  # three days
    assert any(s.spike for s in samples)
    for s in samples:
        assert 0 < s.power_w <= rating
        assert 207 <= s.voltage <= 253
        assert 0.90 <= s.power_factor <= 0.99
        assert 49.8 <= s.frequency <= 50.2
        assert 10 <= s.temperature <= 45
        assert s.current == pytest.approx(s.power_w / s.voltage / s.power_factor, abs=0.002)
    # The counter integrates power: its rise matches the trapezoid sum of power.
    integrated = sum((a.power_w + b.power_w) / 2 * 30 / 3600 / 1000 for a, b in zip(samples, samples[1:]))
    assert samples[-1].energy_kwh - samples[0].energy_kwh == pytest.approx(integrated, abs=0.001)


def test_counter_is_monotonic_except_the_one_configured_reset():
    model = MeterModel("h1/102", 4000, "Europe/Lisbon", seed=2, faults=FaultPlan(counter_reset_at=300))
    samples = run(model, 2000)
    drops = [i for i, (a, b) in enumerate(zip(samples, samples[1:]), start=1) if b.energy_kwh < a.energy_kwh]
    assert drops == [300]
    assert samples[300].counter_reset and sum(s.counter_reset for s in samples) == 1
    assert samples[299].energy_kwh > 50  # a meter with history ...
    assert samples[300].energy_kwh < 0.05  # ... back near 0
    # Ingestion counts the reset as what was counted since it, not as negative or impossible energy.
    before, after = (validate(samples[i].reading(i), 0, int(T0.timestamp() * 1000) + 10**8) for i in (299, 300))
    counted = interval(before, after, max_power_for(4000))
    assert counted.flag == "reset" and counted.kwh == samples[300].energy_kwh
    assert all(not s.counter_reset for s in run(MeterModel("h1/102", 4000, seed=2), 2000))


def test_daily_curve_is_higher_in_the_evening_than_at_4am():
    def mean_power(hour: int) -> float:
        total = n = 0
        for room in range(6):
            model = MeterModel(f"h1/{room}", 5000, "UTC", seed=11)
            for day in range(20):
                start = T0 + timedelta(days=day, hours=hour)
                for s in run(model, 40, start):  # 20 minutes from hour:00
                    total, n = total + s.power_w, n + 1
        return total / n

    evening, night, morning, afternoon = mean_power(20), mean_power(4), mean_power(7), mean_power(15)
    assert evening > 2 * night
    assert morning > night and evening > afternoon


def test_occupancy_switches_the_peaks_on_and_off():
    model = MeterModel("h2/305", 5000, "Europe/Lisbon", seed=5, occupancy_rate=0.5)
    evening_of = {}
    for day in range(40):
        ts = T0 + timedelta(days=day, hours=20)  # 20:00 in Lisbon (UTC+0 in March)
        evening_of[day] = (model.occupied(ts), model.expected_fraction(ts))
    occupied = [f for o, f in evening_of.values() if o]
    vacant = [f for o, f in evening_of.values() if not o]
    assert occupied and vacant
    assert min(occupied) > 3 * max(vacant)
    # Occupancy is a pure function of the date: guests stay from 15:00 to 11:00 the next day.
    night = T0 + timedelta(days=3, hours=22)
    assert model.occupied(night) == model.booked(night.date()) == model.occupied(night + timedelta(hours=10))
    households = MeterModel("p1", 6000, kind="household", seed=5)
    assert all(households.occupied(T0 + timedelta(hours=h)) for h in range(48))


def test_street_light_is_on_at_night_and_off_by_day_and_fails_once_as_configured():
    model = LightModel(
        "l1", *LISBON, rating_w=90, seed=4, error_prob=0.0, repair_after_s=3600, faults=FaultPlan(light_error_at=2000)
    )
    samples = run(model, 2880 * 2)
    by_time = {s.ts: s for s in samples}
    assert by_time[T0 + timedelta(hours=1)].status == "on"  # 01:00 in Lisbon
    assert by_time[T0 + timedelta(hours=13)].status == "off"  # 13:00
    assert by_time[T0 + timedelta(hours=1)].power_w > 80 > 1 > by_time[T0 + timedelta(hours=13)].power_w
    assert solar_elevation(T0 + timedelta(hours=13), *LISBON) > 30 > 0 > solar_elevation(T0, *LISBON)
    errors = [i for i, s in enumerate(samples) if s.status == "error"]
    assert errors[0] == 2000 and errors == list(range(2000, 2000 + 120))  # repaired an hour later
    assert {samples[i].error_details for i in errors} == {BULB_FAILED}
    assert all(s.power_w <= 90 for s in samples)
    assert all(s.error_details is None for s in samples if s.status != "error")


def test_lights_publish_status_changes_on_the_status_topic():
    model = LightModel("l2", *LISBON, seed=4, error_prob=0.0, faults=FaultPlan(light_error_at=100))
    messages = compose(run(model, 2880), status=True)
    statuses = [m.body() for m in messages if m.kind == "status"]
    assert all(m.topic == "gridpulse/gp-x/status" for m in messages if m.kind == "status")
    assert statuses[0] == {"status": "on"}  # midnight: the first sample reports
    assert {"status": "error", "error_details": BULB_FAILED} in statuses
    assert [s["status"] for s in statuses].count("error") == 1
    assert all(set(s) <= {"status", "error_details"} and s["status"] in ("on", "off", "error") for s in statuses)
    assert all(a != b for a, b in zip(statuses, statuses[1:]))  # only changes are sent
    assert {"status": "off"} in statuses


# ---------------------------------------------------------------- messages


def test_batches_carry_batch_size_readings_with_consecutive_seq_numbers():
    messages = compose(run(MeterModel("m", 4000, seed=1), 25), batch_size=10)
    assert [m.readings for m in messages] == [10, 10, 5]  # the last, partial batch on flush
    assert all(m.topic == "gridpulse/gp-x/telemetry" and m.kind == "telemetry" for m in messages)
    assert [m.number for m in messages] == [0, 1, 2]
    readings = telemetry_readings(messages)
    assert [r["seq"] for r in readings] == list(range(25))
    stamps = [r["timestamp"] for r in readings]
    assert stamps == sorted(stamps) and stamps[0] == "2026-03-02T00:00:00.000Z" and stamps[1].endswith(":30.000Z")
    assert all(set(m.body()) == {"readings"} for m in messages)


@pytest.mark.parametrize("batch_size", [1, 7, 10, MAX_BATCH])
def test_every_reading_validates_as_accepted_by_ingestion(batch_size):
    samples = run(
        MeterModel("h1/1", 7000, "Africa/Lagos", seed=9, spike_prob=0.2, faults=FaultPlan(counter_reset_at=30)), 1200
    )
    samples += run(MeterModel("p1", 9000, "Africa/Cairo", kind="household", seed=9), 600)
    samples_light = run(LightModel("l1", -33.92, 18.42, 150, seed=9, error_prob=0.01), 1200)
    received_ms = int((T0 + 1200 * STEP).timestamp() * 1000) + 1000
    faults = FaultPlan(duplicate_at=1, late_at=13, late_by=3)
    for messages in (compose(samples, batch_size, faults), compose(samples_light, batch_size, faults, status=True)):
        count = 0
        for message in messages:
            if message.kind == "status":
                continue
            readings, refused = split_message(json.loads(message.payload))
            assert refused is None and 1 <= len(readings) <= batch_size
            for i, raw in enumerate(readings):
                assert set(raw) <= KNOWN_FIELDS
                checked = validate(raw, i, received_ms)
                assert isinstance(checked, Reading), checked
                assert not checked.power_derived and checked.identity == f"t{checked.ts_ms}"
                count += 1
        assert count >= 1200


# ---------------------------------------------------------------- exactly-once faults


def test_duplicate_message_is_published_exactly_once_as_configured():
    messages = compose(run(MeterModel("m", 4000, seed=1), 100), faults=FaultPlan(duplicate_at=3))
    duplicates = [m for m in messages if m.kind == "duplicate"]
    assert len(duplicates) == 1
    telemetry = [m for m in messages if m.kind == "telemetry"]
    assert duplicates[0].payload == telemetry[3].payload
    assert messages.index(duplicates[0]) == messages.index(telemetry[3]) + 1  # published right after
    seqs = [r["seq"] for r in telemetry_readings(messages)]
    assert len(seqs) == 110 and sorted(set(seqs)) == list(range(100))
    assert not [m for m in compose(run(MeterModel("m", 4000, seed=1), 100)) if m.kind != "telemetry"]


@pytest.mark.parametrize("late_by", [0, 2, 5])
def test_late_reading_is_held_back_and_published_out_of_order_exactly_once(late_by):
    messages = compose(run(MeterModel("m", 4000, seed=1), 100), faults=FaultPlan(late_at=23, late_by=late_by))
    late = [m for m in messages if m.kind == "late"]
    assert len(late) == 1 and [r["seq"] for r in late[0].body()["readings"]] == [23]
    telemetry = [m for m in messages if m.kind == "telemetry"]
    own_batch = telemetry[2]  # seq 20..29 minus 23
    assert [r["seq"] for r in own_batch.body()["readings"]] == [20, 21, 22, 24, 25, 26, 27, 28, 29]
    position = messages.index(late[0])
    assert position == messages.index(own_batch) + late_by + 1  # after late_by later messages
    seqs = [r["seq"] for r in telemetry_readings(messages)]
    assert sorted(seqs) == list(range(100))  # every reading exactly once ...
    assert seqs != sorted(seqs)  # ... one of them out of order


def test_late_reading_still_held_at_stop_is_flushed():
    messages = compose(run(MeterModel("m", 4000, seed=1), 25), faults=FaultPlan(late_at=22, late_by=5))
    assert [m.kind for m in messages] == ["telemetry", "telemetry", "telemetry", "late"]
    assert sorted(r["seq"] for r in telemetry_readings(messages)) == list(range(25))


def test_faults_are_assigned_once_each_across_the_fleet():
    specs = [spec(f"d{i}", "room") for i in range(5)] + [
        spec("l0", "light"),
        spec("l1", "light"),
        spec("p0", "household"),
    ]
    plans = assign_faults(specs)
    assert sum(p.counter_reset_at is not None for p in plans.values()) == 1
    assert sum(p.duplicate_at is not None for p in plans.values()) == 1
    assert sum(p.late_at is not None for p in plans.values()) == 1
    assert sum(p.light_error_at is not None for p in plans.values()) == 1
    assert len(plans) == 4 and plans["l0"] == FAULT_POSITIONS["light_error"]
    assert assign_faults(specs, []) == {}
    assert set(assign_faults(specs, ["duplicate"])) == {"d0"}
    with pytest.raises(ValueError):
        assign_faults(specs, ["meltdown"])
    assert set(ALL_FAULTS) == set(FAULT_POSITIONS)


# ---------------------------------------------------------------- store-and-forward


def msg(n: int) -> Message:
    return Message("t", b"{}", n)


def test_outbox_keeps_order_and_drops_the_oldest_when_full(caplog):
    box = Outbox(capacity=5, name="dev")
    for n in range(8):
        box.put(msg(n))
    assert len(box) == 5 and box.dropped == 3
    assert "buffer full" in caplog.text
    assert [m.number for m in box.take(2)] == [3, 4]
    assert [m.number for m in box.take(10)] == [5, 6, 7]
    assert box.take() == []


def test_outbox_requeue_puts_failed_messages_back_at_the_head_in_order():
    box = Outbox(capacity=10)
    for n in range(6):
        box.put(msg(n))
    taken = box.take(3)
    box.put(msg(6))
    box.requeue([taken[2], taken[0]])  # 0 and 2 failed, 1 was acknowledged
    assert [m.number for m in box.snapshot()] == [0, 2, 3, 4, 5, 6]
    small = Outbox(capacity=3)
    for n in range(3):
        small.put(msg(n))
    first = small.take(2)
    small.put(msg(3))
    small.put(msg(4))
    small.requeue(first)  # overflow: the oldest go
    assert [m.number for m in small.snapshot()] == [2, 3, 4] and small.dropped == 2


class FakeConnection:
    """Stands in for awscrt's mqtt.Connection: the test completes the futures."""

    def __init__(self, fail_connects: int = 0):
        self.fail_connects = fail_connects
        self.connects = 0
        self.published: list[tuple[str, bytes, Future]] = []
        self.subscriptions: list[tuple[str, object]] = []  # (topic, callback)
        self.lock = threading.Lock()

    def connect(self):
        self.connects += 1
        future = Future()
        if self.connects <= self.fail_connects:
            future.set_exception(ConnectionRefusedError("broker down"))
        else:
            future.set_result({"session_present": False})
        return future

    def publish(self, topic, payload, qos):
        future = Future()
        with self.lock:
            self.published.append((topic, payload, future))
        return future, len(self.published)

    def subscribe(self, topic, qos, callback):
        self.subscriptions.append((topic, callback))
        future = Future()
        future.set_result({"qos": qos})
        return future, len(self.subscriptions)

    def disconnect(self):
        future = Future()
        future.set_result(None)
        return future

    def ack(self, upto: int | None = None, error: Exception | None = None) -> int:
        """Complete pending publishes (oldest first); returns how many."""
        with self.lock:
            pending = [f for _, _, f in self.published if not f.done()][:upto]
        for future in pending:
            future.set_exception(error) if error else future.set_result(None)
        return len(pending)

    def seqs(self) -> list[int]:
        return [
            r["seq"]
            for t, p, f in self.published
            if f.done() and not f.exception()
            for r in json.loads(p).get("readings", [])
        ]


class ManualClock(SimClock):
    def __init__(self, start: datetime):
        super().__init__(1.0, 0.0, wall=lambda: start.timestamp())
        self.t = start

    def now_epoch(self) -> float:
        return self.t.timestamp()


def spec(device_id: str, kind: str = "room") -> DeviceSpec:
    return DeviceSpec(
        device_id=device_id,
        name=device_id,
        kind=kind,
        device_type="meter",
        thing_name=f"gp-{device_id}",
        endpoint="127.0.0.1",
        topics={},
        certificate_pem="",
        private_key="",
        ca_pem="",
        key=device_id,
        power_rating_w=4000,
        latitude=LISBON[0],
        longitude=LISBON[1],
    )


def make_device(connection: FakeConnection, **kw) -> tuple[SimulatedDevice, ManualClock]:
    clock = ManualClock(T0)
    device = SimulatedDevice(
        spec("d1"),
        MeterModel("d1", 4000, seed=1),
        clock,
        sample_interval_s=30,
        batch_size=5,
        connection_factory=lambda: connection,
        **kw,
    )
    return device, clock


def test_a_simulated_light_follows_commands_and_reports_the_change():
    """What `make run`'s lights do with POST /lights/{id}/control: the command
    arrives on gridpulse/{thing}/commands, the lamp switches and says so on its
    status topic at once, with the command's id, and reports its shadow; a
    command it cannot follow, or one older than the last it applied, changes nothing."""
    connection = FakeConnection()
    clock = ManualClock(T0 + timedelta(hours=13))  # 13:00 in Lisbon: the photocell keeps it off
    light = LightModel("l1", *LISBON, rating_w=90, seed=4, error_prob=0.0)
    device = SimulatedDevice(
        spec("l1", "light"), light, clock, sample_interval_s=30, batch_size=5, connection_factory=lambda: connection
    )

    def statuses() -> list[dict]:
        return [json.loads(p) for t, p, _ in connection.published if t == "gridpulse/gp-l1/status"]

    def reported() -> list[dict]:
        return [
            json.loads(p)["state"]["reported"]["light"]
            for t, p, _ in connection.published
            if t == "$aws/things/gp-l1/shadow/update"
        ]

    clock.t += timedelta(minutes=1)
    device.tick()
    assert statuses() == [{"status": "off"}]
    handlers = dict(connection.subscriptions)
    assert sorted(handlers) == [
        "$aws/things/gp-l1/shadow/get/accepted",
        "$aws/things/gp-l1/shadow/get/rejected",
        "$aws/things/gp-l1/shadow/update/delta",
        "gridpulse/gp-l1/commands",
    ]
    assert [t for t, _, _ in connection.published if t.endswith("/shadow/get")] == ["$aws/things/gp-l1/shadow/get"]
    topic, on_command = "gridpulse/gp-l1/commands", handlers["gridpulse/gp-l1/commands"]

    clock.t += timedelta(seconds=1)
    on_command(
        topic=topic, payload=json.dumps({"command_id": "c1", "seq": 1, "action": "on", "brightness": 40}).encode()
    )
    assert statuses() == [{"status": "off"}, {"status": "on", "command_id": "c1"}]
    assert reported()[-1] == {"action": "on", "brightness": 40, "seq": 1, "command_id": "c1"}
    clock.t += timedelta(minutes=5)
    device.tick()
    device.flush()
    device.pump()
    readings = [r for t, p, _ in connection.published if t.endswith("/telemetry") for r in json.loads(p)["readings"]]
    assert 30 < readings[-1]["power_w"] <= 36  # 40 % of 90 W

    for bad in (b"not json", b'{"action": "dance"}', b'{"action": "off", "brightness": 101}', b"[1]"):
        on_command(topic=topic, payload=bad)
    on_command(topic=topic, payload=b'{"command_id": "c0", "seq": 1, "action": "off"}')  # not newer: ignored
    assert statuses()[-1] == {"status": "on", "command_id": "c1"} and device.snapshot().commands == 1

    clock.t += timedelta(seconds=1)
    on_command(topic=topic, payload=b'{"command_id": "c2", "seq": 2, "action": "auto"}')  # back to the photocell: day
    assert statuses()[-1] == {"status": "off", "command_id": "c2"} and device.snapshot().commands == 2


def test_a_simulated_light_takes_the_desired_state_from_its_shadow_on_connect_and_from_deltas():
    connection = FakeConnection()
    clock = ManualClock(T0 + timedelta(hours=13))
    light = LightModel("l1", *LISBON, rating_w=90, seed=4, error_prob=0.0)
    device = SimulatedDevice(
        spec("l1", "light"), light, clock, sample_interval_s=30, batch_size=5, connection_factory=lambda: connection
    )
    clock.t += timedelta(minutes=1)
    device.tick()
    handlers = dict(connection.subscriptions)
    document = {"state": {"desired": {"light": {"action": "on", "brightness": 80, "command_id": "c7", "seq": 7}}}}
    clock.t += timedelta(seconds=1)
    handlers["$aws/things/gp-l1/shadow/get/accepted"](topic="", payload=json.dumps(document).encode())
    assert light.mode == "on" and light.brightness == 80 and light.seq == 7
    status = [json.loads(p) for t, p, _ in connection.published if t == "gridpulse/gp-l1/status"][-1]
    assert status == {"status": "on", "command_id": "c7"}

    delta = {"version": 9, "state": {"light": {"action": "off", "command_id": "c8", "seq": 8}}}  # brightness unchanged
    clock.t += timedelta(seconds=1)
    handlers["$aws/things/gp-l1/shadow/update/delta"](topic="", payload=json.dumps(delta).encode())
    assert light.mode == "off" and light.brightness == 80
    updates = [json.loads(p) for t, p, _ in connection.published if t == "$aws/things/gp-l1/shadow/update"]
    assert updates[-1] == {
        "state": {"reported": {"light": {"action": "off", "brightness": 80, "seq": 8, "command_id": "c8"}}}
    }

    handlers["$aws/things/gp-l1/shadow/get/rejected"](topic="", payload=b'{"code": 404}')  # no shadow: it reports
    assert len([t for t, _, _ in connection.published if t.endswith("/shadow/update")]) == len(updates) + 1


def test_device_buffers_while_interrupted_and_uploads_the_backlog_in_order():
    connection = FakeConnection()
    device, clock = make_device(connection, max_inflight=3)
    clock.t = T0 + timedelta(minutes=5)  # 10 samples -> 2 messages
    device.tick()
    assert device.state == "connected" and len(connection.published) == 2
    connection.ack()
    device._on_interrupted(connection, RuntimeError("hang-up"))
    clock.t += timedelta(minutes=30)  # 60 samples while offline
    device.tick()
    assert device.state == "interrupted" and len(connection.published) == 2
    assert device.snapshot().backlog == 12
    device._on_resumed(connection, 0, False)
    assert len(connection.published) == 5  # the window: 3 in flight
    while connection.ack():
        pass
    stats = device.snapshot()
    assert stats.backlog == 0 and stats.messages_sent == 14 and stats.readings_sent == 70
    assert connection.seqs() == list(range(70))  # in order, nothing lost
    assert stats.interruptions == stats.resumes == 1


def test_failed_publishes_go_back_to_the_head_and_are_retried():
    connection = FakeConnection()
    device, clock = make_device(connection, max_inflight=2)
    clock.t = T0 + timedelta(minutes=10)  # 4 messages
    device.tick()
    assert connection.ack(error=TimeoutError("no PUBACK")) == 2
    assert device.snapshot().publish_failures == 2 and device.snapshot().backlog == 4
    device.tick()
    while connection.ack():
        pass
    assert connection.seqs() == list(range(20))
    assert device.snapshot().messages_sent == 4


def test_first_connect_is_retried_with_backoff():
    connection = FakeConnection(fail_connects=2)
    device, clock = make_device(connection, reconnect_max_s=0.1)
    device.tick()
    assert device.state == "idle" and device.snapshot().connect_failures == 1
    assert "broker down" in device.last_error
    for _ in range(200):
        device.tick()
        if device.state == "connected":
            break
        threading.Event().wait(0.01)
    assert device.state == "connected" and connection.connects == 3


def test_backoff_has_full_jitter_and_a_cap():
    rng = random.Random(1)
    delays = [backoff_s(5, 1.0, 16.0, rng) for _ in range(200)]
    assert all(0.1 <= d <= 16.0 for d in delays) and max(delays) > 12 and min(delays) < 4
    assert all(backoff_s(0, 1.0, 60.0, rng) <= 1.0 for _ in range(50))
    assert all(backoff_s(40, 1.0, 60.0, rng) <= 60.0 for _ in range(50))


def test_fleet_runs_devices_and_stops_cleanly():
    connections: dict[str, FakeConnection] = {}

    def factory(s: DeviceSpec) -> FakeConnection:
        connection = connections[s.device_id] = AutoAck()
        return connection

    specs = [spec("a"), spec("b"), spec("l", "light")]
    fleet = Fleet(
        specs,
        speed=3600,
        backfill_s=6 * 3600,
        batch_size=10,
        tick_s=0.01,
        progress_s=0,
        drain_s=2,
        connection_factory=factory,
        log=lambda line: None,
    )
    fleet.start()
    assert not fleet.wait(0.3)
    final = fleet.stop()
    assert fleet.wait(0) and not final.running
    assert final.devices == 3 and final.connected == 0 and final.backlog == 0
    assert final.samples > 0 and final.readings_sent == final.samples + final.duplicates_injected * 10
    for device_id, connection in connections.items():
        seqs = sorted(set(connection.seqs()))
        assert seqs == list(range(len(seqs)))  # nothing lost
    assert fleet.stop() == fleet.stats()  # idempotent


class AutoAck(FakeConnection):
    def publish(self, topic, payload, qos):
        future, n = super().publish(topic, payload, qos)
        future.set_result(None)
        return future, n


# ---------------------------------------------------------------- simulated time


def test_sim_clock_runs_fast_through_the_recent_past_and_never_ahead_of_the_wall():
    wall = [1_000_000.0]
    clock = SimClock(speed=60, backfill_s=3600, wall=lambda: wall[0])
    assert clock.now_epoch() == 1_000_000.0 - 3600
    wall[0] += 30
    assert clock.now_epoch() == 1_000_000.0 - 3600 + 1800
    wall[0] += 32  # caught up after 3600/59 s: real time from here
    assert clock.now_epoch() == wall[0] and clock.caught_up()
    wall[0] += 100
    assert clock.now_epoch() == wall[0]
    assert SimClock.backfill_for(60, 30) == 59 * 30  # ends exactly at "now"
    assert SimClock.backfill_for(60, 0) == 24 * 3600
    assert SimClock.backfill_for(1, 30) == 0
    with pytest.raises(ValueError):
        SimClock(speed=0.5)


def test_fleet_defaults_to_a_backfill_that_ends_at_now():
    fleet = Fleet([spec("a")], speed=60, duration_s=30, connection_factory=lambda s: FakeConnection())
    assert fleet.clock.wall_start - fleet.clock.sim_start == pytest.approx(59 * 30)
    assert isinstance(build_model(spec("l", "light"), 0, FaultPlan()), LightModel)


# ---------------------------------------------------------------- provisioning and CLI


class RecordingApi:
    """Answers like the GridPulse API; records every call."""

    def __init__(self, base_url, *args, **kwargs):
        self.calls: list[tuple[str, str, dict | None]] = []
        RecordingApi.last = self

    def login(self, email, password):
        self.calls.append(("POST", "/auth/login", {"email": email, "password": password}))

    def call(self, method, path, body=None, expect=(200, 201)):
        self.calls.append((method, path, body))
        n = len(self.calls)
        if path == "/hotels":
            return {"hotel_id": f"hotel{n}"}
        if path.endswith("/sections"):
            return {"section_id": f"section{n}"}
        if path.endswith("/rooms"):
            return {"room_id": f"room{n}"}
        device_type = body.get("device_type", "meter")
        thing = f"gp-dev{n}"
        credentials = {
            "api_key": "k",
            "certificate_pem": "C",
            "private_key": "K",
            "ca_pem": "CA",
            "iot_endpoint": "iot.example.com",
            "thing_name": thing,
            "topics": {"telemetry": f"gridpulse/{thing}/telemetry", "status": f"gridpulse/{thing}/status"},
        }
        if n % 2:
            credentials["mqtt_port"] = 1883 + n
        return {
            "device_id": f"dev{n}",
            "name": body.get("name") or body.get("device_name"),
            "device_type": device_type,
            "credentials": credentials,
        }


def test_provisioning_creates_the_estate_through_the_api(monkeypatch):
    monkeypatch.setattr(provision, "Api", RecordingApi)
    plan = provision.EstatePlan(hotels=2, floors=3, rooms=4, lights=4, households=2, seed=3)
    specs = provision.provision_estate("http://api", "admin@example.com", "pw", plan)
    calls = RecordingApi.last.calls
    assert calls[0] == ("POST", "/auth/login", {"email": "admin@example.com", "password": "pw"})
    assert len(specs) == plan.device_count == 30
    assert [s.kind for s in specs].count("room") == 24
    bodies = {path: [b for m, p, b in calls if p == path] for path in ("/hotels", "/devices")}
    for body in bodies["/hotels"]:
        HotelIn(**body)
    for method, path, body in calls[1:]:
        if path.endswith("/sections"):
            SectionIn(**body)
        elif path.endswith("/rooms"):
            RoomIn(**body)
        elif path.startswith("/rooms/"):
            assert RoomDeviceIn(**body).device_type == "meter" and 3000 <= body["power_rating_w"] <= 7000
    devices = [DeviceIn(**b) for b in bodies["/devices"]]
    lights = [d for d in devices if d.device_type == "light"]
    households = [d for d in devices if d.device_type == "meter"]
    assert len(lights) == 4 and all(d.city and d.latitude is not None and d.longitude is not None for d in lights)
    assert len(households) == 2 and not any(d.provider or d.external_id for d in households)
    rooms = [b["room_number"] for m, p, b in calls if p.endswith("/rooms")]
    assert rooms[:4] == ["101", "102", "103", "104"] and len(set(rooms)) == 12
    assert {s.port for s in specs} - {8883} and 8883 in {s.port for s in specs}  # mqtt_port when given, else 8883
    assert all(s.endpoint == "iot.example.com" and s.telemetry_topic.endswith("/telemetry") for s in specs)
    override = provision.provision_estate(
        "http://api",
        "a@b.c",
        "pw",
        provision.EstatePlan(
            hotels=1, floors=1, rooms=1, lights=0, households=0, mqtt_host="127.0.0.1", mqtt_port=18883
        ),
    )
    assert [(s.endpoint, s.port) for s in override] == [("127.0.0.1", 18883)]


def test_cli_arguments():
    args = cli.parse_args(
        [
            "--api",
            "http://127.0.0.1:3000",
            "--admin-email",
            "a@b.c",
            "--admin-password",
            "pw",
            "--hotels",
            "1",
            "--floors",
            "2",
            "--rooms",
            "3",
            "--lights",
            "0",
            "--households",
            "0",
            "--speed",
            "60",
            "--duration",
            "30",
        ]
    )
    assert (args.hotels, args.floors, args.rooms, args.lights, args.households) == (1, 2, 3, 0, 0)
    assert (args.speed, args.duration, args.interval, args.batch) == (60, 30, 30, 10)
    with pytest.raises(SystemExit):
        cli.parse_args(["--speed", "0.5"])
    with pytest.raises(SystemExit):
        cli.parse_args(["--batch", str(MAX_BATCH + 1)])


# ---------------------------------------------------------------- history backfill, live first


def test_history_tiers_are_three_weeks_of_hours_and_coarse_older_days():
    """Three weeks hourly: a forecast's model trains on 14 days and is backtested on 7."""
    assert history_tiers(0) == ()
    assert history_tiers(1) == ((86400, 3600),)
    assert history_tiers(14) == ((14 * 86400, 3600),)
    assert history_tiers(30) == ((21 * 86400, 3600), (30 * 86400, 6 * 3600))


def test_history_is_uploaded_newest_first_after_the_boot_reading():
    connection = AutoAck()
    clock = ManualClock(T0)
    device = SimulatedDevice(
        spec("d1"),
        MeterModel("d1", 4000, seed=1, faults=FaultPlan(counter_reset_at=3)),
        clock,
        sample_interval_s=30,
        batch_size=5,
        connection_factory=lambda: connection,
        history=((2 * 86400, 3600), (4 * 86400, 6 * 3600)),
        backlog_batch=30,
        history_delay_s=0,
        report_at_start=True,
    )
    device.tick()  # at start: the boot reading, then the history
    bodies = [json.loads(p) for _, p, _ in connection.published]
    live, *history = bodies
    assert live["readings"][0]["timestamp"].startswith(T0.isoformat()[:19]) and len(live["readings"]) == 1
    assert live["readings"][0]["seq"] == 0
    # 2 days hourly (48) and the 2 days before every 6 hours (8): newest message first, 30 a message.
    assert [len(b["readings"]) for b in history] == [30, 26]
    stamps = [[datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")) for r in b["readings"]] for b in history]
    assert stamps[0][-1] > stamps[1][-1] and all(s == sorted(s) for s in stamps)
    past = sorted(t for message in stamps for t in message)
    assert past[0] >= T0 - timedelta(days=4) and past[-1] < T0
    gaps = [b - a for a, b in zip(past, past[1:])]
    assert gaps.count(timedelta(hours=6)) == 8 and gaps.count(timedelta(hours=1)) == 47
    readings = [r for b in history for r in b["readings"]]
    assert all("seq" not in r for r in readings)  # identified by their timestamps
    assert all(isinstance(validate(r, 0, int(T0.timestamp() * 1000)), Reading) for r in readings)
    counters = [r["energy_kwh"] for r in sorted(readings, key=lambda r: r["timestamp"])]
    assert counters == sorted(counters) and counters[-1] <= live["readings"][0]["energy_kwh"]  # no fault in history
    stats = device.snapshot()
    assert stats.history_sent == 56 and stats.readings_sent == 57 and stats.backlog == 0
    clock.t = T0 + timedelta(minutes=3)  # then batches of 5 on the usual schedule
    device.tick()
    later = [json.loads(p) for _, p, _ in connection.published[3:]]
    assert [len(b["readings"]) for b in later] == [5] and [r["seq"] for r in later[0]["readings"]] == [1, 2, 3, 4, 5]
    assert device.snapshot().counter_resets == 1  # the fault lands in the live stream


def test_live_messages_go_before_history_and_history_waits_for_the_delay():
    connection = AutoAck()
    clock = ManualClock(T0)
    device = SimulatedDevice(
        spec("d1"),
        MeterModel("d1", 4000, seed=1),
        clock,
        sample_interval_s=30,
        batch_size=5,
        connection_factory=lambda: connection,
        history=history_tiers(1),
        history_delay_s=60,
        report_at_start=True,
    )
    device.tick()
    assert [json.loads(p)["readings"][0].get("seq") for _, p, _ in connection.published] == [0]
    assert device.snapshot().backlog == 1  # the history waits
    device._history_from = 0  # the delay is over
    device.pump()
    assert device.snapshot().history_sent == 24 and device.snapshot().backlog == 0


def test_the_first_history_message_is_the_newest_hours_and_the_rest_waits_for_the_release():
    """The local stack's first minute: every meter's newest 52 hours (what a forecast
    needs) go alone, and the weeks before wait until they are stored."""
    connection = AutoAck()
    release = threading.Event()
    device = SimulatedDevice(
        spec("d1"),
        MeterModel("d1", 4000, seed=1),
        ManualClock(T0),
        sample_interval_s=30,
        connection_factory=lambda: connection,
        history=history_tiers(7),
        backlog_batch=96,
        history_delay_s=0,
        history_first=52,
        history_release=release,
        report_at_start=True,
    )
    device.tick()
    _, first = [json.loads(p) for _, p, _ in connection.published]
    stamps = [datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")) for r in first["readings"]]
    assert len(stamps) == 52 and stamps[-1] > T0 - timedelta(hours=1) and stamps[0] > T0 - timedelta(hours=53)
    assert device.snapshot().history_sent == 52 and device.snapshot().backlog == 2  # 116 older hours held
    device.pump()
    assert len(connection.published) == 2
    release.set()
    device.pump()
    older = [json.loads(p)["readings"] for _, p, _ in connection.published[2:]]
    assert [len(r) for r in older] == [96, 20]  # then newest first, 96 a message
    assert older[0][-1]["timestamp"] < first["readings"][0]["timestamp"]
    assert device.snapshot().history_sent == 7 * 24 and device.snapshot().backlog == 0


def test_a_fleet_passes_its_history_settings_to_every_device():
    fleet = Fleet(
        [spec("a"), spec("l", "light")],
        history=history_tiers(1),
        history_delay_s=0,
        report_at_start=True,
        connection_factory=lambda s: AutoAck(),
        tick_s=0.01,
        progress_s=0,
        log=lambda line: None,
    )
    fleet.start()
    try:
        for _ in range(300):
            if fleet.stats().history_sent == 48:
                break
            threading.Event().wait(0.01)
    finally:
        final = fleet.stop(drain_s=1)
    assert final.history_sent == 48 and "history 48" in final.line()
