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
    assert {(s["device_id"], s["reason"]) for s in bulk["skipped"]} == {
        (a, "already_in_group"),
        ("nope", "device_not_found"),
    }
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


def test_group_reads_follow_the_callers_current_scope(api, admin_token):
    hotel = api.create("/hotels", {"hotel_name": "H"}, admin_token)
    floor = api.create(f"/hotels/{hotel['hotel_id']}/sections", {"section_name": "F1"}, admin_token)
    room = api.create(f"/sections/{floor['section_id']}/rooms", {"room_number": "101"}, admin_token)
    did = api.create(
        "/devices", {"name": "hotel meter", "device_type": "meter", "room_id": room["room_id"]}, admin_token
    )["device_id"]
    viewer = api.user(admin_token, "v@example.com", "viewer", hotel_ids=[hotel["hotel_id"]])
    own = _device(api, viewer, "own")
    gid = api.create("/groups", {"name": "Watched"}, viewer)["group_id"]
    assert api.post(f"/groups/{gid}/devices/bulk", {"device_ids": [did, own]}, token=viewer)[1]["added"] == [did, own]
    assert {d["device_id"] for d in api.get(f"/groups/{gid}/devices", token=viewer)[1]["items"]} == {did, own}

    me = api.get("/auth/me", token=viewer)[1]
    assert api.put(f"/users/{me['user_id']}", {"hotel_ids": []}, token=admin_token)[0] == 200
    assert api.get(f"/devices/{did}", token=viewer)[0] == 404
    status, page = api.get(f"/groups/{gid}/devices", token=viewer)
    assert status == 200 and [d["device_id"] for d in page["items"]] == [own], page
    assert api.get(f"/groups/{gid}", token=viewer)[1]["device_ids"] == [own]
    listed = api.get("/groups", token=viewer, query={"include_devices": "true"})[1]["items"][0]
    assert (listed["device_ids"], listed["device_count"]) == ([own], 1)
    assert api.put(f"/groups/{gid}", {"name": "W"}, token=viewer)[1]["device_ids"] == [own]
    assert api.get(f"/devices/{did}/groups", token=viewer)[0] == 404
    # Scope back: the membership was kept, so the device shows again.
    assert api.put(f"/users/{me['user_id']}", {"hotel_ids": [hotel["hotel_id"]]}, token=admin_token)[0] == 200
    assert {d["device_id"] for d in api.get(f"/groups/{gid}/devices", token=viewer)[1]["items"]} == {did, own}
