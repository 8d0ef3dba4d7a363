"""Auth endpoints through the API Gateway stand-in, handlers in-process, AWS in moto."""

from __future__ import annotations

import base64
import json
import re
import time

import jwt

from gridpulse.security.secrets import jwt_signing_key
from gridpulse.security.tokens import AUDIENCE, ISSUER
from gridpulse.settings import get_settings


def _send_queued_resets(aws) -> None:
    """What PasswordResetFunction does with the reset queue (its SQS event)."""
    import boto3

    from gridpulse.accounts.password_reset import handle_reset_requests

    sqs = boto3.client("sqs")
    url = aws.physical["PasswordResetQueue"]
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        records = [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]
        assert handle_reset_requests({"Records": records}) == {"batchItemFailures": []}
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def _outbox(aws, to: str) -> list[str]:
    from infrastructure.local.outbox import sent_emails

    _send_queued_resets(aws)
    return [m["body"] for m in sent_emails(aws.account, aws.region) if to in m["to"]]


def _reset_token_from_email(body: str) -> str:
    return re.search(r"Reset token: (\S+)", body).group(1)


# ------------------------------------------------------------------ register / login


def test_register_gives_a_viewer_token_that_works_on_me(api):
    body = api.register("ann@example.com", username="ann", city="Lisbon")
    assert body["user"]["role"] == "viewer"
    assert "password" not in json.dumps(body["user"]) and "hash" not in json.dumps(body)
    status, me = api.get("/auth/me", token=body["token"])
    assert status == 200
    assert me["email"] == "ann@example.com" and me["username"] == "ann" and me["city"] == "Lisbon"


def test_register_refuses_to_take_a_role_from_the_body(api):
    status, body = api.post(
        "/auth/register", {"name": "Eve", "email": "eve@example.com", "password": "correct-horse-1", "role": "admin"}
    )
    assert status == 400
    assert body["error"] == "validation_error"
    assert [f["field"] for f in body["fields"]] == ["role"]


def test_register_twice_with_the_same_email_is_a_conflict(api):
    api.register("ann@example.com")
    status, body = api.post(
        "/auth/register", {"name": "Other", "email": "ANN@example.com", "password": "correct-horse-1"}
    )
    assert status == 409
    assert body["error"] == "email_taken"
    assert body["fields"][0]["field"] == "email"


def test_username_is_unique_too(api):
    api.register("ann@example.com", username="ann")
    status, body = api.post(
        "/auth/register", {"name": "B", "email": "b@example.com", "password": "correct-horse-1", "username": "ANN"}
    )
    assert status == 409 and body["error"] == "username_taken"


def test_login_by_email_or_username(api):
    api.register("ann@example.com", username="ann")
    assert api.login("ann@example.com")
    assert api.login("ann")
    status, body = api.post("/auth/login", {"email": "ann@example.com", "password": "correct-horse-1"})
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert {"exp", "iat", "sub", "jti", "role"} <= set(claims)
    assert claims["exp"] - claims["iat"] == 3600
    assert body["expires_at"].endswith("Z")


def test_wrong_password_and_unknown_account_look_the_same(api):
    api.register("ann@example.com")
    wrong = api.post("/auth/login", {"email": "ann@example.com", "password": "nope-nope-nope"})
    unknown = api.post("/auth/login", {"email": "nobody@example.com", "password": "nope-nope-nope"})
    assert wrong[0] == unknown[0] == 401
    assert wrong[1] == unknown[1] == {"error": "invalid_credentials", "message": "Wrong login or password."}


def test_login_needs_email_or_username(api):
    status, body = api.post("/auth/login", {"password": "x"})
    assert status == 400 and body["error"] == "validation_error"


def test_deactivated_user_cannot_log_in(api, admin_token):
    user = api.register("ann@example.com")["user"]
    status, _ = api.patch(f"/users/{user['user_id']}/deactivate", token=admin_token)
    assert status == 200
    status, body = api.post("/auth/login", {"email": "ann@example.com", "password": "correct-horse-1"})
    assert status == 403 and body["error"] == "account_deactivated"


# ------------------------------------------------------------------ tokens


def test_logout_revokes_this_token_at_once_but_not_other_sessions(api):
    api.register("ann@example.com")
    first = api.login("ann@example.com")
    second = api.login("ann@example.com")
    assert api.post("/auth/logout", token=first)[0] == 200
    status, body = api.get("/auth/me", token=first)
    assert status == 401 and body["error"] == "token_revoked"
    assert api.get("/auth/me", token=second)[0] == 200


def test_missing_or_malformed_authorization_is_401(api):
    assert api.get("/auth/me")[1]["error"] == "missing_token"
    assert api.get("/auth/me", headers={"Authorization": "Basic abc"})[0] == 401
    assert api.get("/auth/me", token="not-a-jwt")[1]["error"] == "invalid_token"


def _forge(claims: dict, key: bytes, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


def _claims_for(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_expired_token_is_401(api):
    api.register("ann@example.com")
    claims = _claims_for(api.login("ann@example.com"))
    claims.update(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    status, body = api.get("/auth/me", token=_forge(claims, jwt_signing_key()))
    assert status == 401 and body["error"] == "token_expired"


def test_token_signed_with_another_key_is_401(api):
    api.register("ann@example.com")
    claims = _claims_for(api.login("ann@example.com"))
    status, body = api.get("/auth/me", token=_forge(claims, b"x" * 64))
    assert status == 401 and body["error"] == "invalid_token"


def test_unsigned_alg_none_token_is_401(api):
    user = api.register("ann@example.com")
    claims = _claims_for(user["token"])
    claims["role"] = "admin"

    def b64(obj) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    status, body = api.get("/auth/me", token=unsigned)
    assert status == 401 and body["error"] == "invalid_token"


def test_token_with_a_forged_role_does_not_grant_admin(api):
    """The role of a request is the stored one; a re-signed token claiming admin
    with the wrong key is refused, and a valid viewer token stays a viewer."""
    viewer = api.register("ann@example.com")["token"]
    claims = _claims_for(viewer)
    claims["role"] = "admin"
    assert api.get("/users", token=_forge(claims, b"y" * 64))[0] == 401
    assert api.get("/users", token=viewer)[0] == 403


def test_token_of_another_issuer_is_401(api):
    api.register("ann@example.com")
    claims = _claims_for(api.login("ann@example.com"))
    claims["iss"] = "someone-else"
    assert api.get("/auth/me", token=_forge(claims, jwt_signing_key()))[0] == 401
    assert claims["aud"] == AUDIENCE and ISSUER == "gridpulse"


# ------------------------------------------------------------------ password reset


def test_forgot_password_answers_the_same_for_known_and_unknown_email(api, aws):
    api.register("ann@example.com")
    known = api.post("/auth/forgot-password", {"email": "ann@example.com"})
    unknown = api.post("/auth/forgot-password", {"email": "nobody@example.com"})
    assert known == unknown
    assert known[0] == 202
    assert len(_outbox(aws, "ann@example.com")) == 1
    assert _outbox(aws, "nobody@example.com") == []


def test_forgot_password_does_the_same_work_for_any_email_and_never_sleeps(api, aws, dynamodb_calls, monkeypatch):
    """The answer is the same in body and in timing because the request does
    the same thing whatever the email: one SQS SendMessage. Looking the
    account up and mailing happen out of band, so no worker is held."""

    def no_sleeping(seconds):
        raise AssertionError(f"forgot-password slept {seconds} s on the request path")

    monkeypatch.setattr(time, "sleep", no_sleeping)
    api.register("ann@example.com")
    answers, work = [], []
    for email in ("ann@example.com", "nobody@example.com"):
        dynamodb_calls.clear()
        answers.append(api.post("/auth/forgot-password", {"email": email}))
        work.append(list(dynamodb_calls.calls))
    assert answers[0] == answers[1] and answers[0][0] == 202
    assert work[0] == work[1] == [("sqs", "SendMessage")]
    assert len(_outbox(aws, "ann@example.com")) == 1


def test_reset_token_works_once_and_ends_old_sessions(api, aws):
    api.register("ann@example.com")
    old_session = api.login("ann@example.com")
    api.post("/auth/forgot-password", {"email": "ann@example.com"})
    body = _outbox(aws, "ann@example.com")[-1]
    token = _reset_token_from_email(body)
    # the link opens the dashboard's reset page (WEB_ORIGIN), the token in the fragment (never sent to a server)
    assert f"{get_settings().web_origin}/#/reset?token={token}\n" in body

    status, _ = api.post("/auth/reset-password", {"token": token, "password": "brand-new-pass-2"})
    assert status == 200
    status, body = api.post("/auth/reset-password", {"token": token, "password": "another-pass-3"})
    assert status == 400 and body["error"] == "invalid_reset_token"

    assert api.get("/auth/me", token=old_session)[0] == 401
    assert api.post("/auth/login", {"email": "ann@example.com", "password": "correct-horse-1"})[0] == 401
    assert api.login("ann@example.com", "brand-new-pass-2")


def test_reset_token_is_stored_hashed(api, aws):
    api.register("ann@example.com")
    api.post("/auth/forgot-password", {"email": "ann@example.com"})
    token = _reset_token_from_email(_outbox(aws, "ann@example.com")[-1])
    table = boto3_table(aws)
    from gridpulse.security.opaque import secret_hash

    assert table.get_item(Key={"pk": f"reset#{token}"}).get("Item") is None
    item = table.get_item(Key={"pk": f"reset#{secret_hash(token)}"})["Item"]
    assert token not in json.dumps(item, default=str)
    assert 0 < int(item["ttl"]) - time.time() <= 900  # TTL in epoch seconds


def boto3_table(aws):
    import boto3

    return boto3.resource("dynamodb").Table(aws.physical["UsersTable"])


def test_a_newer_reset_token_supersedes_the_older_one(api, aws):
    api.register("ann@example.com")
    api.post("/auth/forgot-password", {"email": "ann@example.com"})
    api.post("/auth/forgot-password", {"email": "ann@example.com"})
    first, second = [_reset_token_from_email(b) for b in _outbox(aws, "ann@example.com")]
    assert api.post("/auth/reset-password", {"token": first, "password": "brand-new-pass-2"})[0] == 400
    assert api.post("/auth/reset-password", {"token": second, "password": "brand-new-pass-2"})[0] == 200


def test_reset_token_expires(api, aws, monkeypatch):
    api.register("ann@example.com")
    api.post("/auth/forgot-password", {"email": "ann@example.com"})
    token = _reset_token_from_email(_outbox(aws, "ann@example.com")[-1])
    later = time.time() + 901
    monkeypatch.setattr("gridpulse.accounts.password_reset.time.time", lambda: later)
    status, body = api.post("/auth/reset-password", {"token": token, "password": "brand-new-pass-2"})
    assert status == 400 and body["error"] == "invalid_reset_token"


def test_reset_with_an_unknown_token_is_400(api):
    status, body = api.post("/auth/reset-password", {"token": "x" * 43, "password": "brand-new-pass-2"})
    assert status == 400 and body["fields"][0]["field"] == "token"


# ------------------------------------------------------------------ bad input


def test_malformed_json_is_400(api):
    status, body = api.post("/auth/login", raw="{not json")
    assert status == 400 and body["error"] == "invalid_json"


def test_missing_and_wrong_typed_fields_are_all_named(api):
    status, body = api.post("/auth/register", {"email": "not-an-email", "password": 12345678})
    assert status == 400
    assert body["error"] == "validation_error"
    assert {f["field"] for f in body["fields"]} == {"name", "email", "password"}


def test_short_password_is_refused(api):
    status, body = api.post("/auth/register", {"name": "A", "email": "a@example.com", "password": "short"})
    assert status == 400 and [f["field"] for f in body["fields"]] == ["password"]


def test_oversized_body_is_413(api):
    status, body = api.post(
        "/auth/register", {"name": "A", "email": "a@example.com", "password": "correct-horse-1", "pad": "x" * 300_000}
    )
    assert status == 413 and body["error"] == "payload_too_large"


def test_non_json_content_type_is_415(api):
    status, body = api.post("/auth/login", raw="<xml/>", headers={"Content-Type": "application/xml"})
    assert status == 415 and body["error"] == "unsupported_media_type"


def test_body_that_is_not_an_object_is_400(api):
    status, body = api.post("/auth/login", raw="[1, 2]")
    assert status == 400 and body["error"] == "validation_error"


def test_repeated_failures_lock_the_login_for_a_while(api, monkeypatch):
    api.register("ann@example.com")
    for _ in range(10):
        assert api.post("/auth/login", {"email": "ann@example.com", "password": "wrong-wrong-1"})[0] == 401
    response = api.client.post("/auth/login", json={"email": "ann@example.com", "password": "correct-horse-1"})
    assert response.status_code == 429 and response.get_json()["error"] == "too_many_attempts"
    assert 0 < int(response.headers["Retry-After"]) <= 900
    # An unknown login locks the same way: a 429 does not reveal that an account exists.
    for _ in range(10):
        api.post("/auth/login", {"email": "ghost@example.com", "password": "wrong-wrong-1"})
    assert api.post("/auth/login", {"email": "ghost@example.com", "password": "x"})[0] == 429
    later = time.time() + 901
    monkeypatch.setattr("gridpulse.accounts.sessions.time.time", lambda: later)
    assert api.login("ann@example.com")


def test_a_successful_login_clears_earlier_failures(api):
    api.register("ann@example.com")
    for _ in range(9):
        api.post("/auth/login", {"email": "ann@example.com", "password": "wrong-wrong-1"})
    assert api.login("ann@example.com")
    for _ in range(9):
        api.post("/auth/login", {"email": "ann@example.com", "password": "wrong-wrong-1"})
    assert api.login("ann@example.com")


def test_a_body_that_is_not_utf8_is_400_not_500(api):
    status, body = api.post("/auth/register", raw=b"\xff\xfe\x00junk")
    assert status == 400 and body["error"] == "invalid_json"


def test_the_lockout_is_per_account_whichever_login_name_is_used(api):
    api.register("ann@example.com", username="ann")
    api.register("bob@example.com", username="bob")
    for _ in range(10):
        assert api.post("/auth/login", {"email": "ann@example.com", "password": "wrong-wrong-1"})[0] == 401
    status, body = api.post("/auth/login", {"username": "ann", "password": "correct-horse-1"})
    assert status == 429 and body["error"] == "too_many_attempts", body
    for _ in range(10):
        assert api.post("/auth/login", {"username": "bob", "password": "wrong-wrong-1"})[0] == 401
    assert api.post("/auth/login", {"email": "BOB@example.com", "password": "correct-horse-1"})[0] == 429


def test_parallel_guesses_cannot_get_past_the_limit(aws, monkeypatch):
    """Eleven guesses at once (parallel Lambdas): at most ten passwords are
    checked, the rest are refused without one. Each DynamoDB request is made
    atomic, as DynamoDB makes it; everything between two requests interleaves."""
    import threading

    import botocore.client

    from gridpulse.accounts import sessions, users
    from gridpulse.errors import TooManyRequests, Unauthorized
    from gridpulse.security import passwords

    users.create_user(name="Ann", email="ann@example.com", password="correct-horse-1")
    atomic = threading.Lock()
    original_call = botocore.client.BaseClient._make_api_call

    def one_request_at_a_time(self, operation, params):
        with atomic:
            return original_call(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", one_request_at_a_time)
    guesses = 11
    outcomes: list[str] = []
    checked: list[int] = []
    release = threading.Event()
    progress = threading.Condition()

    def slow_wrong_check(stored_hash, password):
        with progress:
            checked.append(1)
            progress.notify_all()
        release.wait(10)  # every guess is in flight before any is answered
        return False

    monkeypatch.setattr(passwords, "verify_password", slow_wrong_check)

    def guess():
        try:
            sessions.login(login="ann@example.com", password="wrong-wrong-1")
        except Unauthorized:
            outcome = "401"
        except TooManyRequests:
            outcome = "429"
        with progress:
            outcomes.append(outcome)
            progress.notify_all()

    threads = [threading.Thread(target=guess) for _ in range(guesses)]
    for thread in threads:
        thread.start()
    with progress:
        assert progress.wait_for(lambda: len(checked) + outcomes.count("429") == guesses, timeout=20)
    release.set()
    for thread in threads:
        thread.join(20)
    assert sorted(outcomes) == ["401"] * 10 + ["429"]
    assert len(checked) == 10
