"""Device registry, provisioning in (moto's) AWS IoT, device-facing API and scopes."""

from __future__ import annotations

import json

import boto3
import pytest


def _meter(api, token, **extra):
    return api.create("/devices", {"name": "Kitchen meter", "device_type": "meter", **extra}, token)


@pytest.fixture
def owner(api):
    return api.register("owner@example.com")["token"]


def test_registration_returns_credentials_once_and_stores_no_secret(api, owner, aws):
    created = _meter(api, owner)
    creds = created["credentials"]
    assert creds["certificate_pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" in creds["private_key"]
    assert creds["ca_pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert creds["api_key"].startswith("gpk_")
    assert creds["topics"]["telemetry"] == f"gridpulse/{creds['thing_name']}/telemetry"
    assert creds["iot_endpoint"]

    status, detail = api.get(f"/devices/{created['device_id']}", token=owner)
    text = json.dumps(detail)
    for secret in (creds["api_key"], creds["private_key"], creds["certificate_pem"]):
        assert secret not in text
    table = boto3.resource("dynamodb").Table(aws.physical["DevicesTable"])
    stored = json.dumps(
        table.query(
            KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": f"device#{created['device_id']}"}
        )["Items"],
        default=str,
    )
    assert creds["api_key"] not in stored and "PRIVATE KEY" not in stored


def test_provisioning_creates_a_thing_with_an_exclusive_certificate_and_the_policy(api, owner, aws):
    created = _meter(api, owner)
    creds = created["credentials"]
    iot = boto3.client("iot")
    assert iot.describe_thing(thingName=creds["thing_name"])["attributes"]["device_id"] == created["device_id"]
    cert = iot.describe_certificate(certificateId=creds["certificate_id"])["certificateDescription"]
    assert cert["status"] == "ACTIVE"
    principals = iot.list_thing_principals(thingName=creds["thing_name"])["principals"]
    assert principals == [cert["certificateArn"]]
    policies = iot.list_attached_policies(target=cert["certificateArn"])["policies"]
    assert [p["policyName"] for p in policies] == [aws.physical["DevicePolicy"]]


def test_deleting_a_device_revokes_its_certificate_and_api_key(api, owner):
    created = _meter(api, owner)
    creds = created["credentials"]
    assert api.get("/device/status", headers={"X-API-Key": creds["api_key"]})[0] == 200
    assert api.delete(f"/devices/{created['device_id']}", token=owner)[0] == 200
    iot = boto3.client("iot")
    assert (
        iot.describe_certificate(certificateId=creds["certificate_id"])["certificateDescription"]["status"] == "REVOKED"
    )
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.describe_thing(thingName=creds["thing_name"])
    status, body = api.get("/device/status", headers={"X-API-Key": creds["api_key"]})
    assert status == 401 and body["error"] == "invalid_api_key"
    assert api.get(f"/devices/{created['device_id']}", token=owner)[0] == 404


def test_rotating_credentials_revokes_the_old_ones(api, owner):
    created = _meter(api, owner)
    old = created["credentials"]
    status, new = api.post(f"/devices/{created['device_id']}/rotate-credentials", token=owner)
    assert status == 200 and new["certificate_id"] != old["certificate_id"] and new["api_key"] != old["api_key"]
    iot = boto3.client("iot")
    assert (
        iot.describe_certificate(certificateId=old["certificate_id"])["certificateDescription"]["status"] == "REVOKED"
    )
    assert iot.describe_certificate(certificateId=new["certificate_id"])["certificateDescription"]["status"] == "ACTIVE"
    assert api.get("/device/status", headers={"X-API-Key": old["api_key"]})[0] == 401
    assert api.get("/device/status", headers={"X-API-Key": new["api_key"]})[1]["device_id"] == created["device_id"]


def test_wifi_goes_to_the_shadow_and_the_password_is_never_returned(api, admin_token):
    hotel = api.create("/hotels", {"hotel_name": "H"}, admin_token)
    floor = api.create(f"/hotels/{hotel['hotel_id']}/sections", {"section_name": "F1"}, admin_token)
    room = api.create(f"/sections/{floor['section_id']}/rooms", {"room_number": "101"}, admin_token)
    created = api.create(
        f"/rooms/{room['room_id']}/devices",
        {"device_name": "101 meter", "ssid": "hotel-net", "password": "wifi-secret-1"},
        admin_token,
    )
    thing = created["credentials"]["thing_name"]
    shadow = json.loads(boto3.client("iot-data").get_thing_shadow(thingName=thing)["payload"].read())
    assert shadow["state"]["desired"]["wifi"] == {"ssid": "hotel-net", "password": "wifi-secret-1"}

    status, _ = api.put(
        f"/devices/{created['device_id']}",
        {"wifi": {"ssid": "new-net", "password": "wifi-secret-2"}},
        token=admin_token,
    )
    assert status == 200
    shadow = json.loads(boto3.client("iot-data").get_thing_shadow(thingName=thing)["payload"].read())
    assert shadow["state"]["desired"]["wifi"]["ssid"] == "new-net"
    for view in (
        api.get(f"/devices/{created['device_id']}", token=admin_token)[1],
        api.get(f"/rooms/{room['room_id']}/devices", token=admin_token)[1],
    ):
        assert "wifi-secret" not in json.dumps(view)
    assert api.get(f"/devices/{created['device_id']}", token=admin_token)[1]["wifi_ssid"] == "new-net"


def test_heartbeat_makes_a_device_online_and_a_key_reaches_only_its_device(api, owner):
    a = _meter(api, owner)
    b = _meter(api, owner, name="Other")
    assert api.get(f"/devices/{a['device_id']}", token=owner)[1]["online"] is False
    status, beat = api.post(
        "/device/heartbeat", {"firmware_version": "1.2.0"}, headers={"X-API-Key": a["credentials"]["api_key"]}
    )
    assert status == 200 and beat["online"] is True and beat["device_id"] == a["device_id"]
    detail = api.get(f"/devices/{a['device_id']}", token=owner)[1]
    assert detail["online"] is True and detail["last_seen"] == beat["last_seen"]
    assert api.get(f"/devices/{b['device_id']}", token=owner)[1]["online"] is False
    assert (
        api.get("/device/credentials", headers={"X-API-Key": b["credentials"]["api_key"]})[1]["device_id"]
        == b["device_id"]
    )


def test_device_config_round_trip_and_credentials_hold_no_secret(api, owner):
    created = _meter(api, owner)
    key = {"X-API-Key": created["credentials"]["api_key"]}
    assert api.put("/device/config", {"config": {"interval_s": 30, "batch": 4}}, headers=key)[0] == 200
    assert api.get("/device/config", headers=key)[1]["reported_config"] == {"interval_s": 30, "batch": 4}
    status, who = api.get("/device/credentials", headers=key)
    assert set(who) == {"device_id", "name", "thing_name", "topics"}
    status, body = api.put("/device/config", {"config": "not an object"}, headers=key)
    assert status == 400 and body["fields"][0]["field"] == "config"


def test_wrong_or_missing_api_key_is_401(api):
    assert api.get("/device/status")[1]["error"] == "missing_api_key"
    assert api.post("/device/heartbeat", headers={"X-API-Key": "gpk_nope"})[0] == 401


def test_other_users_cannot_read_change_or_delete_a_device(api, owner):
    created = _meter(api, owner)
    did = created["device_id"]
    stranger = api.register("stranger@example.com")["token"]
    assert api.get(f"/devices/{did}", token=stranger)[0] == 404
    assert api.put(f"/devices/{did}", {"name": "mine now"}, token=stranger)[0] == 404
    assert api.delete(f"/devices/{did}", token=stranger)[0] == 404
    assert api.post(f"/devices/{did}/rotate-credentials", token=stranger)[0] == 404
    assert api.get("/devices", token=stranger)[1]["items"] == []
    assert [d["device_id"] for d in api.get("/devices", token=owner)[1]["items"]] == [did]


def test_hotel_scope_reads_but_only_owner_or_admin_changes(api, admin_token):
    hotel = api.create("/hotels", {"hotel_name": "H"}, admin_token)
    floor = api.create(f"/hotels/{hotel['hotel_id']}/sections", {"section_name": "F1"}, admin_token)
    room = api.create(f"/sections/{floor['section_id']}/rooms", {"room_number": "101"}, admin_token)
    operator = api.user(admin_token, "op@example.com", "operator", hotel_ids=[hotel["hotel_id"]])
    viewer = api.user(admin_token, "v@example.com", "viewer", hotel_ids=[hotel["hotel_id"]])
    outsider = api.user(admin_token, "out@example.com", "operator", hotel_ids=["another-hotel"])
    created = api.create(f"/rooms/{room['room_id']}/devices", {"device_name": "m"}, operator)
    did = created["device_id"]
    assert api.get(f"/devices/{did}", token=viewer)[0] == 200
    assert [d["device_id"] for d in api.get("/devices", token=viewer)[1]["items"]] == [did]
    assert api.put(f"/devices/{did}", {"name": "x"}, token=viewer)[0] == 403
    assert api.post(f"/rooms/{room['room_id']}/devices", {"device_name": "m2"}, token=viewer)[0] == 403
    assert api.get(f"/devices/{did}", token=outsider)[0] == 404
    assert api.get(f"/rooms/{room['room_id']}/devices", token=outsider)[0] == 404
    assert api.post(f"/rooms/{room['room_id']}/devices", {"device_name": "m3"}, token=outsider)[0] == 404


def test_mass_assignment_is_refused(api, owner):
    status, body = api.post(
        "/devices",
        {"name": "m", "device_type": "meter", "owner_id": "someone-else", "api_key": "mine", "thing_name": "x"},
        token=owner,
    )
    assert status == 400 and {f["field"] for f in body["fields"]} == {"owner_id", "api_key", "thing_name"}


def test_bad_device_input_names_every_field(api, owner):
    status, body = api.post("/devices", {"name": "", "device_type": "toaster", "latitude": 123}, token=owner)
    assert status == 400 and {f["field"] for f in body["fields"]} == {"name", "device_type", "latitude"}
    status, body = api.post("/devices", {"name": "p", "device_type": "prepaid_meter"}, token=owner)
    assert status == 400


def test_lists_filter_and_page(api, owner):
    for i in range(3):
        _meter(api, owner, name=f"m{i}")
    api.create("/devices", {"name": "lamp", "device_type": "light", "city": "Lisbon"}, owner)
    lights = api.get("/devices", token=owner, query={"device_type": "light"})[1]
    assert [d["name"] for d in lights["items"]] == ["lamp"]
    by_city = api.get("/devices", token=owner, query={"city": "lisbon"})[1]
    assert [d["name"] for d in by_city["items"]] == ["lamp"]
    names, token = [], None
    while True:
        page = api.get("/devices", token=owner, query={"limit": 2, **({"next_token": token} if token else {})})[1]
        names += [d["name"] for d in page["items"]]
        token = page["next_token"]
        if not token:
            break
    assert sorted(names) == ["lamp", "m0", "m1", "m2"]


def test_an_unknown_type_or_status_filter_is_a_400_not_an_empty_list(api, owner):
    _meter(api, owner)
    for field, value in (("device_type", "bogus"), ("status", "online")):
        status, body = api.get("/devices", token=owner, query={field: value})
        assert status == 400 and body["fields"][0]["field"] == field, body
    assert api.get("/devices", token=owner, query={"status": "active"})[1]["count"] == 1


def test_user_devices_route_is_self_or_admin(api, admin_token, owner):
    created = _meter(api, owner)
    me = api.get("/auth/me", token=owner)[1]
    assert [d["device_id"] for d in api.get(f"/users/{me['user_id']}/devices", token=owner)[1]["items"]] == [
        created["device_id"]
    ]
    assert api.get(f"/users/{me['user_id']}/devices", token=admin_token)[1]["count"] == 1
    stranger = api.register("s@example.com")["token"]
    assert api.get(f"/users/{me['user_id']}/devices", token=stranger)[0] == 404


def test_admin_counts_and_statuses_track_devices(api, admin_token, owner):
    a = _meter(api, owner)
    _meter(api, owner)
    api.put(f"/devices/{a['device_id']}", {"status": "maintenance"}, token=owner)
    api.post("/device/heartbeat", headers={"X-API-Key": a["credentials"]["api_key"]})
    stats = api.get("/admin/stats", token=admin_token)[1]
    assert stats["total_devices"] == 2 and stats["active_devices"] == 1
    rows = api.get("/admin/devices/statuses", token=admin_token)[1]["items"]
    assert sorted(r["online"] for r in rows) == [False, True]


def test_deleting_a_user_deprovisions_its_devices(api, admin_token, owner):
    created = _meter(api, owner)
    me = api.get("/auth/me", token=owner)[1]
    assert api.delete(f"/users/{me['user_id']}", token=admin_token)[0] == 200
    cert = boto3.client("iot").describe_certificate(certificateId=created["credentials"]["certificate_id"])
    assert cert["certificateDescription"]["status"] == "REVOKED"
    assert api.get(f"/devices/{created['device_id']}", token=admin_token)[0] == 404
    assert api.get("/admin/stats", token=admin_token)[1]["total_devices"] == 0


def test_deleting_a_device_queues_the_removal_of_its_data(api, owner, aws):
    """Readings, rollups, alerts, rules and forecasts of a deleted device are
    removed in the background (CleanupFunction, fed by the cleanup queue)."""
    from datetime import datetime, timedelta, timezone

    from gridpulse.devices.cleanup import handle_sqs_batch

    created = _meter(api, owner, power_rating_w=1000)
    key = {"X-API-Key": created["credentials"]["api_key"]}
    now = datetime.now(timezone.utc)
    batch = {
        "readings": [
            {"timestamp": (now - timedelta(minutes=5 - i)).isoformat(), "power_w": 50, "energy_kwh": 1 + i / 100}
            for i in range(5)
        ]
    }
    assert api.post("/telemetry", batch, headers=key)[0] == 201
    api.put(f"/devices/{created['device_id']}/alert-rules", {"max_power_w": 10}, token=owner)
    from gridpulse.forecasts.data import ForecastItem, device_pk, forecast_sk

    for n in range(2):  # two stored forecasts (as the worker or POST predict leaves them)
        ForecastItem(
            device_pk(created["device_id"]),
            forecast_sk(1_800_000_000_000 + n, f"f{n}"),
            device_id=created["device_id"],
            forecast_id=f"f{n}",
            generated_at="2027-01-15T08:00:00Z",
            method="seasonal_naive",
            body="{}",
            ttl=1_900_000_000,
        ).save()
    assert api.delete(f"/devices/{created['device_id']}", token=owner)[0] == 200

    sqs = boto3.client("sqs")
    messages = sqs.receive_message(QueueUrl=aws.physical["CleanupQueue"], MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"]) for m in messages] == [{"device_id": created["device_id"]}]
    result = handle_sqs_batch({"Records": [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]})
    assert result == {"batchItemFailures": []}
    for table in ("TelemetryTable", "DevicesTable", "ForecastsTable"):
        left = boto3.client("dynamodb").query(
            TableName=aws.physical[table],
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"device#{created['device_id']}"}},
        )["Items"]
        assert left == [], table


def test_an_owner_cannot_put_its_private_meter_into_a_citys_scope(api, owner, admin_token):
    staff = api.user(admin_token, "city@example.com", "operator", cities=["Lisbon"])
    meter = _meter(api, owner, city="Lisbon")["device_id"]
    moved = _meter(api, owner, name="moved")["device_id"]
    assert api.put(f"/devices/{moved}", {"city": "lisbon"}, token=owner)[0] == 200
    lamp = api.create("/devices", {"name": "lamp", "device_type": "light", "city": "Lisbon"}, owner)["device_id"]
    placed = api.create("/devices", {"name": "city meter", "device_type": "meter", "city": "Lisbon"}, admin_token)[
        "device_id"
    ]

    for hidden in (meter, moved):
        assert api.get(f"/devices/{hidden}", token=staff)[0] == 404
        assert api.get(f"/devices/{hidden}/readings", token=staff)[0] == 404
    assert api.get(f"/devices/{lamp}", token=staff)[0] == 200
    assert api.get(f"/devices/{placed}", token=staff)[0] == 200
    listed = {d["device_id"] for d in api.get("/devices", token=staff)[1]["items"]}
    assert listed == {lamp, placed}
    by_city = {d["device_id"] for d in api.get("/devices", token=staff, query={"city": "Lisbon"})[1]["items"]}
    assert by_city == {lamp, placed}
    # The owner still finds its own meters by the city it gave them.
    mine = {d["device_id"] for d in api.get("/devices", token=owner, query={"city": "Lisbon"})[1]["items"]}
    assert mine == {meter, moved, lamp}
    # An admin may place an owner's meter in a city; the owner changing the city takes it out again.
    assert api.put(f"/devices/{meter}", {"city": "Lisbon"}, token=admin_token)[0] == 200
    assert api.get(f"/devices/{meter}", token=staff)[0] == 200
    assert api.put(f"/devices/{meter}", {"city": "Lisbon"}, token=owner)[0] == 200
    assert api.get(f"/devices/{meter}", token=staff)[0] == 404
