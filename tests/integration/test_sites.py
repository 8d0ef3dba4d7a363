"""Hotels -> sections -> rooms, with scopes, through the API Gateway stand-in."""

from __future__ import annotations

import pytest


@pytest.fixture
def hotel(api, admin_token):
    """A hotel with two floors and rooms, built by the admin."""
    h = api.create(
        "/hotels", {"hotel_name": "Sea View", "address": "1 Beach Rd", "timezone": "Europe/Lisbon"}, admin_token
    )
    floors = [
        api.create(f"/hotels/{h['hotel_id']}/sections", {"section_name": name}, admin_token)
        for name in ("Floor 2", "Floor 1")
    ]
    rooms = [
        api.create(f"/sections/{floors[1]['section_id']}/rooms", {"room_number": n}, admin_token)
        for n in ("102", "101")
    ]
    return {"hotel": h, "floors": floors, "rooms": rooms}


def test_hierarchy_is_created_and_listed_in_order(api, admin_token, hotel):
    hid = hotel["hotel"]["hotel_id"]
    status, hotels = api.get("/hotels", token=admin_token)
    assert status == 200 and [h["hotel_id"] for h in hotels["items"]] == [hid]
    status, sections = api.get(f"/hotels/{hid}/sections", token=admin_token)
    assert [s["section_name"] for s in sections["items"]] == ["Floor 1", "Floor 2"]
    floor1 = sections["items"][0]["section_id"]
    status, rooms = api.get(f"/sections/{floor1}/rooms", token=admin_token)
    assert [(r["room_number"], r["occupancy_status"]) for r in rooms["items"]] == [("101", "vacant"), ("102", "vacant")]
    assert api.get(f"/hotels/{hid}", token=admin_token)[1]["timezone"] == "Europe/Lisbon"


def test_unknown_time_zone_is_400(api, admin_token):
    status, body = api.post("/hotels", {"hotel_name": "X", "timezone": "Mars/Base"}, token=admin_token)
    assert status == 400 and body["fields"][0]["field"] == "timezone"


def test_bad_room_input_names_the_fields(api, admin_token, hotel):
    floor = hotel["floors"][0]["section_id"]
    status, body = api.post(
        f"/sections/{floor}/rooms", {"room_number": "", "occupancy_status": "party"}, token=admin_token
    )
    assert status == 400 and {f["field"] for f in body["fields"]} == {"room_number", "occupancy_status"}


def test_only_admins_create_hotels(api, admin_token):
    operator = api.user(admin_token, "op@example.com", "operator")
    assert api.post("/hotels", {"hotel_name": "Mine"}, token=operator)[0] == 403


def test_scoped_viewer_sees_its_hotel_only_and_cannot_write(api, admin_token, hotel):
    hid = hotel["hotel"]["hotel_id"]
    other = api.create("/hotels", {"hotel_name": "Elsewhere"}, admin_token)
    viewer = api.user(admin_token, "v@example.com", "viewer", hotel_ids=[hid])
    status, hotels = api.get("/hotels", token=viewer)
    assert [h["hotel_id"] for h in hotels["items"]] == [hid]
    assert api.get(f"/hotels/{other['hotel_id']}", token=viewer)[0] == 404
    assert api.get(f"/hotels/{other['hotel_id']}/sections", token=viewer)[0] == 404
    assert api.get(f"/hotels/{hid}/sections", token=viewer)[0] == 200
    assert api.post(f"/hotels/{hid}/sections", {"section_name": "F3"}, token=viewer)[0] == 403
    room = hotel["rooms"][0]["room_id"]
    assert api.put(f"/rooms/{room}", {"occupancy_status": "occupied"}, token=viewer)[0] == 403


def test_operator_manages_its_hotel_and_gets_404_elsewhere(api, admin_token, hotel):
    hid = hotel["hotel"]["hotel_id"]
    other = api.create("/hotels", {"hotel_name": "Elsewhere"}, admin_token)
    other_floor = api.create(f"/hotels/{other['hotel_id']}/sections", {"section_name": "G"}, admin_token)
    operator = api.user(admin_token, "op@example.com", "operator", hotel_ids=[hid])
    floor = api.create(f"/hotels/{hid}/sections", {"section_name": "Floor 3"}, operator)
    room = api.create(
        f"/sections/{floor['section_id']}/rooms", {"room_number": "301", "occupancy_status": "occupied"}, operator
    )
    assert (
        api.put(f"/rooms/{room['room_id']}", {"occupancy_status": "vacant"}, token=operator)[1]["occupancy_status"]
        == "vacant"
    )
    assert api.post(f"/hotels/{other['hotel_id']}/sections", {"section_name": "x"}, token=operator)[0] == 404
    assert api.post(f"/sections/{other_floor['section_id']}/rooms", {"room_number": "1"}, token=operator)[0] == 404
    assert api.delete(f"/sections/{other_floor['section_id']}", token=operator)[0] == 404
    assert api.put(f"/hotels/{hid}", {"hotel_name": "renamed"}, token=operator)[0] == 403


def test_a_user_without_scope_sees_no_hotels(api, admin_token, hotel):
    stranger = api.register("s@example.com")["token"]
    assert api.get("/hotels", token=stranger)[1] == {"items": [], "count": 0, "next_token": None}
    assert api.get(f"/sections/{hotel['floors'][0]['section_id']}/rooms", token=stranger)[0] == 404


def test_deleting_a_hotel_with_sections_needs_cascade(api, admin_token, hotel):
    hid = hotel["hotel"]["hotel_id"]
    status, body = api.delete(f"/hotels/{hid}", token=admin_token)
    assert status == 409 and body["error"] == "has_children"
    status, body = api.delete(f"/hotels/{hid}", token=admin_token, query={"cascade": "true"})
    assert status == 200 and body["removed"]["sections"] == 2 and body["removed"]["rooms"] == 2
    assert api.get(f"/hotels/{hid}", token=admin_token)[0] == 404
    for room in hotel["rooms"]:
        assert api.get(f"/rooms/{room['room_id']}/devices", token=admin_token)[0] == 404
    assert api.get(f"/sections/{hotel['floors'][0]['section_id']}/rooms", token=admin_token)[0] == 404


def test_cascade_detaches_devices_and_keeps_them(api, admin_token, hotel):
    room = hotel["rooms"][0]["room_id"]
    device = api.create(f"/rooms/{room}/devices", {"device_name": "meter"}, admin_token)
    status, body = api.delete(f"/rooms/{room}", token=admin_token)
    assert status == 409
    status, body = api.delete(f"/hotels/{hotel['hotel']['hotel_id']}", token=admin_token, query={"cascade": "true"})
    assert body["removed"]["devices_detached"] == 1
    status, kept = api.get(f"/devices/{device['device_id']}", token=admin_token)
    assert status == 200 and kept["room_id"] is None and kept["hotel_id"] is None
