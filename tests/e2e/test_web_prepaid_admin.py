"""The prepaid meter page's admin actions in a real Chromium against the running
local stack: an admin assigns a viewer to a meter by e-mail and sees them listed,
resets the meter's balance through the confirmation dialog and sees the balance
and the ledger change; the assigned viewer sees the meter (and may top it up) but
none of those controls; the admin removes the assignment and the list is empty."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, local_only, sign_in

pytestmark = [pytest.mark.e2e, local_only("the Tuya stand-in's prepaid meters and the dashboard at /")]

PASSWORD = "correct-horse-1"
METER = "Prepaid meter 3 (money)"


def _sign_out_and_in(page, email: str, password: str) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for()
    sign_in(page, email, password, goto=False)
    page.get_by_role("heading", name="Overview").wait_for()  # signed in and sent on: now the next page


def test_an_admin_assigns_a_user_resets_the_balance_and_a_viewer_sees_none_of_it(stack, page):
    admin = stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    meters = stack.request("GET", "/devices", admin, params={"device_type": "prepaid_meter"}).json()["items"]
    meter = next(m for m in meters if m["device_name"] == METER)
    base = f"/devices/{meter['device_id']}"
    email = f"web-assigned-{uuid.uuid4().hex[:8]}@example.com"
    created = stack.request(
        "POST", "/users", admin, json={"name": "Flat tenant", "email": email, "password": PASSWORD, "role": "viewer"}
    )
    assert created.status_code == 201, created.text
    viewer_id = created.json()["user_id"]
    # Some credit to reset.
    topped = stack.request("POST", f"{base}/add-balance", admin, json={"amount": "15.00"})
    assert topped.status_code == 200, topped.text
    credit = Decimal(topped.json()["money_balance"])
    assert credit > 0

    sign_in(page)
    page.goto(f"/#/meters/{meter['device_id']}")
    page.get_by_role("heading", name=METER).wait_for()
    assigned = page.get_by_role("region", name="Assigned users")
    assigned.get_by_text("No user is assigned to this meter.").wait_for()

    # An unknown e-mail and an unknown id are clear errors naming the field.
    assigned.get_by_label("User's e-mail or user id").fill("nobody-here@example.com")
    assigned.get_by_role("button", name="Assign").click()
    assigned.get_by_role("alert").filter(has_text="No user with that e-mail").wait_for()
    assigned.get_by_label("User's e-mail or user id").fill("no-such-user")
    assigned.get_by_role("button", name="Assign").click()
    assigned.get_by_role("alert").filter(has_text="user_id").wait_for()

    assigned.get_by_label("User's e-mail or user id").fill(email)
    assigned.get_by_role("button", name="Assign").click()
    assigned.get_by_text(f"{email} is assigned to this meter.").wait_for()
    row = assigned.get_by_role("row", name=re.compile(re.escape(email)))
    row.wait_for()
    assert (
        row.get_by_role("cell", name="Flat tenant").is_visible() and row.get_by_role("cell", name="viewer").is_visible()
    )
    listed = stack.request("GET", f"{base}/users", admin).json()["items"]
    assert [u["user_id"] for u in listed] == [viewer_id]

    # Reset: the dialog first; Cancel does nothing, the dialog's button resets.
    money = page.locator("#money-balance .value")
    assert money.inner_text().startswith(f"{credit} ")
    page.get_by_role("button", name="Reset balance…").click()
    dialog = page.get_by_role("dialog", name="Reset the balance?")
    dialog.get_by_text(f"money balance {credit} ").wait_for()  # what is about to go
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()  # the safe choice
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("button", name="Reset balance…")).to_be_focused()
    assert stack.request("GET", f"{base}/ledger", admin).json()["items"][0]["operation"] == "add_balance"
    page.keyboard.press("Enter")  # by keyboard this time
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(dialog.get_by_role("button", name="Reset balance")).to_be_focused()
    page.keyboard.press("Enter")
    page.locator("#reset-status").get_by_text(re.compile(r"Balance reset: money balance 0(\.00)? ")).wait_for()
    page.locator("#ledger tbody tr").first.get_by_text("reset balance").wait_for()
    cells = page.locator("#ledger tbody tr").first.locator("td").all_inner_texts()
    assert cells[5] == "applied" and Decimal(cells[4].split(" → ")[-1]) == 0
    expect(money).to_have_text(re.compile(r"^0(\.0+)? "))  # the balance read again
    assert Decimal(stack.request("GET", f"{base}/balance", admin).json()["money_balance"]) == 0

    # The assigned viewer sees the meter and may top it up, but no admin control.
    _sign_out_and_in(page, email, PASSWORD)
    page.goto(f"/#/meters/{meter['device_id']}")
    page.get_by_role("heading", name="Ledger").wait_for()
    assert page.get_by_role("button", name="Top up").is_visible()
    assert page.get_by_role("heading", name="Assigned users").count() == 0
    assert page.get_by_role("button", name=re.compile("Reset balance|Assign|Remove")).count() == 0
    assert page.get_by_role("heading", name="Admin").count() == 0

    # The admin removes the assignment.
    _sign_out_and_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto(f"/#/meters/{meter['device_id']}")
    assigned.get_by_role("button", name=f"Remove {email}").click()
    assigned.get_by_text(f"{email} is no longer assigned to this meter.").wait_for()
    assigned.get_by_text("No user is assigned to this meter.").wait_for()
    assert stack.request("GET", f"{base}/users", admin).json()["items"] == []
    assert stack.request("GET", base, stack.login(email, PASSWORD)).status_code == 404
