"""Street lights: DynamoDB requests per lights route for a city of lights, and
the time from a control to the lamp's confirmation through the local stack.

Table 1, requests per route (`requests`). AWS is moto, handlers run in-process
behind the API Gateway stand-in, exactly as bench/dynamodb.py does (same
recorder: bench.calls.CallRecorder through bench.dynamodb.Recorder). A city
of N street lights (200 in the full size, 20 in the small one) is registered
with POST /devices (setup, not counted); a tenth of them are put in auto
mode, every light reports a status once. Then each route of the lights group is
called once as the admin (GET /lights with ?city and without, summary, map,
GeoJSON map, detail, logs, usage, control, the lamp's HTTP status report),
the MQTT status path (DeviceEventsFunction's handler for one report) and one
LightScheduleFunction run are recorded (a run after the first: the
automatic lights already follow dusk/dawn, so it sends nothing; a run that
switches a light adds what POST /lights/{id}/control costs, per light). Baselines, measured in the same run
on the same devices: GET /devices?city= (the devices list, one page of the
same size as GET /lights) and the schedule's previous design (every light
through `by-type`, and all their states) for the schedule row.

How to read it: `DynamoDB requests` per call, `of which auth` as in the
DynamoDB table, `items read` is the number of items the DynamoDB responses
returned (Query Items + BatchGetItem Responses + GetItem Item), so the cost
of a list shows even where the request count is the same.

Table 2, control to confirmation (`latency`, full size only). The local stack
(python -m infrastructure.local, what `make run` runs, without its fleet) is
started on free ports (infrastructure.stack_process.LocalStackProcess); a
light is registered with POST /devices and connected over MQTT with mutual
TLS with its own certificate (infrastructure.simulator.device.connect_as_device,
the AWS IoT Device SDK's mtls_from_bytes, as tests/e2e/test_mqtt_flow.py
connects). For each of ROUNDS controls (on and off in turn, so each one
changes the lamp): the time from sending POST /lights/{id}/control to the
command arriving on the lamp's commands topic, and to the API showing the
command `confirmed` after the lamp published its status (GET /lights/{id}
polled every POLL_S, so figures are up to POLL_S late). Baseline in the same
run and connection: a plain MQTT round trip, the lamp publishing to its own
`$aws/things/<thing>/shadow/get` and receiving the first message back on
`$aws/things/<thing>/shadow/#` (the broker echoing it, or the shadow service
answering it). Median and p90 of each.
"""

from __future__ import annotations

import json
import statistics
import threading
import time

from bench.dynamodb import ADMIN, Call, Recorder, Session, summary
from bench.stack import mocked_stack
from bench.table import render
from infrastructure.simulator.device import connect_as_device

CITY = "Lisbon"
ROUNDS = 20
POLL_S = 0.02
SIZES = {"small": 20, "full": 200}


def _items_read(recorder: Recorder) -> int:
    total = 0
    for call in recorder.records:
        response = call.response or {}
        if call.service != "dynamodb":
            continue
        if "Items" in response:
            total += len(response["Items"])
        elif "Responses" in response:
            total += sum(len(items) for items in response["Responses"].values())
        elif response.get("Item"):
            total += 1
    return total


class LightsSession(Session):
    """bench.dynamodb.Session that also keeps the items each call read."""

    def __init__(self, client, recorder: Recorder):
        super().__init__(client, recorder)
        self.items: list[int] = []

    def _record(self, call: Call) -> None:
        super()._record(call)
        self.items.append(_items_read(self.recorder))


def _register(api: LightsSession, admin: str) -> dict:
    """One light registered and provisioned through POST /devices (setup, not counted)."""
    body = {
        "name": "Pole 0",
        "device_type": "light",
        "city": CITY,
        "latitude": 38.70,
        "longitude": -9.15,
        "address": "1 Avenida",
    }
    status, created = api.request("POST", "/devices", body, token=admin)
    if status != 201:
        raise RuntimeError(f"registering a light failed: {status} {created}")
    return created


def _clone_city(template_id: str, n: int, automatic: int) -> None:
    """N more lights of the same city, written as registration writes them
    (the record with its index keys, and a state item), without provisioning
    each one in IoT (setup, not counted): what the lists, summary, map and the
    schedule read is the same. The first `automatic` are in auto mode and
    already follow dusk/dawn (the schedule's steady state: nothing to send)."""
    import datetime as dt

    from gridpulse.devices.data import DeviceItem, DeviceStateItem
    from gridpulse.lights.schedule import should_be_on
    from gridpulse.telemetry.readings import iso_ms

    template = DeviceItem.get(DeviceItem.key(template_id), "meta")
    day_ago_ms = int(time.time() * 1000) - 86_400_000
    now = dt.datetime.now(dt.UTC)
    with DeviceItem.batch_write() as records, DeviceStateItem.batch_write() as states:
        for i in range(n):
            device_id = f"00000000-0000-4000-8000-{i:012d}"
            attrs = {k: v for k, v in template.attribute_values.items() if k not in ("pk", "sk")}
            lat, lon = 38.70 + (i % 20) * 0.001, -9.15 + (i // 20) * 0.001
            attrs.update(
                device_id=device_id,
                name=f"Pole {i + 1}",
                latitude=lat,
                longitude=lon,
                owner_sk=f"device#{template.created_at}#{device_id}",
                list_sk=f"{template.created_at}#{device_id}",
                thing_name=f"gp-{device_id}",
            )
            records.save(DeviceItem(DeviceItem.key(device_id), "meta", **attrs))
            auto = i < automatic
            status = ("on" if should_be_on(lat, lon, now) else "off") if auto else "off"
            state = DeviceStateItem(
                DeviceItem.key(device_id),
                "state",
                last_seen_epoch=day_ago_ms // 1000,
                light_status=status,
                light_status_at=day_ago_ms,
                light_report_at=day_ago_ms,
                light_mode="auto" if auto else "off",
                light_brightness=100,
            )
            if auto:
                state.light_auto = "auto"
                state.cmd_id, state.cmd_action, state.cmd_state = f"cmd-{i}", status, "confirmed"
                state.cmd_issued_ms, state.cmd_expect = day_ago_ms, status
                state.cmd_issued_at = state.cmd_settled_at = iso_ms(day_ago_ms)
            states.save(state)


def _previous_schedule_read() -> None:
    """What LightScheduleFunction read before the light-auto index: every
    light through `by-type` (100 a page), and all their states."""
    from gridpulse.devices.data import DeviceItem
    from gridpulse.dynamodb import intact
    from gridpulse.lights import service

    start = None
    while True:
        result = DeviceItem.by_type.query("light", limit=100, last_evaluated_key=start)
        service._states([d for d in intact(result, "device") if d.device_type == "light"])
        start = result.last_evaluated_key
        if not start:
            return


def requests_table(size: str) -> int:
    from werkzeug.test import Client

    from infrastructure.local.gateway import Gateway, load_functions

    n = SIZES[size]
    automatic = n // 10
    with mocked_stack() as stack:
        # Imported once the stack's environment is set: models read their table names at import.
        from gridpulse.accounts.users import ensure_admin
        from gridpulse.devices.presence import apply_light_status
        from gridpulse.lights import schedule

        recorder = Recorder()
        with recorder.installed():
            api = LightsSession(Client(Gateway(stack, load_functions(stack))), recorder)
            ensure_admin(*ADMIN)
            _, body = api.request("POST", "/auth/login", {"email": ADMIN[0], "password": ADMIN[1]})
            admin = (body or {}).get("token")
            light = _register(api, admin)
            _clone_city(light["device_id"], n - 1, automatic)
            one, key = light["device_id"], light["credentials"]["api_key"]
            thing = light["credentials"]["thing_name"]
            api.request("POST", f"/lights/{one}/status", {"status": "off"}, api_key=key)
            page = 100

            api.measure(
                f"GET /devices?city= (baseline, limit {page})", "GET", f"/devices?city={CITY}&limit={page}", token=admin
            )
            api.measure(f"GET /lights?city= (limit {page})", "GET", f"/lights?city={CITY}&limit={page}", token=admin)
            api.measure(f"GET /lights (admin, all cities, limit {page})", "GET", f"/lights?limit={page}", token=admin)
            api.measure(f"GET /lights/summary ({n} lights)", "GET", f"/lights/summary?city={CITY}", token=admin)
            api.measure("GET /lights/map (default page: up to 1000)", "GET", f"/lights/map?city={CITY}", token=admin)
            api.measure(
                "GET /lights/map?format=geojson (default page)",
                "GET",
                f"/lights/map?city={CITY}&format=geojson",
                token=admin,
            )
            api.measure("GET /lights/{id}", "GET", f"/lights/{one}", token=admin)
            api.measure("GET /lights/{id}/logs", "GET", f"/lights/{one}/logs", token=admin)
            api.measure("GET /lights/{id}/usage (7 days)", "GET", f"/lights/{one}/usage", token=admin)
            api.measure("POST /lights/{id}/control", "POST", f"/lights/{one}/control", {"action": "on"}, token=admin)
            api.measure(
                "POST /lights/{id}/status (X-API-Key)", "POST", f"/lights/{one}/status", {"status": "on"}, api_key=key
            )
            api.measure_background(
                "MQTT gridpulse/{thing}/status (DeviceEventsFunction)",
                lambda: apply_light_status({"thing_name": thing, "status": "off"}),
            )
            schedule.run()  # the first run switches the automatic lights to dusk/dawn (not counted)
            api.measure_background(
                f"LightScheduleFunction, a run ({automatic} of {n} automatic; light-auto index)", lambda: schedule.run()
            )
            api.measure_background(f"  baseline: previous design (all {n} lights, by-type)", _previous_schedule_read)

    print(
        f"DynamoDB requests per lights route (moto, handlers in-process; a city of {n} lights, {automatic} automatic)"
    )
    rows = [
        [
            ("! " if c.status != c.expected else "") + c.route,
            str(c.status),
            str(len(c.dynamodb)),
            str(len(c.auth)) if c.authenticated else "-",
            str(items),
            summary(c.dynamodb),
            summary(c.other),
        ]
        for c, items in zip(api.calls, api.items, strict=True)
    ]
    print(
        render(
            ["route", "status", "DynamoDB requests", "of which auth", "items read", "operations", "other AWS calls"],
            rows,
            right={1, 2, 3, 4},
        )
    )
    wrong = [c for c in api.calls if c.status != c.expected]
    for c in wrong:
        print(f"! {c.route}: status {c.status}, expected {c.expected}")
    return 1 if wrong else 0


# ---------------------------------------------------------------- control to confirmation


def _quantiles(values: list[float]) -> tuple[str, str]:
    if not values:
        return "-", "-"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return f"{statistics.median(ordered) * 1000:.0f}", f"{p90 * 1000:.0f}"


def latency_table(rounds: int = ROUNDS) -> int:
    import requests
    from awscrt import mqtt

    from infrastructure.stack_process import LocalStackProcess

    admin_login = ("bench-lights@gridpulse.example.com", "bench-lights-password-1")
    stack = LocalStackProcess(admin_login, GRIDPULSE_QUIET="1")
    failures = 0
    try:
        stack.wait_ready()
        http = requests.Session()

        def call(method: str, path: str, token: str | None = None, **kw):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return http.request(method, stack.base + path, headers=headers, timeout=30, **kw)

        token = call("POST", "/auth/login", json={"email": admin_login[0], "password": admin_login[1]}).json()["token"]
        body = {"name": "Bench pole", "device_type": "light", "city": "Braga", "latitude": 41.55, "longitude": -8.42}
        created = call("POST", "/devices", token, json=body).json()
        creds, light_id = created["credentials"], created["device_id"]
        connection = connect_as_device(creds)
        try:
            inbox: dict[str, threading.Event] = {}
            received: dict[str, float] = {}

            def on_command(topic, payload, **_):
                command = json.loads(payload)
                received[command["command_id"]] = time.perf_counter()
                # The lamp obeys and reports its new status, as the firmware does.
                status = "on" if command["action"] == "on" else "off"
                connection.publish(creds["topics"]["status"], json.dumps({"status": status}), mqtt.QoS.AT_LEAST_ONCE)
                inbox.setdefault(command["command_id"], threading.Event()).set()

            echoed = threading.Event()
            echo_at: list[float] = []

            def on_shadow(topic, payload, **_):
                echo_at.append(time.perf_counter())
                echoed.set()

            connection.subscribe(creds["topics"]["commands"], mqtt.QoS.AT_LEAST_ONCE, on_command)[0].result(10)
            shadow = f"$aws/things/{creds['thing_name']}/shadow"
            connection.subscribe(f"{shadow}/#", mqtt.QoS.AT_LEAST_ONCE, on_shadow)[0].result(10)

            to_lamp, to_confirmed, round_trip = [], [], []
            for n in range(rounds):
                echoed.clear()
                echo_at.clear()
                sent = time.perf_counter()
                connection.publish(f"{shadow}/get", "{}", mqtt.QoS.AT_LEAST_ONCE)
                if echoed.wait(10):
                    round_trip.append(echo_at[0] - sent)
                time.sleep(0.2)  # let stray shadow answers settle before the next sample
                action = "on" if n % 2 == 0 else "off"
                sent = time.perf_counter()
                response = call("POST", f"/lights/{light_id}/control", token, json={"action": action})
                if response.status_code != 200:
                    failures += 1
                    continue
                command_id = response.json()["command_id"]
                confirmed = None
                deadline = sent + 15
                while time.perf_counter() < deadline:
                    state = call("GET", f"/lights/{light_id}", token).json()["light"]["last_command"]
                    if state and state["command_id"] == command_id and state["state"] != "pending":
                        if state["state"] == "confirmed":
                            confirmed = time.perf_counter()
                        break
                    time.sleep(POLL_S)
                if command_id in received:
                    to_lamp.append(received[command_id] - sent)
                if confirmed is None:
                    failures += 1
                else:
                    to_confirmed.append(confirmed - sent)
        finally:
            connection.disconnect().result(10)
    finally:
        stack.stop()

    print(
        f"Control to the lamp's confirmation through the local stack ({rounds} controls, on and off in turn; "
        f"a light over MQTT with mutual TLS; ms)"
    )
    rows = [
        ["POST /lights/{id}/control -> command on the lamp's topic", *_quantiles(to_lamp), str(len(to_lamp))],
        ["POST /lights/{id}/control -> API shows it confirmed", *_quantiles(to_confirmed), str(len(to_confirmed))],
        ["baseline: MQTT publish -> receive, same broker and lamp", *_quantiles(round_trip), str(len(round_trip))],
    ]
    print(render(["path", "median ms", "p90 ms", "samples"], rows, right={1, 2, 3}))
    print(f"(confirmation polled every {POLL_S * 1000:.0f} ms: up to that much late)")
    if failures:
        print(f"! {failures} of {rounds} controls were not confirmed")
    return 1 if failures else 0


def run(size: str = "full") -> int:
    status = requests_table(size)
    if size == "full":
        print()
        status |= latency_table()
    return status


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.exit(run(sys.argv[1] if len(sys.argv) > 1 else "full"))
