"""The dashboard in a real Chromium for what is not a data page: a forgotten password reset
from the e-mail's link, an admin managing a user on the users page, a phone-width screen and
the keyboard alone."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import local_only, sign_in

pytestmark = pytest.mark.e2e

NAV_LINKS = ["Overview", "Hotels", "Devices", "Alerts", "Street lights", "Assistant", "Users"]


def _email(label: str) -> str:
    return f"web-{label}-{uuid.uuid4().hex[:8]}@example.com"


def _active_element(page) -> dict:
    return page.evaluate(
        "(() => { const e = document.activeElement;"
        " return {tag: e.tagName, id: e.id, cls: e.className, text: e.textContent.trim()}; })()"
    )


@local_only("the email outbox, GET /_local/outbox")
def test_forgot_password_from_the_form_to_the_emailed_link_and_a_new_sign_in(stack, page):
    email = _email("reset")
    registered = stack.request(
        "POST", "/auth/register", json={"name": "Reset", "email": email, "password": "old-password-1"}
    )
    assert registered.status_code == 201, registered.text

    page.goto("/#/signin")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_role("heading", name="Forgot password").wait_for()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send reset link").click()
    page.get_by_text("a reset link is on its way").wait_for()

    deadline = time.monotonic() + 20
    while (outbox := stack.request("GET", "/_local/outbox", params={"to": email}).json())["count"] == 0:
        assert time.monotonic() < deadline, "the reset email was never sent"
        time.sleep(0.2)
    link = re.search(r"(https?://\S+/#/reset\?token=\S+)", outbox["items"][0]["body"]).group(1)
    assert link.startswith(stack.base + "/#/reset?token=")  # the dashboard, not the API

    page.goto(link)
    page.get_by_role("heading", name="Choose a new password").wait_for()
    page.get_by_label("New password").fill("new-password-2")
    page.get_by_role("button", name="Set password").click()
    page.get_by_text("Your password is set").wait_for()
    page.get_by_role("link", name="Sign in", exact=True).click()
    page.get_by_label("Password").fill("old-password-1")  # the old one no longer works
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="Wrong email or password").wait_for()
    sign_in(page, email, "new-password-2", goto=False)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def test_an_admin_creates_a_user_changes_its_role_and_deactivates_it(stack, page):
    email = _email("managed")
    sign_in(page)
    page.get_by_role("link", name="Users").click()
    page.get_by_role("heading", name="Users").wait_for()
    page.get_by_text("Create a user").click()
    page.get_by_label("Name").fill("Managed Person")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("managed-pass-1")
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Create user").click()
    page.get_by_text(f"Created {email}.").wait_for()
    row = page.locator("#users tr", has_text=email)
    expect(row).to_contain_text("active")

    row.get_by_label(f"Role of {email}").select_option("operator")
    row.get_by_role("button", name=f"Save role and scope of {email}").click()
    page.get_by_text(f"Saved {email}.").wait_for()
    token = stack.login(email, "managed-pass-1")
    assert stack.request("GET", "/auth/me", token).json()["role"] == "operator"

    row.get_by_role("button", name=f"Deactivate {email}").click()
    page.get_by_text(f"{email} is now deactivated.").wait_for()
    expect(row).to_contain_text("deactivated")
    expect(row.get_by_role("button", name=f"Activate {email}")).to_be_visible()
    assert stack.request("GET", "/auth/me", token).status_code == 401  # the open session ends too

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("managed-pass-1")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="This account is deactivated").wait_for()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_at_phone_width_the_menu_opens_the_figures_fit_and_the_keyboard_walks_the_links(stack, page):
    width = 390
    page.set_viewport_size({"width": width, "height": 844})
    sign_in(page)
    page.get_by_role("heading", name="Overview").wait_for()
    for figure in ("#today", "#month", "#power", "#open-alerts"):
        box = page.locator(figure).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (figure, box)
        expect(page.locator(figure)).to_be_visible()
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width

    menu = page.get_by_role("button", name="Menu")
    expect(page.get_by_role("link", name="Devices")).to_be_hidden()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    menu.focus()
    for name in NAV_LINKS:
        page.keyboard.press("Tab")
        focused = _active_element(page)
        assert (focused["tag"], focused["text"]) == ("A", name)
        assert page.evaluate("document.activeElement.getBoundingClientRect().right") <= width
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")  # back to Alerts
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Alerts").wait_for()
    # the menu closes behind the chosen page
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_role("link", name="Devices")).to_be_hidden()
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width
    # the widest lists scroll inside themselves, the page never sideways
    for path in ("/#/devices", "/#/admin/users"):
        page.goto(path)
        page.locator("main table.list tbody tr").first.wait_for()
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width, path


def test_the_first_tab_reaches_the_skip_link_which_moves_focus_to_main(stack, page):
    sign_in(page)
    page.reload()  # a fresh load of the overview, nothing focused by a person yet
    page.get_by_role("heading", name="Overview").wait_for()
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0  # shown on screen while focused
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    assert page.url.endswith("#/")  # still the overview, not a route named "main"
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    page.keyboard.press("Tab")  # the next stop is inside main, past the menu
    assert page.evaluate("document.getElementById('main').contains(document.activeElement)")
