"""Street lights (#12): city lists through the light-city index, summary,
map and GeoJSON, control (shadow desired state + MQTT command), confirmation
by the lamp's status report, failure after the time limit, logs, scope and
bad input."""

from __future__ import annotations

import json

import boto3
import pytest

from gridpulse.devices import messaging


@pytest.fixture
def published(monkeypatch):
    """What the platform publishes over MQTT (IoT data plane Publish)."""
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(messaging, "publisher", lambda topic, payload, qos: sent.append((topic, json.loads(payload))))
    return sent


def _light(api, token, name, city, lat=38.72, lon=-9.14, **extra):
    body = {"name": name, "device_type": "light", "city": city, "latitude": lat, "longitude": lon, **extra}
    return api.create("/devices", {**body, "address": f"{name} street"}, token)


def _report(api, light, status, **extra):
    return api.post(
        f"/lights/{light['device_id']}/status",
        {"status": status, **extra},
        headers={"X-API-Key": light["credentials"]["api_key"]},
    )


@pytest.fixture
def city(api, admin_token):
    """Two lights in Lisbon, one in Porto, a meter in Lisbon; staff of Lisbon."""
    lisbon = [_light(api, admin_token, "Pole 1", "Lisbon"), _light(api, admin_token, "Pole 2", "lisbon")]
    porto = _light(api, admin_token, "Pole 9", "Porto", lat=41.15, lon=-8.61)
    api.create("/devices", {"name": "meter", "device_type": "meter", "city": "Lisbon"}, admin_token)
    operator = api.user(admin_token, "op@example.com", "operator", cities=["Lisbon"], city="Lisbon")
    viewer = api.user(admin_token, "view@example.com", "viewer", cities=["Lisbon"], city="Lisbon")
    return {"lisbon": lisbon, "porto": porto, "operator": operator, "viewer": viewer, "admin": admin_token}


def _ids(page):
    return {item["light_id"] for item in page["items"]}


def test_lights_are_listed_by_city_through_the_index_and_scoped(api, city, dynamodb_calls):
    lisbon_ids = {light["device_id"] for light in city["lisbon"]}
    dynamodb_calls.clear()
    status, page = api.get("/lights", token=city["viewer"])  # default: the caller's city
    assert status == 200 and _ids(page) == lisbon_ids
    assert ("dynamodb", "Query") in dynamodb_calls.calls
    light = next(i for i in page["items"] if i["name"] == "Pole 1")
    assert light["status"] == "unknown" and light["city"] == "Lisbon" and light["latitude"] == 38.72
    assert light["is_automatic"] is False and light["brightness"] == 100 and light["last_command"] is None
    # Another city is out of the viewer's scope: nothing there, not even a count.
    assert api.get("/lights", token=city["viewer"], query={"city": "Porto"})[1]["items"] == []
    status, body = api.get("/lights/summary", token=city["viewer"], query={"city": "Porto"})
    assert status == 404 and body["error"] == "city_not_found"
    assert api.get(f"/lights/{city['porto']['device_id']}", token=city["viewer"])[0] == 404
    # An admin without a city sees every light; with ?city, that city's.
    assert _ids(api.get("/lights", token=city["admin"])[1]) == lisbon_ids | {city["porto"]["device_id"]}
    assert _ids(api.get("/lights", token=city["admin"], query={"city": "PORTO"})[1]) == {city["porto"]["device_id"]}


def test_paging_and_status_filter(api, city):
    first = api.get("/lights", token=city["admin"], query={"limit": 2})[1]
    assert first["count"] == 2 and first["next_token"]
    second = api.get("/lights", token=city["admin"], query={"limit": 2, "next_token": first["next_token"]})[1]
    assert _ids(first) | _ids(second) == {light["device_id"] for light in [*city["lisbon"], city["porto"]]}
    _report(api, city["lisbon"][0], "on")
    on = api.get("/lights", token=city["operator"], query={"status": "on"})[1]
    assert _ids(on) == {city["lisbon"][0]["device_id"]}


def test_summary_counts_stored_state(api, city):
    a, b = city["lisbon"]
    assert _report(api, a, "on")[0] == 200
    assert _report(api, b, "error", error_details="Bulb failed")[0] == 200
    status, summary = api.get("/lights/summary", token=city["operator"], query={"city": "Lisbon"})
    assert status == 200
    assert summary["city"] == "Lisbon" and summary["total_lights"] == 2
    assert (summary["lights_on"], summary["lights_off"], summary["lights_in_error"]) == (1, 0, 1)
    assert summary["lights_offline"] == 0  # both reported just now (a report counts as being heard from)
    assert summary["last_updated"]
    assert api.get("/lights/summary", token=city["admin"], query={"city": "Atlantis"})[1]["error"] == "city_not_found"


def test_map_and_geojson(api, city):
    status, body = api.get("/lights/map", token=city["viewer"])
    assert status == 200 and body["count"] == 2
    assert {"light_id", "name", "location", "status"} <= set(body["items"][0])
    assert body["items"][0]["location"] == {"latitude": 38.72, "longitude": -9.14}
    response = api.client.get(
        "/lights/map", query_string={"format": "geojson"}, headers={"Authorization": f"Bearer {city['viewer']}"}
    )
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/geo+json")
    geo = json.loads(response.get_data())
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == 2
    feature = geo["features"][0]
    assert feature["type"] == "Feature" and feature["geometry"] == {"type": "Point", "coordinates": [-9.14, 38.72]}
    assert feature["properties"]["status"] == "unknown"


def test_control_writes_the_shadow_publishes_the_command_and_is_confirmed(api, city, published):
    light = city["lisbon"][0]
    light_id, thing = light["device_id"], light["credentials"]["thing_name"]
    status, out = api.post(f"/lights/{light_id}/control", {"action": "on", "brightness": 70}, token=city["operator"])
    assert status == 200, out
    assert out["light_id"] == light_id and out["status"] == "on" and out["brightness"] == 70
    assert out["is_automatic"] is False and out["command_id"]
    shadow = json.loads(boto3.client("iot-data").get_thing_shadow(thingName=thing)["payload"].read())
    assert shadow["state"]["desired"]["light"] == {
        "action": "on",
        "brightness": 70,
        "command_id": out["command_id"],
        "seq": 1,
    }
    [(topic, command)] = published
    assert topic == f"gridpulse/{thing}/commands"
    assert command["command_id"] == out["command_id"] and command["action"] == "on" and command["brightness"] == 70
    assert command["issued_at"].endswith("Z") and command["seq"] == 1

    detail = api.get(f"/lights/{light_id}", token=city["viewer"])[1]
    assert detail["light"]["last_command"]["state"] == "pending"
    assert detail["light"]["last_command"]["command_id"] == out["command_id"]
    # The map shows it pending too (the dashboard colours such a marker), and the light's city.
    [on_map] = [i for i in api.get("/lights/map", token=city["viewer"])[1]["items"] if i["light_id"] == light_id]
    assert on_map["last_command"]["state"] == "pending" and on_map["city"] == "Lisbon"

    assert _report(api, light, "on")[0] == 200  # no command id: a spontaneous change, confirms nothing
    assert api.get(f"/lights/{light_id}", token=city["viewer"])[1]["light"]["last_command"]["state"] == "pending"
    assert _report(api, light, "on", command_id=out["command_id"])[0] == 200
    detail = api.get(f"/lights/{light_id}", token=city["viewer"])[1]
    assert detail["light"]["status"] == "on" and detail["light"]["last_command"]["state"] == "confirmed"
    assert detail["light"]["brightness"] == 70 and detail["light"]["last_seen"]
    # Both entries, newest first: the lamp's status change, then the operator's control.
    logs = detail["recent_logs"]
    assert [entry["control_type"] for entry in logs] == ["device", "manual"]
    assert logs[0]["performed_by"] == "device" and logs[0]["new_status"] == "on"
    assert logs[1]["performed_by"] == "op@example.com" and logs[1]["previous_status"] == "unknown"
    assert logs[1]["new_status"] == "on" and logs[1]["brightness"] == 70


def test_the_mqtt_status_path_confirms_too(api, city, published):
    from gridpulse.devices.presence import handle_device_event
    from gridpulse.lights import state

    light = city["lisbon"][0]
    out = api.post(f"/lights/{light['device_id']}/control", {"action": "off"}, token=city["admin"])[1]
    event = {
        "status": "off",
        "command_id": out["command_id"],
        "thing_name": light["credentials"]["thing_name"],
        "received_at": state.now_ms() + 5,
    }
    assert handle_device_event(event)["applied"] is True
    # A report older than the one applied (rule invocations out of order) changes nothing.
    late = {**event, "status": "on", "received_at": event["received_at"] - 1000}
    assert handle_device_event(late)["applied"] is False
    detail = api.get(f"/lights/{light['device_id']}", token=city["admin"])[1]
    assert detail["light"]["status"] == "off"
    assert detail["light"]["last_command"] == {
        "command_id": out["command_id"],
        "action": "off",
        "brightness": 100,
        "state": "confirmed",
        "issued_at": detail["light"]["last_command"]["issued_at"],
    }


def test_an_unconfirmed_command_fails_after_the_time_limit(api, city, published, monkeypatch):
    from gridpulse.lights import state

    light_id = city["lisbon"][0]["device_id"]
    api.post(f"/lights/{light_id}/control", {"action": "auto"}, token=city["operator"])
    assert api.get(f"/lights/{light_id}", token=city["operator"])[1]["light"]["last_command"]["state"] == "pending"
    later = state.now_ms() + (state.command_timeout_s() + 1) * 1000
    monkeypatch.setattr(state, "now_ms", lambda: later)
    light = api.get(f"/lights/{light_id}", token=city["operator"])[1]["light"]
    assert light["last_command"]["state"] == "failed" and light["is_automatic"] is True
    # A report that contradicts nothing (auto: the lamp decides) still settles it later.
    command_id = light["last_command"]["command_id"]
    assert _report(api, city["lisbon"][0], "off", command_id=command_id)[0] == 200
    assert api.get(f"/lights/{light_id}", token=city["operator"])[1]["light"]["last_command"]["state"] == "confirmed"


def test_logs_are_paged_newest_first(api, city, published):
    light = city["lisbon"][0]
    for action in ("on", "off", "on"):
        assert api.post(f"/lights/{light['device_id']}/control", {"action": action}, token=city["operator"])[0] == 200
    first = api.get(f"/lights/{light['device_id']}/logs", token=city["viewer"], query={"limit": 2})[1]
    assert [e["action"] for e in first["items"]] == ["on", "off"] and first["next_token"]
    rest = api.get(
        f"/lights/{light['device_id']}/logs", token=city["viewer"], query={"next_token": first["next_token"]}
    )[1]
    assert [e["action"] for e in rest["items"]] == ["on"] and rest["next_token"] is None
    stamps = [e["created_at"] for e in first["items"] + rest["items"]]
    assert stamps == sorted(stamps, reverse=True)


def test_who_may_control(api, city, published, admin_token):
    light_id = city["lisbon"][0]["device_id"]
    status, body = api.post(f"/lights/{light_id}/control", {"action": "on"}, token=city["viewer"])
    assert status == 403 and body["error"] == "forbidden"
    porto_operator = api.user(admin_token, "porto@example.com", "operator", cities=["Porto"])
    assert api.post(f"/lights/{light_id}/control", {"action": "on"}, token=porto_operator)[0] == 404
    meter = api.create("/devices", {"name": "m", "device_type": "meter"}, admin_token)["device_id"]
    status, body = api.post(f"/lights/{meter}/control", {"action": "on"}, token=admin_token)
    assert status == 404 and body["error"] == "light_not_found"
    assert published == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "action"),
        ({"action": "dim"}, "action"),
        ({"action": "on", "brightness": 101}, "brightness"),
        ({"action": "on", "brightness": -1}, "brightness"),
        ({"action": "on", "brightness": 50.5}, "brightness"),
        ({"action": "on", "brightness": "50"}, "brightness"),
        ({"action": "on", "colour": "red"}, "colour"),
    ],
)
def test_bad_control_input_is_a_400_naming_the_field(api, city, published, body, field):
    status, out = api.post(f"/lights/{city['lisbon'][0]['device_id']}/control", body, token=city["operator"])
    assert status == 400 and field in {f["field"] for f in out["fields"]}, out
    assert published == []


@pytest.mark.parametrize(
    ("query", "field"),
    [({"status": "dim"}, "status"), ({"city": "a" * 101}, "city"), ({"city": "Lis\x01bon"}, "city")],
)
def test_bad_query_is_a_400_naming_the_field(api, city, query, field):
    status, out = api.get("/lights", token=city["viewer"], query=query)
    assert status == 400 and field in {f["field"] for f in out["fields"]}, out
    status, out = api.get("/lights/map", token=city["viewer"], query={"format": "kml"})
    assert status == 400 and "format" in {f["field"] for f in out["fields"]}


def test_status_reports_need_that_lights_key(api, city):
    a, b = city["lisbon"]
    status, out = api.post(
        f"/lights/{a['device_id']}/status", {"status": "on"}, headers={"X-API-Key": b["credentials"]["api_key"]}
    )
    assert status == 404 and out["error"] == "light_not_found"
    assert api.post(f"/lights/{a['device_id']}/status", {"status": "on"})[0] == 401
    status, out = _report(api, a, "error", error_details="Bulb failed")
    assert status == 200 and out["status"] == "error" and out["error_details"] == "Bulb failed"
    assert out["last_status_change"]
    status, out = _report(api, a, "dimmed")
    assert status == 400 and out["fields"][0]["field"] == "status"


def test_a_light_moved_to_another_city_moves_in_the_index(api, city):
    light_id = city["lisbon"][0]["device_id"]
    assert api.put(f"/devices/{light_id}", {"city": "Porto"}, token=city["admin"])[0] == 200
    assert light_id in _ids(api.get("/lights", token=city["admin"], query={"city": "Porto"})[1])
    assert light_id not in _ids(api.get("/lights", token=city["viewer"])[1])


def test_a_light_registered_before_the_index_joins_it_on_its_next_update(api, city, aws):
    light_id = city["lisbon"][0]["device_id"]
    table = boto3.resource("dynamodb").Table(aws.physical["DevicesTable"])
    table.update_item(Key={"pk": f"device#{light_id}", "sk": "meta"}, UpdateExpression="REMOVE light_city")
    assert light_id not in _ids(api.get("/lights", token=city["viewer"])[1])
    assert api.put(f"/devices/{light_id}", {"name": "Pole 1 (new lamp)"}, token=city["admin"])[0] == 200
    assert light_id in _ids(api.get("/lights", token=city["viewer"])[1])


def test_an_error_report_raises_one_alert_and_on_resolves_it(api, city):
    light = city["lisbon"][0]

    def alerts(status):
        query = {"device_id": light["device_id"], "status": status}
        return [a for a in api.get("/alerts", token=city["admin"], query=query)[1]["items"]]

    assert _report(api, light, "error", error_details="Bulb failed")[0] == 200
    assert _report(api, light, "error", error_details="Driver failed")[0] == 200
    [alert] = alerts("open")
    assert alert["alert_type"] == "light_error" and "Driver failed" in alert["message"] and alert["count"] == 2
    assert _report(api, light, "on")[0] == 200
    assert alerts("open") == [] and [a["alert_id"] for a in alerts("resolved")] == [alert["alert_id"]]


@pytest.mark.parametrize("order", ["in order", "reversed"])
def test_two_quick_controls_leave_the_stored_status_the_shadow_and_the_lamp_agreeing(api, city, published, order):
    """On then off in quick succession, the commands reaching the simulated
    lamp in either order: the lamp, its shadow's reported state and the stored
    status all end `off`, and the off command is the one confirmed."""
    from datetime import datetime, timedelta, timezone

    from gridpulse.devices.presence import handle_device_event
    from gridpulse.lights import state
    from infrastructure.simulator.device import SimulatedDevice
    from infrastructure.simulator.model import LightModel
    from tests.local_stack.test_simulator import FakeConnection, ManualClock, spec

    light = city["lisbon"][0]
    light_id, thing = light["device_id"], light["credentials"]["thing_name"]
    connection = FakeConnection()
    clock = ManualClock(datetime(2026, 6, 1, 13, tzinfo=timezone.utc))  # midday: the photocell says off
    lamp = LightModel("l1", 38.72, -9.14, seed=1, error_prob=0.0)
    device_spec = spec("l1", "light")
    device = SimulatedDevice(
        type(device_spec)(**{**vars(device_spec), "thing_name": thing}),
        lamp,
        clock,
        connection_factory=lambda: connection,
    )
    clock.t += timedelta(seconds=1)
    device.tick()  # connects, subscribes, reports off
    handlers = dict(connection.subscriptions)
    iot_data = boto3.client("iot-data")
    delivered = 0

    def deliver_uplink() -> None:
        """The lamp's messages to the cloud: status reports through the IoT rule's
        handler, shadow reports to the shadow."""
        nonlocal delivered
        for topic, payload, future in connection.published[delivered:]:
            if topic.endswith("/status"):
                handle_device_event({**json.loads(payload), "thing_name": thing, "received_at": state.now_ms()})
            elif topic.endswith("/shadow/update"):
                iot_data.update_thing_shadow(thingName=thing, payload=payload)
            if not future.done():
                future.set_result(None)
        delivered = len(connection.published)

    deliver_uplink()
    first = api.post(f"/lights/{light_id}/control", {"action": "on"}, token=city["operator"])[1]
    second = api.post(f"/lights/{light_id}/control", {"action": "off"}, token=city["operator"])[1]
    commands = [json.dumps(command).encode() for _, command in published]
    assert [json.loads(c)["seq"] for c in commands] == [1, 2]
    for payload in commands if order == "in order" else commands[::-1]:
        clock.t += timedelta(seconds=1)
        handlers[f"gridpulse/{thing}/commands"](topic="", payload=payload)
        deliver_uplink()

    assert lamp.mode == "off"
    shadow = json.loads(iot_data.get_thing_shadow(thingName=thing)["payload"].read())
    assert shadow["state"]["reported"]["light"]["action"] == "off"
    assert shadow["state"]["desired"]["light"]["command_id"] == second["command_id"]
    detail = api.get(f"/lights/{light_id}", token=city["operator"])[1]["light"]
    assert detail["status"] == "off"
    assert detail["last_command"]["command_id"] == second["command_id"] != first["command_id"]
    assert detail["last_command"]["state"] == "confirmed"
