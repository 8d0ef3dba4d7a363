"""The dashboard's data pages in a real Chromium against the running local stack:
the overview's numbers are the API's, a hotel drills down to a room's live usage,
a device's readings chart is drawn with its data table, an alert is resolved
from the alerts page, and a viewer sees no operator or admin controls.

The data is made through the API: a hotel, a floor, a room with a meter that
publishes readings with POST /telemetry and its X-API-Key."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, local_only, sign_in

pytestmark = [pytest.mark.e2e, local_only("the dashboard, which the local gateway serves at /")]

VIEWER_PASSWORD = "correct-horse-1"


def _ok(response, status=(200, 201)):
    assert response.status_code in ((status,) if isinstance(status, int) else status), response.text
    return response.json()


@pytest.fixture(scope="module")
def site(stack):
    """A hotel -> floor -> room with a meter that sent 3 hours of readings (one refused),
    and a viewer scoped to that hotel."""
    admin = stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    tag = uuid.uuid4().hex[:6]
    hotel = _ok(stack.request("POST", "/hotels", admin, json={"hotel_name": f"Web Hotel {tag}", "timezone": "UTC"}))
    floor = _ok(stack.request("POST", f"/hotels/{hotel['hotel_id']}/sections", admin, json={"section_name": "Floor 1"}))
    room = _ok(stack.request("POST", f"/sections/{floor['section_id']}/rooms", admin, json={"room_number": "101"}))
    meter = _ok(
        stack.request(
            "POST",
            f"/rooms/{room['room_id']}/devices",
            admin,
            json={"device_name": f"Room 101 meter {tag}", "ssid": "hotel", "password": "password1"},
        )
    )
    key = {"X-API-Key": meter["credentials"]["api_key"]}
    now = datetime.now(timezone.utc).replace(microsecond=0)
    readings = [
        {
            "timestamp": (now - timedelta(minutes=m)).isoformat().replace("+00:00", "Z"),
            "energy_kwh": round(50 + (180 - m) * 0.01, 3),
            "power_w": 600 + (m % 7) * 10,
            "voltage": 230,
        }
        for m in range(181, 0, -10)
    ]
    readings.append({"timestamp": now.isoformat().replace("+00:00", "Z"), "voltage": -5})  # refused: quarantined
    answer = stack.request("POST", "/telemetry", headers=key, json={"readings": readings})
    assert answer.status_code == 207, answer.text
    email = f"web-viewer-{tag}@example.com"
    _ok(
        stack.request(
            "POST",
            "/users",
            admin,
            json={
                "name": "Hotel viewer",
                "email": email,
                "password": VIEWER_PASSWORD,
                "role": "viewer",
                "hotel_ids": [hotel["hotel_id"]],
            },
        )
    )
    return {
        "admin": admin,
        "hotel": hotel,
        "room": room,
        "device_id": meter["device_id"],
        "readings": len(readings) - 1,
        "viewer": (email, VIEWER_PASSWORD),
        "viewer_token": stack.login(email, VIEWER_PASSWORD),
    }


def test_overview_numbers_are_the_apis(stack, page, site, web_built):
    sign_in(page, *site["viewer"])
    page.locator("#today").wait_for()
    api = _ok(stack.request("GET", "/overview", site["viewer_token"]))
    assert [d["device_id"] for d in api["devices"]] == [site["device_id"]]
    for span in ("today", "month"):
        shown = Decimal(page.locator(f"#{span} .value").get_attribute("data-kwh"))
        assert shown == Decimal(api[span]["kwh"]) > 0
        energy = _ok(
            stack.request(
                "GET",
                f"/devices/{site['device_id']}/energy",
                site["viewer_token"],
                params={"period": "day", "start": api[span]["start"], "end": api[span]["end"], "tz": api["tz"]},
            )
        )
        assert shown == Decimal(str(energy["total_kwh"])).quantize(Decimal("0.000001"))
    assert page.locator("#sites").get_by_role("link", name=site["hotel"]["hotel_name"]).is_visible()
    assert page.locator("#devices").get_by_role("link", name=re.compile("Room 101 meter")).is_visible()
    assert "W" in page.locator("#power .value").inner_text()
    assert web_built["first_load_gzip"] <= web_built["budget_gzip"]


def test_drill_into_a_hotel_then_a_room_and_see_its_usage(stack, page, site):
    sign_in(page)
    page.goto("/#/hotels")
    page.get_by_role("link", name=site["hotel"]["hotel_name"]).click()
    page.get_by_role("heading", name=site["hotel"]["hotel_name"]).wait_for()
    page.get_by_role("heading", name=re.compile("Floor 1")).wait_for()
    bar = page.get_by_role("img", name=re.compile(r"Room 101: .*kWh"))
    assert bar.is_visible() and not bar.get_attribute("aria-label").endswith(": 0 kWh")
    page.get_by_text("Show as a table").click()
    assert page.get_by_role("cell", name="101", exact=True).is_visible()

    page.get_by_role("link", name="Room 101", exact=True).click()  # the forecast card may link "Room 101 meter"
    page.get_by_role("heading", name="Room 101").wait_for()
    live = _ok(stack.request("GET", f"/rooms/{site['room']['room_id']}/real-time-usage", site["admin"]))
    assert Decimal(page.locator("#room-today .value").get_attribute("data-kwh")) == Decimal(str(live["current_kwh"]))
    assert page.locator("#room-devices").get_by_role("link", name=re.compile("Room 101 meter")).is_visible()
    # it updates on its own
    with page.expect_response(re.compile(r"/rooms/.+/real-time-usage"), timeout=8000):
        pass


def test_a_device_page_draws_its_readings_and_lists_the_quarantined_one(stack, page, site):
    sign_in(page)
    page.goto(f"/#/devices/{site['device_id']}")
    page.get_by_role("heading", name=re.compile("Room 101 meter")).wait_for()
    page.locator("#readings-chart canvas").wait_for()
    page.get_by_text("Show the readings as a table").click()
    table = page.locator("#readings-table")
    assert table.locator("tbody tr").count() == site["readings"]
    page.locator("#rejected").get_by_role("cell", name="out_of_range").wait_for()
    page.get_by_role("button", name="1 h").click()
    expect(page.locator("#readings-table caption")).not_to_have_text(f"{site['readings']} readings")
    assert table.locator("tbody tr").count() in (5, 6)  # the readings of the last hour
    page.locator("#energy-day canvas").wait_for()
    # an admin may forecast now: three hours of history is not enough, and the page says so
    page.get_by_role("button", name="Forecast now").click()
    assert "Not enough history" in page.locator("#insufficient-history").inner_text()
    assert page.locator("#alert-rules").is_visible()


def test_an_alert_is_resolved_from_the_alerts_page(stack, page, site):
    message = f"Check the breaker {uuid.uuid4().hex[:6]}"
    alert = _ok(
        stack.request(
            "POST",
            "/alerts",
            site["admin"],
            json={"device_id": site["device_id"], "message": message, "alert_type": "manual", "severity": "warning"},
        )
    )
    sign_in(page)
    page.goto("/#/alerts?status=open")
    page.get_by_role("button", name=f"Resolve: {message}").click()
    page.get_by_text("Resolved.").wait_for()
    row = page.locator("#alerts tr", has_text=message)
    assert row.get_by_role("cell", name="resolved", exact=True).is_visible()
    listed = _ok(stack.request("GET", "/alerts", site["admin"], params={"device_id": site["device_id"]}))
    assert {a["alert_id"]: a["status"] for a in listed["items"]}[alert["alert_id"]] == "resolved"


def test_a_viewer_sees_no_operator_or_admin_controls(stack, page, site):
    message = f"Viewer sees this {uuid.uuid4().hex[:6]}"
    _ok(
        stack.request(
            "POST",
            "/alerts",
            site["admin"],
            json={"device_id": site["device_id"], "message": message, "alert_type": "manual", "severity": "info"},
        )
    )
    sign_in(page, *site["viewer"])
    assert not page.get_by_role("link", name="Users").is_visible()
    page.goto(f"/#/devices/{site['device_id']}")
    page.locator("#readings-chart canvas").wait_for()
    page.get_by_role("heading", name="Quarantined readings").wait_for()
    assert page.get_by_role("button", name="Forecast now").count() == 0
    assert page.locator("#alert-rules").count() == 0
    page.goto("/#/alerts?status=open")
    row = page.locator("#alerts tr", has_text=message)
    row.wait_for()
    assert row.get_by_role("button", name="Mark read").is_visible()
    assert row.get_by_role("button", name=re.compile("Resolve")).count() == 0
    page.goto("/#/admin/users")
    page.get_by_role("heading", name="Not allowed").wait_for()
