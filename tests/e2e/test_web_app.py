"""The web dashboard's shell in a real Chromium against the running local stack:
served at `/` with its security headers, sign in and out, a 401 back to sign-in,
and a hostile device name shown as text."""

from __future__ import annotations

import re
import uuid

import pytest
import requests

from tests.e2e.conftest import local_only, sign_in

pytestmark = [pytest.mark.e2e, local_only("the dashboard, which the local gateway serves at /")]


def _register(stack, label: str) -> tuple[str, str, str]:
    email = f"web-{label}-{uuid.uuid4().hex[:8]}@example.com"
    answer = stack.request(
        "POST", "/auth/register", json={"name": label, "email": email, "password": "correct-horse-1"}
    )
    assert answer.status_code == 201, answer.text
    return email, "correct-horse-1", answer.json()["token"]


def test_the_dashboard_is_served_at_the_root_with_a_policy_that_allows_no_inline_script(stack, web_built):
    index = requests.get(stack.base + "/", timeout=10)
    assert index.status_code == 200 and "text/html" in index.headers["Content-Type"]
    policy = index.headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]+)", policy).group(1)
    assert script_src.strip() == "'self'" and "frame-ancestors 'none'" in policy
    assert index.headers["X-Content-Type-Options"] == "nosniff"
    # no inline script or handler in the page itself
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", index.text) and " on" not in index.text.replace(" only", "")
    # the vendored libraries are served from the same origin, with their licences
    assert requests.get(stack.base + "/vendor/uplot/LICENSE", timeout=10).status_code == 200
    assert requests.get(stack.base + "/vendor/leaflet/leaflet.js", timeout=10).status_code == 200
    # nothing outside web/dist, and the API keeps its paths
    assert requests.get(stack.base + "/assets/../../README.md", timeout=10).status_code in (400, 404)
    assert requests.get(stack.base + "/health", timeout=10).json()


def test_sign_in_shows_the_menu_and_sign_out_clears_the_session(stack, page):
    page.goto("/#/devices")
    page.wait_for_url(re.compile(r"#/signin\?next=%2Fdevices"))
    page.get_by_label("Email").fill("nobody@example.com")
    page.get_by_label("Password").fill("wrong-password-1")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="Wrong email or password").wait_for()

    sign_in(page, goto=False)
    page.wait_for_url(re.compile(r"#/devices$"))  # back where the person was going
    assert page.get_by_role("link", name="Users").is_visible()  # the admin's menu
    assert page.evaluate("sessionStorage.length") == 1

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"#/signin"))
    assert page.evaluate("sessionStorage.length + localStorage.length") == 0
    page.goto("/#/devices")
    page.wait_for_url(re.compile(r"#/signin"))


def test_a_401_sends_the_person_to_sign_in(stack, page):
    sign_in(page)
    # the session ends on the server (sign-out elsewhere): the next call is a 401
    token = page.evaluate("JSON.parse(sessionStorage.getItem('gridpulse.session')).token")
    assert stack.request("POST", "/auth/logout", token).status_code in (200, 204)
    page.goto("/#/devices")
    page.wait_for_url(re.compile(r"#/signin\?next="))
    assert page.evaluate("sessionStorage.length") == 0


def test_a_device_named_like_markup_shows_as_text(stack, page):
    email, password, token = _register(stack, "xss")
    hostile = "<img src=x onerror=alert(1)>"
    created = stack.request("POST", "/devices", token, json={"name": hostile, "device_type": "meter"})
    assert created.status_code == 201, created.text
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    sign_in(page, email, password)
    page.goto("/#/devices")
    page.get_by_role("link", name=hostile).wait_for()
    assert page.locator("main img").count() == 0 and dialogs == []
    assert not page.get_by_role("link", name="Users").is_visible()  # a viewer has no admin menu
