"""Accounts: registration, login, sessions, password reset and user admin.

Every function here speaks in plain values and domain errors; the API layer
turns them into HTTP. DynamoDB requests per operation are kept small and are
measured by `make bench`:

* an authenticated call costs one GetItem (the user, which carries the
  token version and the list of logged-out token ids);
* login costs two GetItems (login name, then user) and a conditional write
  that counts the attempt (a PutItem that opens the window; an UpdateItem
  after it while failures are counted), plus a DeleteItem that clears the
  count when the password was right;
* every write that must keep names unique or counters right is one
  TransactWriteItems.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from gridpulse.aws import client
from gridpulse.data.base import connection, intact
from gridpulse.data.users import CounterItem, LoginAttemptsItem, LoginNameItem, ResetTokenItem, UserItem
from gridpulse.domain.roles import Caller, Role
from gridpulse.errors import BadRequest, Conflict, Forbidden, NotFound, TooManyRequests, Unauthorized, field_error
from gridpulse.mailer import send_email
from gridpulse.observability import count, logger
from gridpulse.pagination import decode_token, page
from gridpulse.security import passwords
from gridpulse.security.opaque import new_secret, secret_hash
from gridpulse.security.tokens import TokenClaims, issue_token
from gridpulse.security.tokens import decode_token as decode_jwt
from gridpulse.settings import get_settings
from gridpulse.timeutil import iso, utcnow

# A user may keep at most this many logged-out-but-unexpired token ids; past
# that, logout revokes every session of the user instead (bounded item size).
MAX_REVOKED = 200


@dataclass(frozen=True)
class Session:
    token: str
    claims: TokenClaims
    user: UserItem


# ---------------------------------------------------------------- views


def public_view(user: UserItem) -> dict:
    """What the API shows of a user. Never the hash, never the revocation list."""
    return {
        "user_id": user.user_id,
        "email": user.email,
        "username": user.username,
        "name": user.name,
        "role": user.role,
        "hotel_ids": list(user.hotel_ids or []),
        "cities": list(user.cities or []),
        "city": user.city,
        "active": bool(user.active),
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    }


def session_view(session: Session) -> dict:
    return {
        "token": session.token,
        "token_type": "Bearer",
        "expires_at": iso_epoch(session.claims.exp),
        "user": public_view(session.user),
    }


def iso_epoch(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


# ---------------------------------------------------------------- lookups


def _load_user(user_id: str) -> UserItem | None:
    try:
        return UserItem.get(UserItem.key(user_id), consistent_read=True)
    except DoesNotExist:
        return None


def _revoked(user: UserItem) -> dict[str, int]:
    raw = user.revoked.as_dict() if user.revoked is not None else {}
    return {str(jti): int(exp) for jti, exp in raw.items()}


def _user_id_for_login(login: str) -> str | None:
    key = LoginNameItem.email_key(login) if "@" in login else LoginNameItem.username_key(login)
    try:
        return LoginNameItem.get(key, consistent_read=True).user_id
    except DoesNotExist:
        return None


# ---------------------------------------------------------------- creation


def create_user(
    *,
    name: str,
    email: str,
    password: str,
    role: Role = Role.viewer,
    username: str | None = None,
    city: str | None = None,
    hotel_ids: list[str] | None = None,
    cities: list[str] | None = None,
) -> UserItem:
    """Create a user; 409 naming the field when the email or username is taken."""
    now = iso(utcnow())
    user_id = str(uuid.uuid4())
    user = UserItem(
        UserItem.key(user_id),
        user_id=user_id,
        email=email.strip().lower(),
        username=username.strip() if username else None,
        name=name.strip(),
        password_hash=passwords.hash_password(password),
        role=role.value,
        hotel_ids=list(hotel_ids or []),
        cities=list(cities or []),
        city=city,
        active=True,
        token_version=1,
        revoked={},
        created_at=now,
        updated_at=now,
        list_sk=f"{now}#{user_id}",
    )
    claims = [("email", LoginNameItem(LoginNameItem.email_key(email), user_id=user_id))]
    if username:
        claims.append(("username", LoginNameItem(LoginNameItem.username_key(username), user_id=user_id)))
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(user, condition=UserItem.pk.does_not_exist())
            for _, claim in claims:
                tx.save(claim, condition=LoginNameItem.pk.does_not_exist())
            tx.update(CounterItem(CounterItem.USERS), actions=[CounterItem.total.add(1), CounterItem.active.add(1)])
    except TransactWriteError as exc:
        _raise_taken(exc, ["user"] + [field for field, _ in claims])
        raise
    count("UserCreated")
    return user


def _raise_taken(exc: TransactWriteError, fields_in_order: list[str]) -> None:
    """Translate a cancelled transaction into 409 naming the taken field(s)."""
    reasons = getattr(exc, "cancellation_reasons", None) or []
    taken = [
        fields_in_order[i]
        for i, reason in enumerate(reasons)
        if i < len(fields_in_order) and reason is not None and reason.code == "ConditionalCheckFailed"
    ]
    taken = [f for f in taken if f != "user"]
    if taken:
        raise Conflict(
            f"{' and '.join(taken)} already in use",
            code=f"{taken[0]}_taken",
            fields=[field_error(f, "already in use", "taken") for f in taken],
        )


def register(*, name: str, email: str, password: str, username: str | None, city: str | None) -> Session:
    """Self-service sign-up. The role is always viewer; scope is granted by an admin."""
    user = create_user(name=name, email=email, password=password, username=username, city=city)
    count("UserRegistered")
    return _new_session(user)


def ensure_admin(email: str, password: str, name: str = "GridPulse admin") -> tuple[UserItem, bool]:
    """Create the first admin if that email has no account yet. Returns (user, created)."""
    existing = _user_id_for_login(email)
    if existing:
        user = _load_user(existing)
        if user is not None:
            return user, False
    user = create_user(name=name, email=email, password=password, role=Role.admin)
    return user, True


# ---------------------------------------------------------------- sessions


def _new_session(user: UserItem) -> Session:
    token, claims = issue_token(user.user_id, user.role, int(user.token_version))
    return Session(token=token, claims=claims, user=user)


MAX_FAILED_LOGINS = 10
LOCKOUT_WINDOW_S = 15 * 60


def _condition_failed(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def _locked_out(key: str) -> TooManyRequests:
    try:
        since = LoginAttemptsItem.get(key, consistent_read=True).since
    except DoesNotExist:
        since = time.time()
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
        try:
            item = LoginAttemptsItem.get(key, consistent_read=True)
        except DoesNotExist:
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
    user_id = _user_id_for_login(login)
    attempts_key = LoginAttemptsItem.account_key(user_id) if user_id else LoginAttemptsItem.key(login)
    _claim_attempt(attempts_key)
    user = _load_user(user_id) if user_id else None
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
    return _new_session(user)


def authenticate(authorization: str | None) -> tuple[Caller, UserItem]:
    """Resolve `Authorization: Bearer <jwt>` into the caller, or raise 401.

    One strongly-consistent GetItem: logout, deactivation, deletion and
    password changes therefore take effect on the very next request.
    """
    if not authorization:
        raise Unauthorized("Send Authorization: Bearer <token>.", code="missing_token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send Authorization: Bearer <token>.", code="missing_token")
    claims = decode_jwt(token.strip())
    user = _load_user(claims.sub)
    if user is None:
        raise Unauthorized("The token is not valid.", code="invalid_token")
    if not user.active:
        raise Unauthorized("This account is deactivated.", code="account_deactivated")
    revoked = _revoked(user)
    if int(user.token_version) != claims.ver or claims.jti in revoked:
        raise Unauthorized("The token has been revoked.", code="token_revoked")
    caller = Caller(
        user_id=user.user_id,
        role=Role(user.role),
        hotel_ids=tuple(user.hotel_ids or ()),
        cities=tuple(user.cities or ()),
        city=user.city,
        jti=claims.jti,
        token_exp=claims.exp,
        revoked=revoked,
    )
    return caller, user


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


# ---------------------------------------------------------------- password reset


def request_password_reset(email: str) -> None:
    """POST /auth/forgot-password: queue the address for PasswordResetFunction.

    The request path does exactly this for any address, known or not (no
    lookup, no mail, no sleep), so neither the answer nor its timing says
    whether an account exists, and no worker waits on a mail server.
    """
    client("sqs").send_message(
        QueueUrl=get_settings().password_reset_queue_url, MessageBody=json.dumps({"email": email})
    )


def handle_reset_requests(event: dict) -> dict:
    """PasswordResetFunction: one `forgot_password` per queued address; a
    failed one (SES or DynamoDB down) is retried by SQS."""
    failures = []
    for record in event.get("Records", []):
        try:
            email = json.loads(record["body"])["email"]
        except (KeyError, TypeError, ValueError):
            logger.warning("reset request skipped: no email", extra={"message_id": record.get("messageId")})
            continue
        if not isinstance(email, str):
            logger.warning("reset request skipped: no email", extra={"message_id": record.get("messageId")})
            continue
        try:
            forgot_password(email)
        except Exception:
            logger.exception("reset email not sent; will be retried", extra={"message_id": record.get("messageId")})
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def forgot_password(email: str) -> None:
    """Email a single-use reset token if an active account has this email
    (run off the request path, from the reset queue)."""
    user_id = _user_id_for_login(email) if "@" in email else None
    user = _load_user(user_id) if user_id else None
    if user is None or not user.active:
        logger.info("password reset requested for an unknown or inactive account")
        return
    settings = get_settings()
    token = new_secret()
    nonce = secrets.token_hex(8)
    expires_at = int(time.time()) + settings.reset_token_ttl_seconds
    with TransactWrite(connection=connection()) as tx:
        tx.save(
            ResetTokenItem(
                ResetTokenItem.key(secret_hash(token)),
                user_id=user.user_id,
                nonce=nonce,
                expires_at=expires_at,
                ttl=expires_at,
            )
        )
        tx.update(
            UserItem(UserItem.key(user.user_id)),
            actions=[UserItem.reset_nonce.set(nonce)],
            condition=UserItem.pk.exists(),
        )
    minutes = settings.reset_token_ttl_seconds // 60
    send_email(
        user.email,
        "Reset your GridPulse password",
        f"Hello {user.name},\n\n"
        f"Someone asked to reset the password of your GridPulse account. If it was you, use this token "
        f"within {minutes} minutes. It works once.\n\n"
        f"Reset token: {token}\n\n"
        f"curl -X POST {settings.public_url}/auth/reset-password -H 'Content-Type: application/json' "
        f'-d \'{{"token": "{token}", "password": "<new password>"}}\'\n\n'
        f"If it was not you, ignore this email: your password stays as it is.\n",
    )
    count("PasswordResetRequested")


def reset_password(token: str, new_password: str) -> None:
    """Set a new password with a reset token; the token works once.

    Success also revokes every access token and every other reset token of
    the user. Any failure is the same 400, whether the token never existed,
    expired, was used, or was superseded.
    """
    invalid = BadRequest(
        "The reset token is invalid or has expired.",
        code="invalid_reset_token",
        fields=[field_error("token", "invalid, used or expired")],
    )
    try:
        item = ResetTokenItem.get(ResetTokenItem.key(secret_hash(token)), consistent_read=True)
    except DoesNotExist:
        raise invalid from None
    if item.expires_at <= time.time():
        raise invalid
    user = _load_user(item.user_id)
    if user is None or not user.active or user.reset_nonce != item.nonce:
        raise invalid
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.delete(item, condition=ResetTokenItem.pk.exists())
            tx.update(
                UserItem(UserItem.key(user.user_id)),
                actions=[
                    UserItem.password_hash.set(passwords.hash_password(new_password)),
                    UserItem.token_version.add(1),
                    UserItem.revoked.set({}),
                    UserItem.reset_nonce.remove(),
                    UserItem.updated_at.set(iso(utcnow())),
                ],
                condition=UserItem.reset_nonce == item.nonce,
            )
    except TransactWriteError:
        raise invalid from None
    count("PasswordReset")


# ---------------------------------------------------------------- user admin


def get_visible_user(caller: Caller, user_id: str) -> UserItem:
    """Self or admin; anyone else gets 404 so that ids cannot be probed."""
    if not caller.is_admin and caller.user_id != user_id:
        raise NotFound("No such user.", code="user_not_found")
    user = _load_user(user_id)
    if user is None:
        raise NotFound("No such user.", code="user_not_found")
    return user


SELF_FIELDS = {"name", "email", "password", "current_password", "username", "city"}
ADMIN_FIELDS = {"role", "hotel_ids", "cities"}


def update_user(caller: Caller, user_id: str, changes: dict) -> tuple[UserItem, Session | None]:
    """Apply a partial update. Returns the user and, when the caller changed its
    own password or email, a fresh session.

    The credentials of an account (password, email: the address a reset
    token goes to) change only with proof: the user's own change needs its
    current_password, and every such change, the user's or an admin's, ends
    all the user's sessions. So a stolen token alone cannot take the account
    over. An admin changes another user's email or password without that
    user's password (it is how an admin repairs an account); the user then
    logs in again.
    """
    user = get_visible_user(caller, user_id)
    if not caller.is_admin:
        forbidden = sorted(set(changes) & ADMIN_FIELDS)
        if forbidden:
            raise Forbidden(
                "Only an admin may change role or scope.",
                code="forbidden_field",
                fields=[field_error(f, "only an admin may change this", "forbidden") for f in forbidden],
            )
    self_service = caller.user_id == user_id
    new_email = changes["email"].strip().lower() if changes.get("email") else None
    email_changes = new_email is not None and new_email != user.email
    credentials_change = "password" in changes or email_changes
    actions = []
    claim_ops: list[tuple[str, str | None, str | None]] = []  # (field, old key, new key)
    if credentials_change:
        if self_service:
            current = changes.get("current_password")
            if not current or not passwords.verify_password(user.password_hash, current):
                raise BadRequest(
                    "current_password is missing or wrong.",
                    code="invalid_current_password",
                    fields=[field_error("current_password", "required and must match your password")],
                )
        actions += [UserItem.token_version.add(1), UserItem.revoked.set({})]
    if "password" in changes:
        actions.append(UserItem.password_hash.set(passwords.hash_password(changes["password"])))
    if "name" in changes:
        actions.append(UserItem.name.set(changes["name"].strip()))
    if "city" in changes:
        actions.append(UserItem.city.set(changes["city"]) if changes["city"] else UserItem.city.remove())
    if email_changes:
        actions.append(UserItem.email.set(new_email))
        claim_ops.append(("email", LoginNameItem.email_key(user.email), LoginNameItem.email_key(new_email)))
    if "username" in changes and (changes["username"] or None) != user.username:
        new_name = changes["username"].strip() if changes["username"] else None
        actions.append(UserItem.username.set(new_name) if new_name else UserItem.username.remove())
        old_key = LoginNameItem.username_key(user.username) if user.username else None
        new_key = LoginNameItem.username_key(new_name) if new_name else None
        if old_key != new_key:  # "Alice" -> "alice" keeps the claim it already holds
            claim_ops.append(("username", old_key, new_key))
    if caller.is_admin:
        if "role" in changes:
            actions.append(UserItem.role.set(Role(changes["role"]).value))
            if Role(changes["role"]).value != user.role and not credentials_change:
                # A token carries its role: a role change ends the user's sessions.
                actions.append(UserItem.token_version.add(1))
        if "hotel_ids" in changes:
            actions.append(UserItem.hotel_ids.set(list(changes["hotel_ids"])))
        if "cities" in changes:
            actions.append(UserItem.cities.set(list(changes["cities"])))
    if not actions:
        return user, None
    actions.append(UserItem.updated_at.set(iso(utcnow())))
    fields_in_order = ["user"]
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(UserItem(UserItem.key(user_id)), actions=actions, condition=UserItem.pk.exists())
            for field, old_key, new_key in claim_ops:
                if new_key:
                    tx.save(LoginNameItem(new_key, user_id=user_id), condition=LoginNameItem.pk.does_not_exist())
                    fields_in_order.append(field)
                if old_key:
                    tx.delete(LoginNameItem(old_key))
                    fields_in_order.append(f"old {field}")
    except TransactWriteError as exc:
        _raise_taken(exc, fields_in_order)
        raise
    user = _load_user(user_id)
    assert user is not None
    session = _new_session(user) if self_service and credentials_change else None
    return user, session


def set_active(caller: Caller, user_id: str, active: bool) -> UserItem:
    """Deactivate (soft delete) or re-activate. Deactivation ends every session."""
    if caller.user_id == user_id and not active:
        raise Conflict("You cannot deactivate your own account.", code="cannot_deactivate_self")
    user = _load_user(user_id)
    if user is None:
        raise NotFound("No such user.", code="user_not_found")
    if bool(user.active) == active:
        return user
    actions = [UserItem.active.set(active), UserItem.updated_at.set(iso(utcnow()))]
    if not active:
        actions += [UserItem.token_version.add(1), UserItem.revoked.set({})]
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(UserItem(UserItem.key(user_id)), actions=actions, condition=UserItem.active == (not active))
            tx.update(CounterItem(CounterItem.USERS), actions=[CounterItem.active.add(1 if active else -1)])
    except TransactWriteError:
        # Someone else flipped it first: the end state is what was asked for.
        pass
    refreshed = _load_user(user_id)
    assert refreshed is not None
    return refreshed


def delete_user(caller: Caller, user_id: str) -> None:
    """Hard delete: the user, its login names, and what it owns (devices are
    deprovisioned, groups removed)."""
    from gridpulse.domain import devices, groups

    if caller.user_id == user_id:
        raise Conflict("You cannot delete your own account.", code="cannot_delete_self")
    user = _load_user(user_id)
    if user is None:
        raise NotFound("No such user.", code="user_not_found")
    devices.delete_all_owned_by(user_id)
    groups.delete_all_owned_by(user_id)
    with TransactWrite(connection=connection()) as tx:
        tx.delete(UserItem(UserItem.key(user_id)))
        tx.delete(LoginNameItem(LoginNameItem.email_key(user.email)))
        if user.username:
            tx.delete(LoginNameItem(LoginNameItem.username_key(user.username)))
        tx.update(
            CounterItem(CounterItem.USERS),
            actions=[CounterItem.total.add(-1)] + ([CounterItem.active.add(-1)] if user.active else []),
        )
    count("UserDeleted")


def list_users(limit: int, next_token: str | None) -> dict:
    """Newest first, one Query on the users-by-created index per page."""
    start = decode_token(next_token, "users")
    result = UserItem.by_created.query("users", scan_index_forward=False, limit=limit, last_evaluated_key=start)
    items = [public_view(u) for u in intact(result, "user")]
    return page(items, result.last_evaluated_key, "users")


def user_counts() -> dict:
    try:
        counter = CounterItem.get(CounterItem.USERS)
        return {"total": int(counter.total), "active": int(counter.active)}
    except DoesNotExist:
        return {"total": 0, "active": 0}
