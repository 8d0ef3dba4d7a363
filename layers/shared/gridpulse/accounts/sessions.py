"""Sessions: login (with its lockout), the tokens a session is, logout and
self-service registration (POST /auth/*, AuthFunction).

DynamoDB requests: login costs two GetItems (login name, then user) and a
conditional write that counts the attempt (a PutItem that opens the window;
an UpdateItem after it while failures are counted), plus a DeleteItem that
clears the count when the password was right. Checking a session's token on
later requests is authentication.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pynamodb.exceptions import PutError, UpdateError

from gridpulse.accounts.authentication import load_user
from gridpulse.accounts.data import LoginAttemptsItem, UserItem
from gridpulse.accounts.roles import Caller
from gridpulse.accounts.users import create_user, public_view, user_id_for_login
from gridpulse.dynamodb import get_or_none
from gridpulse.errors import Forbidden, TooManyRequests, Unauthorized
from gridpulse.observability import count
from gridpulse.security import passwords
from gridpulse.security.tokens import TokenClaims, issue_token
from gridpulse.views import view

# A user may keep at most this many logged-out-but-unexpired token ids; past
# that, logout revokes every session of the user instead (bounded item size).
MAX_REVOKED = 200


@dataclass(frozen=True)
class Session:
    token: str
    claims: TokenClaims
    user: UserItem


# The keys of a session in every answer, in order: the fields of SessionOut
# (gridpulse.accounts.schemas; tests/unit/test_views.py checks they match).
SESSION_FIELDS = ("token", "token_type", "expires_at", "user")


def session_view(session: Session) -> dict:
    return view(
        session,
        SESSION_FIELDS,
        token_type="Bearer",
        expires_at=iso_epoch(session.claims.exp),
        user=public_view(session.user),
    )


def iso_epoch(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def new_session(user: UserItem) -> Session:
    token, claims = issue_token(user.user_id, user.role, int(user.token_version))
    return Session(token=token, claims=claims, user=user)


def register(*, name: str, email: str, password: str, username: str | None, city: str | None) -> Session:
    """Self-service sign-up. The role is always viewer; scope is granted by an admin."""
    user = create_user(name=name, email=email, password=password, username=username, city=city)
    count("UserRegistered")
    return new_session(user)


MAX_FAILED_LOGINS = 10
LOCKOUT_WINDOW_S = 15 * 60


def _condition_failed(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def _locked_out(key: str) -> TooManyRequests:
    window = get_or_none(LoginAttemptsItem, key, consistent_read=True)
    since = window.since if window is not None else time.time()
    count("LoginLockedOut")
    retry = int(since + LOCKOUT_WINDOW_S - time.time()) + 1
    return TooManyRequests(
        "Too many failed logins; try again later.",
        code="too_many_attempts",
        headers={"Retry-After": str(max(retry, 1))},
    )


def _claim_attempt(key: str) -> None:
    """Count this attempt before its password is checked, or raise 429 when
    the window already holds MAX_FAILED_LOGINS attempts.

    Each step is one conditional write, so parallel requests (other Lambda
    instances) can neither lose a count nor all slip under the limit: at most
    MAX_FAILED_LOGINS passwords are checked per window.
    """
    for _ in range(3):
        now = int(time.time())
        cutoff = now - LOCKOUT_WINDOW_S
        try:  # no window, or an expired one (the usual case): open a new one with this attempt
            LoginAttemptsItem(key, failures=1, since=now, ttl=now + LOCKOUT_WINDOW_S).save(
                condition=LoginAttemptsItem.pk.does_not_exist() | (LoginAttemptsItem.since <= cutoff)
            )
            return
        except PutError as exc:
            if not _condition_failed(exc):
                raise
        try:  # a window is open and has room: one more
            LoginAttemptsItem(key).update(
                actions=[LoginAttemptsItem.failures.add(1)],
                condition=(LoginAttemptsItem.since > cutoff) & (LoginAttemptsItem.failures < MAX_FAILED_LOGINS),
            )
            return
        except UpdateError as exc:
            if not _condition_failed(exc):
                raise
        # Neither: the open window is full (or it was reset in between: try again).
        item = get_or_none(LoginAttemptsItem, key, consistent_read=True)
        if item is None:
            continue
        if item.since > cutoff and item.failures >= MAX_FAILED_LOGINS:
            raise _locked_out(key)
    raise _locked_out(key)


def login(*, login: str, password: str) -> Session:
    """Email or username plus password. Unknown login and wrong password look
    alike. Attempts are counted per account, whichever of its login names is
    used (per login name for names that are no account): ten failures in 15
    minutes lock it for the rest of the window (429), the right password
    included; a successful login clears the count."""
    user_id = user_id_for_login(login)
    attempts_key = LoginAttemptsItem.account_key(user_id) if user_id else LoginAttemptsItem.key(login)
    _claim_attempt(attempts_key)
    user = load_user(user_id) if user_id else None
    if not passwords.verify_password(user.password_hash if user else None, password):
        count("LoginFailed")
        raise Unauthorized("Wrong login or password.", code="invalid_credentials")
    assert user is not None
    LoginAttemptsItem(attempts_key).delete()
    if not user.active:
        count("LoginFailed")
        raise Forbidden("This account is deactivated.", code="account_deactivated")
    if passwords.needs_rehash(user.password_hash):
        user.update(actions=[UserItem.password_hash.set(passwords.hash_password(password))])
    count("LoginSucceeded")
    return new_session(user)


def logout(caller: Caller) -> None:
    """Revoke this token at once; other sessions of the user stay valid."""
    now = int(time.time())
    expired = [jti for jti, exp in caller.revoked.items() if int(exp) <= now]
    live = len(caller.revoked) - len(expired)
    user = UserItem(UserItem.key(caller.user_id))
    if live >= MAX_REVOKED:
        actions = [UserItem.token_version.add(1), UserItem.revoked.set({})]
    else:
        actions = [UserItem.revoked[caller.jti].set(caller.token_exp)]
        actions += [UserItem.revoked[jti].remove() for jti in expired[:50]]
    user.update(actions=actions, condition=UserItem.pk.exists())
