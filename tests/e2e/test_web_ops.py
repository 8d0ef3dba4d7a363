"""The dashboard's operations pages in a real Chromium against the running local
stack: an operator switches a street light on from the map and sees its marker
go pending, then on once the lamp reports; an admin tops up a prepaid meter
(retrying after a network failure with the same Idempotency-Key) and sees the
ledger line, and one made while Tuya is down shows pending, then applied; a
user asks the assistant (on its page, or in the panel from any page) and gets
the answer with its figure; a viewer sees neither light controls nor the top-up
form, and a light named like markup shows as text on the map; an operator
switches a light from the map with the keyboard only."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, local_only, sign_in

pytestmark = [pytest.mark.e2e, local_only("the dashboard, which the local gateway serves at /")]

PASSWORD = "correct-horse-1"
ON_COLOUR = "rgb(242, 183, 5)"  # web/src/assets/js/pages/lightkit.js STATES.on, #f2b705


def _user(stack, admin: str, role: str, city: str) -> str:
    email = f"web-{role}-{uuid.uuid4().hex[:8]}@example.com"
    body = {"name": f"Web {role}", "email": email, "password": PASSWORD, "role": role, "city": city, "cities": [city]}
    created = stack.request("POST", "/users", admin, json=body)
    assert created.status_code == 201, created.text
    return email


def _light(stack, admin: str, city: str, name: str, latitude: float = 41.55) -> dict:
    body = {"name": name, "device_type": "light", "city": city, "latitude": latitude, "longitude": -8.42}
    created = stack.request("POST", "/devices", admin, json=body)
    assert created.status_code == 201, created.text
    return created.json()


def _prepaid_meter(stack, admin: str, name: str) -> dict:
    meters = stack.request("GET", "/devices", admin, params={"device_type": "prepaid_meter"}).json()["items"]
    return next(m for m in meters if m["device_name"] == name)


def test_an_operator_turns_a_light_on_from_the_map_and_the_marker_follows_the_lamp(stack, page):
    admin = stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    city = f"Webtown {uuid.uuid4().hex[:6]}"
    light = _light(stack, admin, city, "Pole W1")
    light_id, api_key = light["device_id"], light["credentials"]["api_key"]
    operator = _user(stack, admin, "operator", city)

    sign_in(page, operator, PASSWORD)
    page.goto("/#/lights")  # the operator's own city by default
    page.get_by_role("heading", name="Street lights", exact=True).wait_for()
    summary = page.get_by_label("City summary")
    assert re.search(r"Lights\s*1\b", summary.inner_text())
    marker = page.locator(f'.leaflet-marker-icon[data-light-id="{light_id}"]')
    marker.wait_for()
    assert marker.get_attribute("data-state") == "offline"  # registered, never heard from

    marker.click()
    popup = page.locator(".leaflet-popup")
    popup.get_by_role("link", name="Pole W1").wait_for()
    popup.get_by_role("button", name="On").click()
    page.locator(f'.leaflet-marker-icon[data-light-id="{light_id}"][data-state="pending"]').wait_for(timeout=10_000)
    popup.get_by_text("last command on: pending").wait_for()
    table = page.locator("#lights-table")
    assert "Command pending" in table.get_by_role("row", name=re.compile("Pole W1")).inner_text()

    # The lamp applies the command and reports (as its firmware does over HTTP).
    command_id = stack.request("GET", f"/lights/{light_id}", admin).json()["light"]["last_command"]["command_id"]
    reported = stack.request(
        "POST",
        f"/lights/{light_id}/status",
        headers={"X-API-Key": api_key},
        json={"status": "on", "command_id": command_id},
    )
    assert reported.status_code == 200, reported.text
    page.locator(f'.leaflet-marker-icon[data-light-id="{light_id}"][data-state="on"]').wait_for(timeout=15_000)
    assert marker.locator(".light-dot").evaluate("e => getComputedStyle(e).backgroundColor") == ON_COLOUR
    popup.get_by_text("Status: On · last command on: confirmed").wait_for()  # the popup stayed open and followed
    page.get_by_text("Pole W1: command on confirmed.").wait_for()
    expect(summary).to_have_text(re.compile(r"On\s*1\s*Off\s*0"))  # the summary is read again after the confirmation

    # The light's own page: its log lists the control and the lamp's report.
    page.get_by_role("link", name="Pole W1").first.click()
    page.get_by_role("heading", name="Pole W1").wait_for()
    log = page.locator("#light-log")
    log.get_by_role("cell", name="device", exact=True).first.wait_for()
    assert operator in log.inner_text()
    assert page.get_by_role("button", name="Turn off").is_visible()


def test_an_admin_tops_up_a_prepaid_meter_once_even_after_a_network_failure(stack, page):
    admin = stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    meter = _prepaid_meter(stack, admin, "Prepaid meter 1 (money)")
    keys: list[str] = []

    def drop_the_first(route):
        keys.append(route.request.headers.get("idempotency-key", ""))
        if len(keys) == 1:
            route.abort()  # the network fails: the API never saw it
        else:
            route.continue_()

    page.route("**/add-balance", drop_the_first)
    sign_in(page)
    page.goto(f"/#/meters/{meter['device_id']}")
    page.get_by_role("heading", name="Prepaid meter 1 (money)").wait_for()
    page.get_by_text(re.compile(r"Read from the meter \(Tuya\) at|Tuya cannot be reached")).wait_for()

    page.get_by_label("Amount").fill("7.50")
    page.get_by_role("button", name="Top up").click()
    page.get_by_role("alert").filter(has_text="cannot be reached").wait_for()
    page.get_by_role("button", name="Top up").click()  # the same attempt again
    page.get_by_text(re.compile(r"Applied: 7\.50 \w+ added")).wait_for()
    assert len(keys) == 2 and keys[0] == keys[1] and keys[0]

    row = page.locator("#ledger tbody tr").first
    # The ledger is read again after "Applied": until then its newest row is an earlier test's top-up.
    expect(row.locator("td").nth(2)).to_have_text(re.compile(r"^7\.50"))
    cells = row.locator("td").all_inner_texts()
    assert "add balance" in " ".join(cells) and cells[5] == "applied"
    before, after = (Decimal(x) for x in cells[4].split(" → "))
    assert after - before == Decimal("7.50")

    # The API agrees: exactly one ledger entry for that key, applied once.
    ledger = stack.request("GET", f"/devices/{meter['device_id']}/ledger", admin).json()["items"]
    mine = [e for e in ledger if e.get("idempotency_key") == keys[0]]
    assert len(mine) == 1 and mine[0]["status"] == "applied" and mine[0]["amount"] == "7.50"

    # A new top-up is a new attempt with a new key.
    page.get_by_label("Amount").fill("1.25")
    page.get_by_role("button", name="Top up").click()
    page.get_by_text(re.compile(r"Applied: 1\.25 \w+ added")).wait_for()
    assert len(keys) == 3 and keys[2] != keys[0]
    page.locator("#ledger tbody tr").first.get_by_text("1.25").wait_for()

    # Bad input is a clear error naming the field.
    page.get_by_label("Amount").fill("-3")
    page.get_by_role("button", name="Top up").click()
    page.get_by_role("alert").filter(has_text="amount").wait_for()


@local_only("the Tuya stand-in's faults (POST /_local/tuya/faults)")
def test_a_top_up_while_tuya_is_down_shows_pending_then_applied(stack, page):
    admin = stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    meter = _prepaid_meter(stack, admin, "Prepaid meter 3 (money)")
    sign_in(page)
    page.goto(f"/#/meters/{meter['device_id']}")
    page.get_by_role("heading", name="Ledger").wait_for()
    assert stack.request("POST", "/_local/tuya/faults", json={"mode": "down"}).status_code == 200
    try:
        page.get_by_label("Amount").fill("4.00")
        page.get_by_role("button", name="Top up").click()
        page.get_by_text("Pending: Tuya is unreachable; it will be applied once it is back").wait_for(timeout=30_000)
        first = page.locator("#ledger tbody tr").first
        expect(first.locator("td").nth(2)).to_have_text(re.compile(r"^4\.00"))  # once the ledger is read again
        expect(first.locator("td").nth(5)).to_have_text("pending")
    finally:
        assert stack.request("POST", "/_local/tuya/faults", json={"mode": "none"}).status_code == 200
    # The retry applies it (the tests' stack retries within seconds) and the page follows on its own.
    page.get_by_text("The pending top-up is now applied.").wait_for(timeout=60_000)
    first = page.locator("#ledger tbody tr").first
    expect(first.locator("td").nth(2)).to_have_text(re.compile(r"^4\.00"))
    expect(first.locator("td").nth(5)).to_have_text("applied")


def test_a_user_asks_the_assistant_and_sees_the_answer_with_its_figure(stack, page):
    email = f"web-ask-{uuid.uuid4().hex[:8]}@example.com"
    registered = stack.request("POST", "/auth/register", json={"name": "Asker", "email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    token = registered.json()["token"]
    meter = stack.request("POST", "/devices", token, json={"name": "Flat meter", "device_type": "meter"}).json()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    readings = [
        {"timestamp": (now - timedelta(minutes=5 - i)).isoformat(), "energy_kwh": 100 + i * 0.25, "power_w": 1500}
        for i in range(5)
    ]
    sent = stack.request(
        "POST", "/telemetry", headers={"X-API-Key": meter["credentials"]["api_key"]}, json={"readings": readings}
    )
    assert sent.status_code == 201, sent.text
    expected = stack.request(
        "POST", "/chatbot/query", token, json={"question": "How much energy did I use today?", "tz": "UTC"}
    ).json()
    assert Decimal(expected["data"]["total_kwh"]) > 0

    sign_in(page, email, PASSWORD)
    page.goto("/#/assistant")
    page.get_by_role("button", name="Ask").click()  # nothing typed
    page.get_by_role("alert").filter(has_text="Type a question first").wait_for()
    page.get_by_label("Your question").fill("x" * 501)
    page.get_by_role("button", name="Ask").click()
    page.get_by_role("alert").filter(has_text="at most 500").wait_for()

    page.get_by_label("Your question").fill("How much energy did I use today?")
    page.get_by_role("button", name="Ask").click()
    log = page.get_by_role("log", name="Conversation")
    log.get_by_text(expected["answer"]).wait_for()
    figure = log.get_by_role("row", name=re.compile("Total kWh"))
    assert figure.get_by_role("cell").nth(1).inner_text() == f"{expected['data']['total_kwh']} kWh"
    assert log.get_by_role("cell", name="Flat meter").is_visible()

    # A suggestion asks itself, in the same conversation.
    follow_up = next(s for s in expected["suggestions"] if "yesterday" in s.lower())
    log.get_by_role("button", name=follow_up).first.click()
    log.get_by_text("Period: yesterday").wait_for()


def test_a_viewer_sees_no_light_controls_and_no_top_up(stack, page):
    admin = stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    city = f"Viewtown {uuid.uuid4().hex[:6]}"
    light = _light(stack, admin, city, "Pole V1")
    meter = _prepaid_meter(stack, admin, "Prepaid meter 2 (kWh)")
    # The admin places the meter in the city: the city's viewer sees it (not assigned to them).
    placed = stack.request("PUT", f"/devices/{meter['device_id']}", admin, json={"city": city})
    assert placed.status_code == 200, placed.text
    viewer = _user(stack, admin, "viewer", city)

    sign_in(page, viewer, PASSWORD)
    page.goto("/#/lights")
    page.locator("#lights-table").get_by_role("link", name="Pole V1").wait_for()
    assert page.locator("#lights-table").get_by_role("button").count() == 0
    page.locator(f'.leaflet-marker-icon[data-light-id="{light["device_id"]}"]').click()
    page.locator(".leaflet-popup").get_by_role("link", name="Pole V1").wait_for()
    assert page.locator(".leaflet-popup").get_by_role("button", name=re.compile("^(On|Off)$")).count() == 0

    # A light named like markup shows as text in its tooltip and popup (Leaflet would take a string as HTML).
    hostile = _light(stack, admin, city, "<img src=x onerror=alert(1)>", latitude=41.56)
    page.reload()
    page.locator(f'.leaflet-marker-icon[data-light-id="{hostile["device_id"]}"]').hover()
    page.locator(".leaflet-tooltip").get_by_text("<img src=x onerror=alert(1)>: Offline").wait_for()
    expect(page.get_by_role("button", name="<img src=x onerror=alert(1)>: Offline")).to_have_count(
        1
    )  # the marker's name, as text
    assert page.locator(".leaflet-container img, #lights-table img").count() == 0

    page.goto(f"/#/lights/{light['device_id']}")
    page.get_by_role("heading", name="Pole V1").wait_for()
    page.get_by_role("heading", name="Log").wait_for()
    assert page.get_by_role("button", name="Turn on").count() == 0

    page.goto(f"/#/meters/{meter['device_id']}")
    page.get_by_role("heading", name="Ledger").wait_for()
    assert page.get_by_role("heading", name="Balance").is_visible()
    assert page.get_by_role("button", name="Top up").count() == 0 and page.get_by_label("Amount").count() == 0
    assert page.get_by_role("heading", name="Admin").count() == 0


def test_the_assistant_is_reachable_from_every_page(stack, page):
    sign_in(page)
    page.goto("/#/devices")
    page.get_by_role("button", name="Ask the assistant").click()
    panel = page.get_by_role("complementary", name="Assistant")
    panel.get_by_label("Question", exact=True).fill("How many devices do I have?")
    panel.get_by_role("button", name="Ask").click()
    panel.locator(".answer").wait_for()
    assert panel.get_by_role("log").get_by_text("How many devices do I have?").is_visible()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(page.get_by_role("button", name="Ask the assistant")).to_be_visible()
    page.goto("/#/assistant")
    page.get_by_role("heading", name="Assistant", exact=True).wait_for()
    assert not page.get_by_role("button", name="Ask the assistant").is_visible()


def test_an_operator_switches_a_light_from_the_map_with_the_keyboard_only(stack, page):
    admin = stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    city = f"Keytown {uuid.uuid4().hex[:6]}"
    south = _light(stack, admin, city, "Pole K2", latitude=41.54)  # registered first, tabbed to second
    north = _light(stack, admin, city, "Pole K1", latitude=41.56)
    operator = _user(stack, admin, "operator", city)

    sign_in(page, operator, PASSWORD)
    page.goto("/#/lights")
    marker = page.get_by_role("button", name="Pole K1: Offline")
    marker.wait_for()

    # Tab from the city picker: the map, then the markers north to south.
    page.get_by_label("City", exact=True).focus()
    names = []
    for _ in range(3):
        page.keyboard.press("Tab")
        names.append(page.evaluate("document.activeElement.getAttribute('aria-label')"))
    assert names[1:] == ["Pole K1: Offline", "Pole K2: Offline"], names
    page.keyboard.press("Shift+Tab")
    expect(marker).to_be_focused()

    expect(marker).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Enter")
    popup = page.locator(".leaflet-popup")
    expect(popup.get_by_role("link", name="Pole K1")).to_be_focused()
    expect(marker).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Tab")
    expect(popup.get_by_role("button", name="On")).to_be_focused()
    page.keyboard.press("Enter")
    page.locator(f'.leaflet-marker-icon[data-light-id="{north["device_id"]}"][data-state="pending"]').wait_for()
    popup.get_by_text("last command on: pending").wait_for()
    # the redrawn popup keeps the focus (on the name while On/Off wait for the lamp)
    expect(popup.get_by_role("link", name="Pole K1")).to_be_focused()
    light = stack.request("GET", f"/lights/{north['device_id']}", admin).json()["light"]
    assert light["last_command"]["action"] == "on"
    reported = stack.request(
        "POST",
        f"/lights/{north['device_id']}/status",
        headers={"X-API-Key": north["credentials"]["api_key"]},
        json={"status": "on", "command_id": light["last_command"]["command_id"]},
    )
    assert reported.status_code == 200, reported.text
    popup.get_by_text("Status: On · last command on: confirmed").wait_for()
    on_marker = page.get_by_role("button", name="Pole K1: On")
    page.keyboard.press("Escape")
    expect(popup).to_have_count(0)
    expect(on_marker).to_be_focused()

    # Space opens it too; the popup's close button gives the focus back as well.
    page.keyboard.press(" ")
    expect(popup.get_by_role("link", name="Pole K1")).to_be_focused()
    for _ in range(3):  # On, Off, Close
        page.keyboard.press("Tab")
    expect(popup.get_by_role("button", name="Close popup")).to_be_focused()
    page.keyboard.press("Enter")
    expect(popup).to_have_count(0)
    expect(on_marker).to_be_focused()
    assert page.get_by_role("button", name="Pole K2: Offline").get_attribute("data-light-id") == south["device_id"]

    # The table's switches keep the focus in the table when it is redrawn (on the name while sending).
    switch = page.locator("#lights-table").get_by_role("button", name="Turn Pole K2 on")
    switch.focus()
    page.keyboard.press("Enter")
    page.locator(f'.leaflet-marker-icon[data-light-id="{south["device_id"]}"][data-state="pending"]').wait_for()
    expect(page.locator("#lights-table").get_by_role("link", name="Pole K2")).to_be_focused()
