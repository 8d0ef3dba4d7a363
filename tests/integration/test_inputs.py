"""Hostile and malformed input at the API: every one is a 4xx naming the field
(never a 5xx, never stored), and an item stored badly before these checks
existed costs only itself in every list that holds it."""

from __future__ import annotations

import json

import boto3
import pytest


def fields_of(body) -> set[str]:
    return {f["field"] for f in (body or {}).get("fields") or []}


@pytest.fixture
def hotel_room(api, admin_token):
    hotel = api.create("/hotels", {"hotel_name": "Sea View"}, admin_token)
    floor = api.create(f"/hotels/{hotel['hotel_id']}/sections", {"section_name": "Floor 1"}, admin_token)
    room = api.create(f"/sections/{floor['section_id']}/rooms", {"room_number": "101"}, admin_token)
    return {"hotel": hotel, "section": floor, "room": room}


@pytest.fixture
def owner(api):
    return api.register("owner@example.com")["token"]


def _meter(api, token, name="Kitchen meter", **extra):
    created = api.create("/devices", {"name": name, "device_type": "meter", **extra}, token)
    return {"id": created["device_id"], "key": {"X-API-Key": created["credentials"]["api_key"]}}


def _devices_table(aws):
    return boto3.resource("dynamodb").Table(aws.physical["DevicesTable"])


# ---------------------------------------------------------------- item 1: free-form maps


@pytest.mark.parametrize(
    "config",
    [
        {"": 1},
        {"wifi": {"": "x"}},
        {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}},
        {"k" * 65: 1},
        {"tiny": 1e-200},
        {"digits": 10**40 + 1},
        {"huge": 1e126},
    ],
)
def test_device_config_is_a_bounded_map_and_a_refused_one_is_not_stored(api, owner, admin_token, config):
    meter = _meter(api, owner)
    assert api.put("/device/config", {"config": {"interval_s": 60}}, headers=meter["key"])[0] == 200

    status, body = api.put("/device/config", {"config": config}, headers=meter["key"])

    assert status == 400 and body["error"] == "validation_error" and fields_of(body) == {"config"}, body
    assert api.get("/device/config", headers=meter["key"])[1]["reported_config"] == {"interval_s": 60}
    assert api.get("/devices", token=admin_token)[0] == 200


def test_a_sane_config_round_trips(api, owner):
    meter = _meter(api, owner)
    config = {
        "interval_s": 60,
        "mode": "eco",
        "relay": None,
        "on": True,
        "ratio": 0.25,
        "schedule": [{"at": "07:00", "on": True}],
        "a": {"b": {"c": {"d": 1}}},
    }
    assert api.put("/device/config", {"config": config}, headers=meter["key"]) == (
        200,
        {"device_id": meter["id"], "reported_config": config},
    )
    assert api.get(f"/devices/{meter['id']}", token=owner)[1]["reported_config"] == config


@pytest.fixture
def skipped(monkeypatch):
    """The UnreadableItemSkipped metric, as recorded (metrics are off in tests)."""
    from gridpulse import dynamodb as base

    seen: list[str] = []
    monkeypatch.setattr(base, "count", lambda name, value=1: seen.append(name), raising=False)
    return seen


def test_one_unreadable_device_state_does_not_break_any_device_list(api, aws, admin_token, hotel_room, skipped):
    """States stored before config was checked: a map with an empty key (the SDK
    cannot read the response that holds it) and an attribute of the wrong type."""
    room_id = hotel_room["room"]["room_id"]
    staff = api.user(admin_token, "staff@example.com", "operator", hotel_ids=[hotel_room["hotel"]["hotel_id"]])
    good, poisoned, mistyped = (
        _meter(api, admin_token, name, room_id=room_id) for name in ("Good", "Poisoned", "Mistyped")
    )
    assert api.post("/device/heartbeat", {}, headers=good["key"])[0] == 200
    table = _devices_table(aws)
    table.update_item(
        Key={"pk": f"device#{poisoned['id']}", "sk": "state"},
        UpdateExpression="SET reported_config = :c",
        ExpressionAttributeValues={":c": {"": 1}},
    )
    table.update_item(
        Key={"pk": f"device#{mistyped['id']}", "sk": "state"},
        UpdateExpression="SET last_seen = :n",
        ExpressionAttributeValues={":n": 5},
    )

    for path, token in (
        ("/devices", admin_token),
        ("/admin/devices/statuses", admin_token),
        (f"/rooms/{room_id}/devices", staff),
        ("/devices", staff),
        ("/alerts", staff),
    ):
        status, body = api.get(path, token=token)
        assert status == 200, (path, body)
    listed = {d["name"]: d["online"] for d in api.get(f"/rooms/{room_id}/devices", token=staff)[1]["items"]}
    assert listed == {"Good": True, "Poisoned": False, "Mistyped": False}
    assert "UnreadableItemSkipped" in skipped

    # The device itself still shows, without the config it cannot read, and can report a new one.
    status, detail = api.get(f"/devices/{poisoned['id']}", token=admin_token)
    assert status == 200 and detail["reported_config"] is None, detail
    assert api.put("/device/config", {"config": {"interval_s": 30}}, headers=poisoned["key"])[0] == 200
    assert api.get(f"/devices/{poisoned['id']}", token=admin_token)[1]["reported_config"] == {"interval_s": 30}


def test_an_item_missing_a_required_attribute_is_skipped_not_fatal(api, aws, owner, admin_token, skipped):
    kept, broken = _meter(api, owner, "Kept"), _meter(api, owner, "Broken")
    groups = [api.create("/groups", {"name": name}, owner) for name in ("Kept", "Broken")]
    table = _devices_table(aws)
    table.update_item(
        Key={"pk": f"device#{broken['id']}", "sk": "meta"},
        UpdateExpression="REMOVE #n",
        ExpressionAttributeNames={"#n": "name"},
    )
    table.update_item(
        Key={"pk": f"group#{groups[1]['group_id']}", "sk": "meta"},
        UpdateExpression="REMOVE #n",
        ExpressionAttributeNames={"#n": "name"},
    )
    assert api.post(
        f"/groups/{groups[0]['group_id']}/devices/bulk", {"device_ids": [kept["id"], broken["id"]]}, token=owner
    )[0] in (200, 201)

    for path, token in (
        ("/devices", owner),
        ("/devices", admin_token),
        ("/groups", owner),
        (f"/groups/{groups[0]['group_id']}/devices", owner),
        ("/admin/devices/statuses", admin_token),
    ):
        status, body = api.get(path, token=token)
        assert status == 200, (path, body)
        assert [i["name"] for i in body["items"]] == ["Kept"], (path, body)
    assert skipped.count("UnreadableItemSkipped") >= 5


# ---------------------------------------------------------------- item 2: null in an update


def test_null_for_a_required_field_is_400_and_changes_nothing(api, owner, admin_token, hotel_room):
    meter = _meter(api, owner)
    group = api.create("/groups", {"name": "Floor 1"}, owner)
    me = api.get("/auth/me", token=owner)[1]
    cases = [
        (f"/devices/{meter['id']}", owner, "name"),
        (f"/devices/{meter['id']}", owner, "status"),
        (f"/groups/{group['group_id']}", owner, "name"),
        (f"/users/{me['user_id']}", owner, "name"),
        (f"/users/{me['user_id']}", owner, "email"),
        (f"/users/{me['user_id']}", admin_token, "role"),
        (f"/users/{me['user_id']}", admin_token, "hotel_ids"),
        (f"/hotels/{hotel_room['hotel']['hotel_id']}", admin_token, "hotel_name"),
        (f"/sections/{hotel_room['section']['section_id']}", admin_token, "section_name"),
        (f"/rooms/{hotel_room['room']['room_id']}", admin_token, "room_number"),
        (f"/rooms/{hotel_room['room']['room_id']}", admin_token, "occupancy_status"),
    ]
    for path, token, field in cases:
        status, body = api.put(path, {field: None}, token=token)
        assert status == 400 and fields_of(body) == {field}, (path, field, body)

    # Absent still means unchanged, and every list still reads.
    assert api.put(f"/devices/{meter['id']}", {"description": "by the door"}, token=owner)[1]["name"] == "Kitchen meter"
    assert api.put(f"/groups/{group['group_id']}", {"color": None}, token=owner)[1]["name"] == "Floor 1"
    for path, token in (
        ("/devices", owner),
        ("/groups", owner),
        ("/users", admin_token),
        ("/hotels", admin_token),
        (f"/sections/{hotel_room['section']['section_id']}/rooms", admin_token),
        (f"/hotels/{hotel_room['hotel']['hotel_id']}/sections", admin_token),
    ):
        assert api.get(path, token=token)[0] == 200, path
    assert api.get("/auth/me", token=owner)[1]["name"] == me["name"]


def test_null_clears_an_optional_field(api, admin_token):
    hotel = api.create("/hotels", {"hotel_name": "H", "address": "1 Beach Rd"}, admin_token)
    status, body = api.put(f"/hotels/{hotel['hotel_id']}", {"address": None}, token=admin_token)
    assert status == 200 and body.get("address") is None and body["hotel_name"] == "H"


# ---------------------------------------------------------------- item 12: numbers, usernames, deep JSON


@pytest.mark.parametrize(
    "field,value",
    [
        ("longitude", 1e-200),
        ("latitude", -1e-131),
        ("power_rating_w", 5e-324),
    ],
)
def test_numbers_dynamodb_cannot_store_are_400_naming_the_field(api, owner, field, value):
    meter = _meter(api, owner)
    status, body = api.put(f"/devices/{meter['id']}", {field: value}, token=owner)
    assert status == 400 and fields_of(body) == {field}, body
    status, body = api.post("/devices", {"name": "M", "device_type": "meter", field: value}, token=owner)
    assert status == 400 and fields_of(body) == {field}, body
    assert api.get(f"/devices/{meter['id']}", token=owner)[1][field] is None


def test_non_finite_and_unstorable_numbers_in_alert_rules_are_400(api, owner):
    meter = _meter(api, owner)
    for raw, field in (
        ('{"max_power_w": 1e-200}', "max_power_w"),
        ('{"max_current": Infinity}', "max_current"),
        ('{"spike_factor": NaN}', "spike_factor"),
    ):
        status, body = api.put(f"/devices/{meter['id']}/alert-rules", raw=raw, token=owner)
        assert status == 400 and fields_of(body) == {field}, (raw, body)


def test_a_username_taken_by_someone_else_is_409_and_ones_own_in_another_case_is_200(api):
    alice = api.register("alice@example.com", username="alice")
    api.register("bob@example.com", username="bobby")
    path = f"/users/{alice['user']['user_id']}"

    for taken in ("bobby", "BOBBY"):
        status, body = api.put(path, {"username": taken}, token=alice["token"])
        assert status == 409 and body["error"] == "username_taken" and fields_of(body) == {"username"}

    status, body = api.put(path, {"username": "Alice"}, token=alice["token"])
    assert status == 200 and body["username"] == "Alice"
    assert api.login("alice") and api.login("ALICE")
    # The claim is still held: nobody else can take it.
    assert (
        api.post(
            "/auth/register",
            {"name": "C", "email": "c@example.com", "password": "correct-horse-1", "username": "alice"},
        )[0]
        == 409
    )


def test_json_nested_thousands_deep_is_400_on_any_route(api, owner):
    meter = _meter(api, owner)
    deep = "[" * 5000 + "]" * 5000
    for method, path, headers in (
        ("PUT", f"/devices/{meter['id']}", {}),
        ("POST", "/auth/login", {}),
        ("POST", "/telemetry", meter["key"]),
        ("PUT", "/device/config", meter["key"]),
    ):
        status, body = api.call(method, path, raw=deep, token=owner, headers=headers)
        assert status == 400 and fields_of(body) == {"body"}, (path, status, body)
    status, body = api.call(
        "PUT", "/device/config", raw='{"config": ' + '{"a": ' * 40 + "1" + "}" * 41, headers=meter["key"]
    )
    assert status == 400 and fields_of(body) == {"body"}, body


def test_an_integer_of_thousands_of_digits_is_400_not_a_5xx(api, owner):
    meter = _meter(api, owner)
    huge = "9" * 5000  # valid JSON; Python refuses to read an int of more than 4300 digits
    for method, path, raw, headers in (
        ("PUT", f"/devices/{meter['id']}", '{"power_rating_w": ' + huge + "}", {}),
        ("POST", "/telemetry", '{"kwh_value": ' + huge + "}", meter["key"]),
    ):
        status, body = api.call(method, path, raw=raw, token=owner, headers=headers)
        assert status == 400 and fields_of(body) == {"body"}, (path, status, body)


# ---------------------------------------------------------------- item 13: media types, body shape, names


@pytest.mark.parametrize(
    "content_type",
    ["APPLICATION/JSON", "Application/Json; charset=UTF-8", "application/vnd.api+json", "application/merge-patch+JSON"],
)
def test_media_types_are_case_insensitive_and_json_suffixes_are_json(api, owner, content_type):
    meter = _meter(api, owner)
    status, body = api.call(
        "PUT",
        f"/devices/{meter['id']}",
        raw=json.dumps({"name": "Renamed"}),
        token=owner,
        headers={"Content-Type": content_type},
    )
    assert status == 200 and body["name"] == "Renamed", body


def test_a_non_json_media_type_is_415_in_our_envelope(api, owner):
    meter = _meter(api, owner)
    status, body = api.call(
        "PUT",
        f"/devices/{meter['id']}",
        raw=json.dumps({"name": "x"}),
        token=owner,
        headers={"Content-Type": "text/plain"},
    )
    assert status == 415 and body["error"] == "unsupported_media_type" and fields_of(body) == {"Content-Type"}


@pytest.mark.parametrize("content_type", ["multipart/form-data", "application/x-www-form-urlencoded", "text/plain"])
def test_an_empty_body_with_a_form_media_type_is_a_400_not_a_parse_crash(api, owner, content_type):
    """Found by schemathesis: a multipart type without a boundary and no body was a 502.
    Now a 400 naming the body, or a 415 naming the media type, in our envelope."""
    status, body = api.call(
        "PUT", f"/users/{_me(api, owner)}", raw=b"", token=owner, headers={"Content-Type": content_type}
    )
    assert (status, fields_of(body)) in ((400, {"body"}), (415, {"Content-Type"})), (status, body)


def _me(api, token):
    return api.get("/auth/me", token=token)[1]["user_id"]


def test_a_body_that_is_not_a_json_object_is_refused_and_nothing_happens(api, owner):
    meter = _meter(api, owner)
    status, body = api.call("POST", "/telemetry", raw=json.dumps([{"power_w": 5}]), headers=meter["key"])
    assert status == 400 and fields_of(body) == {"body"}, body
    assert api.get(f"/devices/{meter['id']}/readings/latest", token=owner)[0] == 404

    for raw in ("[null, null]", "[{}]", "null", "7"):
        status, body = api.call("POST", "/device/heartbeat", raw=raw, headers=meter["key"])
        assert status == 400 and fields_of(body) == {"body"}, (raw, body)
    assert api.get(f"/devices/{meter['id']}", token=owner)[1]["last_seen"] is None
    assert api.call("POST", "/device/heartbeat", headers=meter["key"])[0] == 200  # no body at all is fine


@pytest.mark.parametrize("bad", ["Kitchen\x00", "Kit\x1b[31mchen", "Kitchen\nmeter", "\u202eretem", "A\x85B"])
def test_names_refuse_control_characters(api, owner, admin_token, hotel_room, bad):
    meter = _meter(api, owner)
    group = api.create("/groups", {"name": "G"}, owner)
    me = api.get("/auth/me", token=owner)[1]
    cases = [
        ("POST", "/devices", owner, {"name": bad, "device_type": "meter"}, "name"),
        ("PUT", f"/devices/{meter['id']}", owner, {"name": bad}, "name"),
        ("PUT", f"/devices/{meter['id']}", owner, {"city": bad}, "city"),
        ("PUT", f"/devices/{meter['id']}", owner, {"location": bad}, "location"),
        ("POST", "/groups", owner, {"name": bad}, "name"),
        ("PUT", f"/groups/{group['group_id']}", owner, {"name": bad}, "name"),
        ("PUT", f"/users/{me['user_id']}", owner, {"name": bad}, "name"),
        ("PUT", f"/users/{me['user_id']}", owner, {"city": bad}, "city"),
        (
            "POST",
            "/auth/register",
            None,
            {"name": bad, "email": "n@example.com", "password": "correct-horse-1"},
            "name",
        ),
        ("POST", "/hotels", admin_token, {"hotel_name": bad}, "hotel_name"),
        ("PUT", f"/hotels/{hotel_room['hotel']['hotel_id']}", admin_token, {"hotel_name": bad}, "hotel_name"),
        (
            "POST",
            f"/hotels/{hotel_room['hotel']['hotel_id']}/sections",
            admin_token,
            {"section_name": bad},
            "section_name",
        ),
        ("PUT", f"/rooms/{hotel_room['room']['room_id']}", admin_token, {"room_number": bad}, "room_number"),
        ("POST", f"/rooms/{hotel_room['room']['room_id']}/devices", admin_token, {"device_name": bad}, "device_name"),
    ]
    for method, path, token, body, field in cases:
        status, out = api.call(method, path, body, token=token)
        assert status == 400 and fields_of(out) == {field}, (method, path, out)


def test_free_text_keeps_newlines_but_not_other_control_characters(api, owner):
    meter = _meter(api, owner)
    status, body = api.put(f"/devices/{meter['id']}", {"description": "Line 1\nLine 2\tend"}, token=owner)
    assert status == 200 and body["description"] == "Line 1\nLine 2\tend"
    status, body = api.put(f"/devices/{meter['id']}", {"description": "bell\x07"}, token=owner)
    assert status == 400 and fields_of(body) == {"description"}


@pytest.mark.parametrize(
    "raw,field",
    [
        ('{"power_w": 5, "data": {"": 1}}', "data"),
        ('{"power_w": 5, "metadata": {"probe": {"x": NaN}}}', "metadata.probe.x"),
        ('{"power_w": 5, "data": {"a": {"b": {"c": {"d": {"e": 1}}}}}}', "data.a.b.c.d"),
    ],
)
def test_free_form_reading_fields_are_bounded_maps_too(api, owner, raw, field):
    meter = _meter(api, owner)
    status, body = api.call("POST", "/telemetry", raw=raw, headers=meter["key"])
    assert status == 400 and body["error"] == "invalid_field" and fields_of(body) == {field}, body
    assert api.get(f"/devices/{meter['id']}/readings/latest", token=owner)[0] == 404


def test_an_empty_external_id_is_400_not_a_key_dynamodb_refuses(api, owner, admin_token):
    """external_id is a key of the devices table's by-external index, where DynamoDB refuses ""
    (the fuzz found a 502 on POST /devices with external_id "")."""
    body = {"device_type": "light", "external_id": "", "name": "0", "provider": ""}
    status, answer = api.post("/devices", body, token=owner)
    assert status == 400 and "external_id" in fields_of(answer), answer
    device = _meter(api, owner)
    status, answer = api.put(f"/devices/{device['id']}", {"external_id": ""}, token=owner)
    assert status == 400 and "external_id" in fields_of(answer), answer
    status, answer = api.put(f"/devices/{device['id']}", {"external_id": "ext-1"}, token=owner)
    assert status == 200 and answer["external_id"] == "ext-1", answer
