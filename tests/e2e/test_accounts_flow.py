"""The foundation's acceptance flow, over real HTTP against the running local stack."""

from __future__ import annotations

import re
import time

import pytest

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, LocalStack, local_only

pytestmark = pytest.mark.e2e


@local_only("its console output")
def test_start_up_prints_urls_and_the_admin_login(stack):
    text = "\n".join(stack.output)
    assert f"{stack.base}/docs" in text
    assert ADMIN_EMAIL in text
    assert ADMIN_PASSWORD not in text  # a password from the environment is not echoed


def test_a_person_registers_logs_in_and_out(stack):
    r = stack.request(
        "POST",
        "/auth/register",
        json={"name": "Ann", "email": "ann.e2e@example.com", "password": "correct-horse-1", "username": "ann_e2e"},
    )
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    token = stack.login("ann_e2e", "correct-horse-1")
    me = stack.request("GET", "/auth/me", token)
    assert me.status_code == 200 and me.json()["email"] == "ann.e2e@example.com"
    assert stack.request("POST", "/auth/logout", token).status_code == 200
    again = stack.request("GET", "/auth/me", token)
    assert again.status_code == 401 and again.json()["error"] == "token_revoked"


@local_only("the email outbox, GET /_local/outbox")
def test_password_reset_from_the_captured_email(stack):
    stack.request(
        "POST", "/auth/register", json={"name": "Bo", "email": "bo.e2e@example.com", "password": "correct-horse-1"}
    )
    timings = {}
    # The unknown address first: the reset queue is worked in order, so once
    # Bo's email is out, the ghost's request has been handled too.
    for email in ("ghost.e2e@example.com", "bo.e2e@example.com"):
        started = time.monotonic()
        r = stack.request("POST", "/auth/forgot-password", json={"email": email})
        timings[email] = time.monotonic() - started
        assert r.status_code == 202
        assert r.json() == {"message": "If an account exists for this email, a reset token is on its way."}
    assert abs(timings["bo.e2e@example.com"] - timings["ghost.e2e@example.com"]) < 0.5
    assert max(timings.values()) < 0.9  # nothing pads the answer: the email is sent out of band

    deadline = time.monotonic() + 20
    while (outbox := stack.request("GET", "/_local/outbox", params={"to": "bo.e2e@example.com"}).json())["count"] == 0:
        assert time.monotonic() < deadline, "the reset email was never sent"
        time.sleep(0.2)
    assert outbox["count"] == 1
    assert stack.request("GET", "/_local/outbox", params={"to": "ghost.e2e@example.com"}).json()["count"] == 0
    token = re.search(r"Reset token: (\S+)", outbox["items"][0]["body"]).group(1)

    r = stack.request("POST", "/auth/reset-password", json={"token": token, "password": "a-new-password-2"})
    assert r.status_code == 200
    r = stack.request("POST", "/auth/reset-password", json={"token": token, "password": "a-new-password-3"})
    assert r.status_code == 400
    assert stack.login("bo.e2e@example.com", "a-new-password-2")


def test_admin_lists_deactivates_and_deletes_users(stack):
    admin = stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    r = stack.request(
        "POST", "/auth/register", json={"name": "Cy", "email": "cy.e2e@example.com", "password": "correct-horse-1"}
    )
    user_id, user_token = r.json()["user"]["user_id"], r.json()["token"]

    listed = stack.request("GET", "/users", admin, params={"limit": 1000}).json()
    assert user_id in [u["user_id"] for u in listed["items"]]

    assert stack.request("GET", "/users", user_token).status_code == 403
    assert stack.request("PATCH", f"/users/{user_id}/deactivate", admin).json()["active"] is False
    assert stack.request("GET", "/auth/me", user_token).status_code == 401
    login = stack.request("POST", "/auth/login", json={"email": "cy.e2e@example.com", "password": "correct-horse-1"})
    assert login.status_code == 403

    stats = stack.request("GET", "/admin/stats", admin).json()
    assert stats["users"]["total"] > stats["users"]["active"]

    assert stack.request("DELETE", f"/users/{user_id}", admin).status_code == 200
    assert stack.request("GET", f"/users/{user_id}", admin).status_code == 404


def test_bad_input_gets_clear_errors_never_500(stack):
    r = stack.request("POST", "/auth/login", data="{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_json"
    r = stack.request("POST", "/auth/register", json={"email": 3})
    assert r.status_code == 400 and {f["field"] for f in r.json()["fields"]} == {"name", "email", "password"}
    r = stack.request(
        "POST", "/auth/register", data=b"x" * (11 * 1024 * 1024), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413
    r = stack.request(
        "POST",
        "/auth/register",
        json={"name": "x", "email": "big@example.com", "password": "correct-horse-1", "bio": "y" * 400_000},
    )
    assert r.status_code == 413


@local_only("the local gateway's answers to unknown routes; API Gateway's are its own")
def test_routes_not_in_the_template_are_404_or_405(stack):
    assert stack.request("GET", "/no/such/route").status_code == 404
    r = stack.request("DELETE", "/auth/login")
    assert r.status_code == 405 and "POST" in r.headers["Allow"]


@local_only("/docs and /openapi.json are served by the local gateway")
def test_api_docs_are_served(stack):
    page = stack.request("GET", "/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert stack.request("GET", "/docs/static/swagger-ui-bundle.min.js").status_code == 200
    spec = stack.request("GET", "/openapi.json").json()
    assert "/auth/login" in spec["paths"]


def test_health_over_http(stack):
    r = stack.request("GET", "/health", params={"detailed": "true"})
    assert r.status_code == 200 and r.json()["status"] == "healthy"


@local_only("starts and stops a local stack of its own")
def test_ctrl_c_stops_the_stack_cleanly():
    local = LocalStack()
    local.wait_ready()
    assert local.request("GET", "/health").status_code == 200
    assert local.stop() == 0
    assert local.output[-1] == "Stopped."
