"""Device groups through the API Gateway stand-in."""
from __future__ import annotations

import pytest


@pytest.fixture
def owner(api):
    return api.register("owner@example.com")["token"]


def _device(api, token, name="m"):
    return api.create("/devices", {"name": name, "device_type": "meter"}, token)["device_id"]


def test_group_life_cycle_keeps_devices(api, owner):
    a, b = _device(api, owner, "a"), _device(api, owner, "b")
    group = api.create("/groups", {"name": "Kitchen", "color": "#00ff00"}, owner)
    gid = group["group_id"]
    assert api.post(f"/groups/{gid}/devices", {"device_id": a}, token=owner)[0] == 201
    status, body = api.post(f"/groups/{gid}/devices", {"device_id": a}, token=owner)
    assert status == 409 and body["error"] == "already_in_group"
    bulk = api.post(f"/groups/{gid}/devices/bulk", {"device_ids": [a, b, "nope"]}, token=owner)[1]
    assert bulk["added"] == [b]
    assert {(s["device_id"], s["reason"]) for s in bulk["skipped"]} == {(a, "already_in_group"),
                                                                        ("nope", "device_not_found")}
    assert sorted(api.get(f"/groups/{gid}", token=owner)[1]["device_ids"]) == sorted([a, b])
    listed = api.get("/groups", token=owner, query={"include_devices": "true"})[1]["items"]
    assert listed[0]["device_count"] == 2
    assert {d["device_id"] for d in api.get(f"/groups/{gid}/devices", token=owner)[1]["items"]} == {a, b}
    assert [g["group_id"] for g in api.get(f"/devices/{a}/groups", token=owner)[1]["items"]] == [gid]

    assert api.put(f"/groups/{gid}", {"name": "Kitchen 2"}, token=owner)[1]["name"] == "Kitchen 2"
    assert api.delete(f"/groups/{gid}/devices/{a}", token=owner)[0] == 200
    assert api.delete(f"/groups/{gid}/devices/{a}", token=owner)[0] == 404
    assert api.get(f"/devices/{a}/groups", token=owner)[1]["items"] == []
    assert api.delete(f"/groups/{gid}", token=owner)[0] == 200
    assert api.get(f"/groups/{gid}", token=owner)[0] == 404
    assert api.get(f"/devices/{b}", token=owner)[0] == 200
    assert api.get(f"/devices/{b}/groups", token=owner)[1]["items"] == []


def test_groups_are_private_and_only_visible_devices_can_be_added(api, owner):
    mine = _device(api, owner)
    gid = api.create("/groups", {"name": "Mine"}, owner)["group_id"]
    stranger = api.register("s@example.com")["token"]
    theirs = _device(api, stranger)
    assert api.get(f"/groups/{gid}", token=stranger)[0] == 404
    assert api.post(f"/groups/{gid}/devices", {"device_id": theirs}, token=stranger)[0] == 404
    assert api.delete(f"/groups/{gid}", token=stranger)[0] == 404
    assert api.get("/groups", token=stranger)[1]["items"] == []
    status, body = api.post(f"/groups/{gid}/devices", {"device_id": theirs}, token=owner)
    assert status == 404 and body["error"] == "device_not_found"
    assert api.get(f"/devices/{mine}/groups", token=stranger)[0] == 404


def test_admin_can_manage_any_group(api, owner, admin_token):
    gid = api.create("/groups", {"name": "Mine"}, owner)["group_id"]
    assert api.get(f"/groups/{gid}", token=admin_token)[0] == 200
    assert api.delete(f"/groups/{gid}", token=admin_token)[0] == 200


def test_bad_group_input(api, owner):
    status, body = api.post("/groups", {"name": "", "color": "red", "owner_id": "x"}, token=owner)
    assert status == 400 and {f["field"] for f in body["fields"]} == {"name", "color", "owner_id"}
    gid = api.create("/groups", {"name": "G"}, owner)["group_id"]
    status, body = api.post(f"/groups/{gid}/devices/bulk", {"device_ids": []}, token=owner)
    assert status == 400 and body["fields"][0]["field"] == "device_ids"
    status, body = api.post(f"/groups/{gid}/devices/bulk", {"device_ids": [str(i) for i in range(101)]}, token=owner)
    assert status == 400


def test_deleting_a_device_removes_it_from_groups(api, owner):
    did = _device(api, owner)
    gid = api.create("/groups", {"name": "G"}, owner)["group_id"]
    api.post(f"/groups/{gid}/devices", {"device_id": did}, token=owner)
    api.delete(f"/devices/{did}", token=owner)
    assert api.get(f"/groups/{gid}", token=owner)[1]["device_ids"] == []
