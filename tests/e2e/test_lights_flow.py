"""A street light end to end through the running local stack: registered
with POST /devices, connected over mutual TLS with its own certificate, an
operator's control reaches it on its commands topic (and its shadow), its
status report confirms the command, and the API shows both log entries and
the lamp's burning time today."""

from __future__ import annotations

import json
import threading
import time

import pytest
from awscrt import mqtt

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, local_only
from tests.e2e.test_mqtt_flow import _connect, _publish, _wait

pytestmark = pytest.mark.e2e


@local_only("the local MQTT broker and its CA")
def test_a_control_reaches_the_lamp_over_mqtt_and_its_status_report_confirms_it(stack):
    admin = stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    created = stack.request(
        "POST",
        "/devices",
        admin,
        json={"name": "Pole 12", "device_type": "light", "city": "Braga", "latitude": 41.55, "longitude": -8.42},
    )
    assert created.status_code == 201, created.text
    light = created.json()
    creds, light_id = light["credentials"], light["device_id"]

    connection = _connect(creds)
    try:
        commands: list[dict] = []
        arrived = threading.Event()

        def on_command(topic, payload, **_):
            commands.append(json.loads(payload))
            arrived.set()

        subscribed, _ = connection.subscribe(creds["topics"]["commands"], mqtt.QoS.AT_LEAST_ONCE, on_command)
        subscribed.result(10)

        control = stack.request("POST", f"/lights/{light_id}/control", admin, json={"action": "on", "brightness": 60})
        assert control.status_code == 200, control.text
        command_id = control.json()["command_id"]
        assert arrived.wait(10), "no command on the light's commands topic"
        assert commands[0]["command_id"] == command_id
        assert commands[0]["action"] == "on" and commands[0]["brightness"] == 60

        pending = stack.request("GET", f"/lights/{light_id}", admin).json()["light"]["last_command"]
        assert pending["state"] == "pending" and pending["command_id"] == command_id

        _publish(connection, creds["topics"]["status"], {"status": "on", "command_id": command_id})
        detail = _wait(
            lambda: (lambda body: body if body["light"]["last_command"]["state"] == "confirmed" else None)(
                stack.request("GET", f"/lights/{light_id}", admin).json()
            )
        )
        assert detail, "the status report did not confirm the command"
        assert detail["light"]["status"] == "on" and detail["light"]["online"] is True
        assert [e["control_type"] for e in detail["recent_logs"]] == ["device", "manual"]
        # The lamp has been burning since its report: today's usage counts it, up to now.
        usage = stack.request("GET", f"/lights/{light_id}/usage", admin).json()
        today = usage["days"][-1]
        assert usage["to"] == today["date"] and today["switch_ons"] == 1, usage
        assert float(today["burning_hours"]) < 0.1 and today["burning_hours"].count(".") == 1
    finally:
        connection.disconnect().result(10)

    geo = stack.request("GET", "/lights/map", admin, params={"city": "Braga", "format": "geojson"})
    assert geo.headers["Content-Type"].startswith("application/geo+json")
    [feature] = geo.json()["features"]
    assert feature["geometry"]["coordinates"] == [-8.42, 41.55] and feature["properties"]["status"] == "on"


@local_only("the local stack's schedules (POST /_local/schedules/...)")
def test_the_schedule_switches_an_automatic_light_through_the_local_stack(stack):
    admin = stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    body = {"name": "Pole 13", "device_type": "light", "city": "Braga", "latitude": 41.55, "longitude": -8.42}
    light_id = stack.request("POST", "/devices", admin, json=body).json()["device_id"]
    assert stack.request("POST", f"/lights/{light_id}/control", admin, json={"action": "auto"}).status_code == 200
    ran = stack.request("POST", "/_local/schedules/LightScheduleFunction")
    assert ran.status_code == 200, ran.text
    detail = stack.request("GET", f"/lights/{light_id}", admin).json()
    # On or off depends on the hour in Braga; either way the schedule sent it and the light stays automatic.
    assert detail["light"]["is_automatic"] is True and detail["light"]["last_command"]["action"] in ("on", "off")
    assert detail["recent_logs"][0]["performed_by"] == "schedule"
    assert detail["recent_logs"][0]["control_type"] == "automatic"


def _new_light(stack, admin, name: str) -> dict:
    body = {"name": name, "device_type": "light", "city": "Braga", "latitude": 41.55, "longitude": -8.42}
    created = stack.request("POST", "/devices", admin, json=body)
    assert created.status_code == 201, created.text
    return created.json()


class Inbox:
    """Messages a connection received, by topic (decoded JSON)."""

    def __init__(self):
        self.messages: list[tuple[str, dict]] = []
        self.arrived = threading.Condition()

    def __call__(self, topic, payload, **_):
        with self.arrived:
            self.messages.append((topic, json.loads(payload)))
            self.arrived.notify_all()

    def wait_for(self, suffix: str, timeout: float = 10) -> dict | None:
        with self.arrived:
            self.arrived.wait_for(lambda: any(t.endswith(suffix) for t, _ in self.messages), timeout)
        found = [body for t, body in self.messages if t.endswith(suffix)]
        return found[-1] if found else None


@local_only("the local MQTT broker and its CA")
def test_a_light_that_was_offline_takes_the_desired_state_from_its_shadow_on_reconnect(stack):
    admin = stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    light = _new_light(stack, admin, "Pole 14")
    creds, light_id, thing = light["credentials"], light["device_id"], light["credentials"]["thing_name"]

    # The operator switches it on while it is not connected: the command has nobody to reach, the shadow keeps it.
    control = stack.request("POST", f"/lights/{light_id}/control", admin, json={"action": "on", "brightness": 55})
    assert control.status_code == 200, control.text
    command_id = control.json()["command_id"]
    assert stack.request("GET", f"/lights/{light_id}", admin).json()["light"]["last_command"]["state"] == "pending"

    # The lamp connects, as the firmware and the simulator do: subscribe, ask for its shadow.
    connection = _connect(creds)
    try:
        inbox = Inbox()
        base = f"$aws/things/{thing}/shadow"
        for suffix in ("get/accepted", "get/rejected", "update/delta", "update/accepted"):
            connection.subscribe(f"{base}/{suffix}", mqtt.QoS.AT_LEAST_ONCE, inbox)[0].result(10)
        connection.subscribe(creds["topics"]["commands"], mqtt.QoS.AT_LEAST_ONCE, inbox)[0].result(10)
        _publish(connection, f"{base}/get", {"clientToken": "boot"})
        document = inbox.wait_for("/get/accepted")
        assert document, f"no shadow document: {inbox.messages}"
        desired = document["state"]["delta"]["light"]
        assert desired["action"] == "on" and desired["brightness"] == 55 and desired["command_id"] == command_id
        assert document["clientToken"] == "boot" and document["version"] >= 1

        # It switches on, reports its shadow and its status (with the command's id).
        reported = {"action": "on", "brightness": 55, "command_id": command_id, "seq": desired["seq"]}
        _publish(connection, f"{base}/update", {"state": {"reported": {"light": reported}}})
        accepted = inbox.wait_for("/update/accepted")
        assert accepted and accepted["state"]["reported"]["light"] == reported
        _publish(connection, creds["topics"]["status"], {"status": "on", "command_id": command_id})
        detail = _wait(
            lambda: (lambda body: body if body["light"]["last_command"]["state"] == "confirmed" else None)(
                stack.request("GET", f"/lights/{light_id}", admin).json()
            )
        )
        assert detail, "the status report did not confirm the command"
        assert detail["light"]["status"] == "on" and detail["light"]["brightness"] == 55
        assert detail["light"]["last_command"]["command_id"] == command_id

        # While connected, a new desired state arrives as a delta (and the command).
        off = stack.request("POST", f"/lights/{light_id}/control", admin, json={"action": "off"}).json()
        delta = _wait(lambda: next((b for t, b in inbox.messages if t.endswith("/update/delta")), None), 10)
        assert (
            delta
            and delta["state"]["light"]["action"] == "off"
            and delta["state"]["light"]["command_id"] == off["command_id"]
        )
        assert "brightness" not in delta["state"]["light"]  # unchanged: not in the delta
    finally:
        connection.disconnect().result(10)


@local_only("the local MQTT broker and its CA")
def test_another_device_cannot_read_a_lights_commands_or_shadow(stack):
    admin = stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    light = _new_light(stack, admin, "Pole 15")
    intruder = _new_light(stack, admin, "Pole 16")
    thing = light["credentials"]["thing_name"]
    connection = _connect(intruder["credentials"])
    try:
        received = Inbox()
        for topic_filter in (
            f"gridpulse/{thing}/commands",
            f"$aws/things/{thing}/shadow/update/delta",
            f"$aws/things/{thing}/shadow/get/accepted",
            "gridpulse/+/commands",
            "$aws/things/+/shadow/update/delta",
        ):
            future, _ = connection.subscribe(topic_filter, mqtt.QoS.AT_LEAST_ONCE, received)
            with pytest.raises(mqtt.SubscribeError):
                future.result(10)
        control = stack.request("POST", f"/lights/{light['device_id']}/control", admin, json={"action": "on"})
        assert control.status_code == 200
        # Its own subscriptions still work, and nothing of the other light arrives.
        connection.subscribe(intruder["credentials"]["topics"]["commands"], mqtt.QoS.AT_LEAST_ONCE, received)[0].result(
            10
        )
        time.sleep(1.0)
        assert received.messages == []
    finally:
        connection.disconnect().result(10)
