"""The "Next 24 hours (forecast)" card of the hotel and room pages in a real Chromium
against the running local stack: a meter with three days of hourly counter readings
(POST /telemetry with its X-API-Key) is forecast (POST /devices/{id}/predict); a viewer
scoped to the hotel sees the hotel's and the room's card with the API's hourly values,
total and summed bounds, the meter of another room listed (and linked) as having no
forecast yet, and that other room's page says no device has a forecast."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, ARTIFACTS, local_only, sign_in

pytestmark = [pytest.mark.e2e, local_only("the dashboard, which the local gateway serves at /")]


def _ok(response, status=(200, 201)):
    assert response.status_code in ((status,) if isinstance(status, int) else status), response.text
    return response.json()


def _kwh(text: str) -> Decimal:
    """'0.25 kWh' (as the page formats it, up to 3 decimals) -> Decimal."""
    return Decimal(text.replace("kWh", "").replace(",", "").strip())


def _check_card(page, api: dict, included: str, missing: tuple[str, str] | None) -> None:
    card = page.locator("#area-forecast")
    card.get_by_role("heading", name="Next 24 hours (forecast)").wait_for()
    card.locator("#area-forecast-chart canvas").wait_for()
    assert api["items"], api
    total = sum(Decimal(i["kwh"]) for i in api["items"])
    assert Decimal(card.locator("#forecast-total .value").get_attribute("data-kwh")) == total > 0
    bounds = card.locator("#forecast-bounds .value")
    assert Decimal(bounds.get_attribute("data-lower")) == sum(Decimal(i["kwh_lower"]) for i in api["items"])
    assert Decimal(bounds.get_attribute("data-upper")) == sum(Decimal(i["kwh_upper"]) for i in api["items"])
    assert Decimal(bounds.get_attribute("data-lower")) < total < Decimal(bounds.get_attribute("data-upper"))
    assert card.locator("#forecast-devices .value").inner_text() == included
    # the table alternative: one row per hour of the API's answer, the same hour and values
    card.get_by_text("Show the forecast as a table").click()
    rows = card.locator("#area-forecast-table tbody tr")
    assert rows.count() == len(api["items"])
    hours = page.evaluate("(ts) => ts.map((t) => new Date(t).toLocaleString())", [i["timestamp"] for i in api["items"]])
    for n, item in enumerate(api["items"]):
        hour, forecast, interval = rows.nth(n).locator("td").all_inner_texts()
        assert hour == hours[n]
        assert _kwh(forecast) == Decimal(item["kwh"])
        low, high = interval.split("–")
        assert (_kwh(low), _kwh(high)) == (Decimal(item["kwh_lower"]), Decimal(item["kwh_upper"]))
    if missing is None:
        assert card.locator("#devices-without-forecast").count() == 0
        return
    # a device without a forecast yet is listed with a link to its page
    name, device_id = missing
    link = card.locator("#devices-without-forecast").get_by_role("link", name=name)
    assert link.get_attribute("href") == f"#/devices/{device_id}"


def test_hotel_and_room_pages_show_the_next_24_hours_forecast(stack, page):
    admin = stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    tag = uuid.uuid4().hex[:6]
    hotel = _ok(
        stack.request("POST", "/hotels", admin, json={"hotel_name": f"Forecast Hotel {tag}", "timezone": "UTC"})
    )
    floor = _ok(stack.request("POST", f"/hotels/{hotel['hotel_id']}/sections", admin, json={"section_name": "Floor 1"}))
    rooms = [
        _ok(stack.request("POST", f"/sections/{floor['section_id']}/rooms", admin, json={"room_number": n}))
        for n in ("201", "202")
    ]
    meters = [
        _ok(
            stack.request(
                "POST", f"/rooms/{room['room_id']}/devices", admin, json={"device_name": f"Room {n} meter {tag}"}
            )
        )
        for room, n in zip(rooms, ("201", "202"))
    ]
    # Room 201's meter sends three days of hourly counter readings (uneven hours, so the
    # forecast's interval has a width) and is forecast.
    hour = datetime.now(timezone.utc).replace(minute=30, second=0, microsecond=0)
    steps = [Decimal(s) for s in ("0.20", "0.30", "0.25", "0.40", "0.10", "0.35", "0.15")]
    counter, readings = Decimal(50), []
    for i in range(73):
        counter += steps[i % len(steps)]
        readings.append({"timestamp": (hour - timedelta(hours=73 - i)).isoformat(), "energy_kwh": float(counter)})
    key = {"X-API-Key": meters[0]["credentials"]["api_key"]}
    assert stack.request("POST", "/telemetry", headers=key, json={"readings": readings}).status_code == 201
    _ok(stack.request("POST", f"/devices/{meters[0]['device_id']}/predict", admin))

    email = f"forecast-viewer-{tag}@example.com"
    user = {"name": "Hotel viewer", "email": email, "password": "correct-horse-1", "role": "viewer"}
    _ok(stack.request("POST", "/users", admin, json={**user, "hotel_ids": [hotel["hotel_id"]]}))
    viewer = stack.login(email, "correct-horse-1")
    sign_in(page, email, "correct-horse-1")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    # The hotel: both rooms' meters, one forecast.
    api = _ok(stack.request("GET", f"/hotels/{hotel['hotel_id']}/forecast", viewer))
    assert api["devices_without_forecast"] == [meters[1]["device_id"]]
    page.goto(f"/#/hotels/{hotel['hotel_id']}")
    page.get_by_role("heading", name=hotel["hotel_name"]).wait_for()
    _check_card(page, api, "1 of 2", (f"Room 202 meter {tag}", meters[1]["device_id"]))
    page.screenshot(path=str(ARTIFACTS / "forecast_hotel.png"), full_page=True)

    # Room 201: its meter's forecast (the same hours and values as the hotel's).
    api = _ok(stack.request("GET", f"/rooms/{rooms[0]['room_id']}/forecast", viewer))
    page.goto(f"/#/rooms/{rooms[0]['room_id']}")
    page.get_by_role("heading", name="Room 201").wait_for()
    _check_card(page, api, "1 of 1", None)
    page.screenshot(path=str(ARTIFACTS / "forecast_room.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the card fits, the page does not scroll sideways
    page.locator("#area-forecast-chart canvas").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(ARTIFACTS / "forecast_room_phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    # The meter's own page draws its forecast with the same helper (with the actual kWh column).
    page.goto(f"/#/devices/{meters[0]['device_id']}")
    page.locator("#forecast-chart canvas").wait_for()
    page.get_by_text("Show the forecast as a table").click()
    assert page.get_by_role("columnheader", name="Actual").is_visible()

    # Room 202: no device has a forecast yet; the page says so and links the meter.
    page.goto(f"/#/rooms/{rooms[1]['room_id']}")
    page.get_by_role("heading", name="Room 202").wait_for()
    empty = page.locator("#no-area-forecast")
    empty.wait_for()
    assert re.search(r"No device in this room has a forecast", empty.inner_text())
    assert page.locator("#area-forecast-chart").is_hidden()
    assert page.locator("#area-forecast-table").count() == 0
    page.locator("#devices-without-forecast").get_by_role("link", name=f"Room 202 meter {tag}").click()
    page.get_by_role("heading", name=f"Room 202 meter {tag}").wait_for()
    page.goto(f"/#/rooms/{rooms[1]['room_id']}")
    page.locator("#no-area-forecast").wait_for()  # the screenshot shows the empty state
