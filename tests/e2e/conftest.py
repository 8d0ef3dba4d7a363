"""Start the real local stack (`python -m infrastructure.local`, what `make run`
runs) on free ports and drive it over HTTP.

Or drive a deployed stack instead: with GRIDPULSE_E2E_API_URL set (the stack's
`ApiUrl` output), the `stack` fixture is a client of that URL and no local
stack starts; the admin is GRIDPULSE_E2E_ADMIN_EMAIL / GRIDPULSE_E2E_ADMIN_PASSWORD
(an admin of that stack). Tests that need what only the local stack has (its
MQTT broker and CA, the email outbox, its console, its process) are marked
`local_only(...)` and skip, saying why.
"""

from __future__ import annotations

import contextlib
import os
import pathlib

import pytest
import requests

from infrastructure.stack_process import LocalStackProcess

REMOTE_API_URL = os.environ.get("GRIDPULSE_E2E_API_URL", "").strip().rstrip("/")
# The admin the tests log in as: the one the local stack seeds, or the deployed stack's.
ADMIN_EMAIL = os.environ.get("GRIDPULSE_E2E_ADMIN_EMAIL") or "ops@gridpulse.example.com"
ADMIN_PASSWORD = os.environ.get("GRIDPULSE_E2E_ADMIN_PASSWORD") or "e2e-admin-password-1"


def local_only(why: str) -> pytest.MarkDecorator:
    """Skip when the suite drives a deployed stack (GRIDPULSE_E2E_API_URL): `why`
    names what the test needs that only the local stack has."""
    return pytest.mark.skipif(
        bool(REMOTE_API_URL), reason=f"needs the local stack ({why}); GRIDPULSE_E2E_API_URL points at a deployed stack"
    )


class ApiClient:
    """HTTP to a stack's API at `base`."""

    base: str
    output: list[str]  # what the stack printed (a deployed stack's: nothing)

    def request(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def login(self, login: str, password: str) -> str:
        key = "email" if "@" in login else "username"
        response = self.request("POST", "/auth/login", json={key: login, "password": password})
        assert response.status_code == 200, response.text
        return response.json()["token"]


class DeployedStack(ApiClient):
    """A stack deployed to AWS, reached at its ApiUrl."""

    def __init__(self, api_url: str):
        self.base = api_url
        self.output = []


class LocalStack(ApiClient, LocalStackProcess):
    """The local stack (infrastructure/stack_process.py) started on free ports with
    the tests' admin and SQS message delays a tenth as long (GRIDPULSE_SQS_DELAY_SCALE:
    a billing retry queued for 30 s runs after 3); `overrides` are added to its environment."""

    def __init__(self, **overrides: str):
        LocalStackProcess.__init__(
            self, (ADMIN_EMAIL, ADMIN_PASSWORD), **{"GRIDPULSE_SQS_DELAY_SCALE": "0.1", **overrides}
        )


@contextlib.contextmanager
def running_stack():
    """A LocalStack, ready, stopped on the way out."""
    local = LocalStack()
    try:
        local.wait_ready()
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="session")
def stack():
    """The stack under test: the deployed one at GRIDPULSE_E2E_API_URL, else a
    local stack started for the session."""
    if REMOTE_API_URL:
        yield DeployedStack(REMOTE_API_URL)
        return
    with running_stack() as local:
        yield local


# ------------------------------------------------------------------ the web dashboard in Chromium

ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
CHROMIUM = os.environ.get("GRIDPULSE_CHROMIUM", "/usr/bin/chromium")
# What a root process in a container needs, and no calls home (the machine has no internet).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def web_built():
    """web/dist, built once per session (`make test` builds it before pytest too)."""
    from infrastructure import web_build

    report = web_build.build()
    assert report["first_load_gzip"] <= web_build.BUDGET_BYTES
    return report


@pytest.fixture(scope="session")
def browser(web_built):
    """Debian's Chromium driven by Playwright for Python (no browser download)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, stack, request):
    """A fresh browser context (no storage) at the stack's dashboard; a screenshot of
    the last page is saved in test-artifacts/web/<test>.png, and any script error fails the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=stack.base)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    finally:
        context.close()
    # a 401/404 the test provoked shows as a console error of the failed fetch: only script errors count
    script_errors = [e for e in errors if "Failed to load resource" not in e]
    assert not script_errors, script_errors


def sign_in(page, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD, goto: bool = True) -> None:
    """Sign in through the form (at #/signin, or on the sign-in page already open)."""
    if goto:
        page.goto("/#/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()
