"""Automatic mode (#12 item 5): the dusk/dawn schedule switches automatic
lights the way POST /lights/{id}/control does, once per change, leaves
manual lights alone, survives a bad light, and flags a lamp that does not
follow it."""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest

from gridpulse.devices import messaging
from gridpulse.lights import schedule
from gridpulse.lights import state as light_state

NIGHT = dt.datetime(2026, 12, 2, 23, 0, tzinfo=dt.UTC)  # Lisbon: dark
NOON = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)  # Lisbon: light


@pytest.fixture
def published(monkeypatch):
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(messaging, "publisher", lambda topic, payload, qos: sent.append((topic, json.loads(payload))))
    return sent


@pytest.fixture
def clock(monkeypatch):
    """The platform's clock (commands, reports), set by the test."""
    now = {"at": NIGHT - dt.timedelta(minutes=30)}
    monkeypatch.setattr(light_state, "now_ms", lambda: int(now["at"].timestamp() * 1000))
    return now


def _run(clock, at):
    """A schedule run at `at`, with the platform's clock there too."""
    clock["at"] = at
    return schedule.run(at)


def _light(api, token, name, lat=38.72, lon=-9.14):
    body = {"name": name, "device_type": "light", "city": "Lisbon", "latitude": lat, "longitude": lon}
    return api.create("/devices", body, token)


def _control(api, token, light, action):
    status, out = api.post(f"/lights/{light['device_id']}/control", {"action": action}, token=token)
    assert status == 200, out


def _detail(api, token, light):
    return api.get(f"/lights/{light['device_id']}", token=token)[1]


def test_an_automatic_light_is_switched_at_dusk_and_dawn_once(api, admin_token, published, clock):
    auto, manual = _light(api, admin_token, "Pole A"), _light(api, admin_token, "Pole M")
    _light(api, admin_token, "Pole never controlled")
    _control(api, admin_token, auto, "auto")
    _control(api, admin_token, manual, "off")
    published.clear()

    result = _run(clock, NIGHT)
    assert result["sent"] == 1 and result["automatic"] == 1 and result["failed"] == 0
    thing = auto["credentials"]["thing_name"]
    [(topic, command)] = published
    assert topic == f"gridpulse/{thing}/commands" and command["action"] == "on" and command["command_id"]
    shadow = json.loads(boto3.client("iot-data").get_thing_shadow(thingName=thing)["payload"].read())
    desired = shadow["state"]["desired"]["light"]
    assert desired == {"action": "on", "brightness": 100, "command_id": command["command_id"], "seq": command["seq"]}
    detail = _detail(api, admin_token, auto)
    light, entry = detail["light"], detail["recent_logs"][0]
    assert light["is_automatic"] is True and light["last_command"]["action"] == "on"
    assert light["last_command"]["command_id"] == command["command_id"]
    assert entry["performed_by"] == "schedule" and entry["control_type"] == "automatic"
    assert entry["action"] == "on" and entry["new_status"] == "on"

    # Nothing changed: nothing is sent again.
    assert _run(clock, NIGHT + dt.timedelta(minutes=5))["sent"] == 0
    assert len(published) == 1
    # The manual light keeps its own command.
    assert _detail(api, admin_token, manual)["light"]["last_command"]["action"] == "off"

    # Dawn: off, still automatic.
    assert _run(clock, NOON)["sent"] == 1
    assert published[-1][1]["action"] == "off"
    light = _detail(api, admin_token, auto)["light"]
    assert light["is_automatic"] is True and light["last_command"]["action"] == "off"

    # A manual control takes the light out of the schedule.
    _control(api, admin_token, auto, "on")
    assert _run(clock, NOON + dt.timedelta(minutes=5))["automatic"] == 0


def test_a_bad_light_does_not_stop_the_others(api, admin_token, published, clock, aws):
    broken, good = _light(api, admin_token, "Pole broken"), _light(api, admin_token, "Pole good")
    for light in (broken, good):
        _control(api, admin_token, light, "auto")
    table = boto3.resource("dynamodb").Table(aws.physical["DevicesTable"])
    table.update_item(
        Key={"pk": f"device#{broken['device_id']}", "sk": "meta"}, UpdateExpression="REMOVE latitude, longitude"
    )
    published.clear()
    result = _run(clock, NIGHT)
    assert result["failed"] == 1 and result["sent"] == 1
    assert [topic for topic, _ in published] == [f"gridpulse/{good['credentials']['thing_name']}/commands"]


def test_a_lamp_dark_at_night_raises_its_own_alert_until_it_burns(api, admin_token, published, clock):
    light = _light(api, admin_token, "Pole dark")
    _control(api, admin_token, light, "auto")

    def alerts(status):
        query = {"device_id": light["device_id"], "status": status}
        return api.get("/alerts", token=admin_token, query=query)[1]["items"]

    def report(status, at):
        clock["at"] = at
        headers = {"X-API-Key": light["credentials"]["api_key"]}
        assert api.post(f"/lights/{light['device_id']}/status", {"status": status}, headers=headers)[0] == 200

    assert _run(clock, NIGHT)["sent"] == 1
    report("off", NIGHT + dt.timedelta(minutes=1))  # the lamp stays dark
    assert _run(clock, NIGHT + dt.timedelta(minutes=4))["mismatched"] == 0  # within one period: wait
    assert _run(clock, NIGHT + dt.timedelta(minutes=6))["mismatched"] == 1
    assert _run(clock, NIGHT + dt.timedelta(minutes=11))["mismatched"] == 1
    [alert] = alerts("open")
    assert alert["alert_type"] == "light_schedule_mismatch" and alert["count"] == 2
    assert "dark at night" in alert["message"]
    report("on", NIGHT + dt.timedelta(minutes=12))
    assert _run(clock, NIGHT + dt.timedelta(minutes=16))["mismatched"] == 0
    assert alerts("open") == [] and [a["alert_id"] for a in alerts("resolved")] == [alert["alert_id"]]


def test_a_run_reads_only_the_automatic_lights_through_their_index(api, admin_token, published, clock, dynamodb_calls):
    auto = _light(api, admin_token, "Pole A")
    for n in range(3):
        _control(api, admin_token, _light(api, admin_token, f"Pole M{n}"), "on")
    _control(api, admin_token, auto, "auto")
    # Automatic, then manual again: out of the index.
    back = _light(api, admin_token, "Pole back to manual")
    _control(api, admin_token, back, "auto")
    _control(api, admin_token, back, "off")
    dynamodb_calls.clear()
    result = _run(clock, NIGHT)
    assert result["lights"] == 1 and result["automatic"] == 1 and result["sent"] == 1
    queries = [c.params for c in dynamodb_calls.records if c.operation == "Query"]
    assert [q.get("IndexName") for q in queries] == ["light-auto"]
    # Then the records and the states of that page: only the automatic light's.
    batches = [c.params for c in dynamodb_calls.records if c.operation == "BatchGetItem"][:2]
    keys = [key for b in batches for table in b["RequestItems"].values() for key in table["Keys"]]
    assert keys == [{"pk": {"S": f"device#{auto['device_id']}"}, "sk": {"S": sk}} for sk in ("meta", "state")]
    assert not any(c.operation == "Scan" for c in dynamodb_calls.records)
