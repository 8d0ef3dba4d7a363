"""User admin: creating users, reading and changing them (self or admin),
deactivation, deletion and the admin list (/users/*, UsersFunction).

Every write that must keep names unique or counters right is one
TransactWriteItems.
"""

from __future__ import annotations

import uuid

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from gridpulse.accounts.authentication import load_user
from gridpulse.accounts.data import CounterItem, LoginNameItem, UserItem
from gridpulse.accounts.roles import Caller, Role
from gridpulse.dynamodb import connection, get_or_none, intact
from gridpulse.errors import BadRequest, Conflict, Forbidden, NotFound, field_error
from gridpulse.observability import count
from gridpulse.pagination import decode_token, page
from gridpulse.security import passwords
from gridpulse.timeutil import iso, utcnow
from gridpulse.views import view

# The keys of a user in every answer, in order: the fields of UserOut
# (gridpulse.accounts.schemas; tests/unit/test_views.py checks they match).
USER_FIELDS = (
    "user_id",
    "email",
    "username",
    "name",
    "role",
    "hotel_ids",
    "cities",
    "city",
    "active",
    "created_at",
    "updated_at",
)


def public_view(user: UserItem) -> dict:
    """What the API shows of a user. Never the hash, never the revocation list."""
    return view(
        user,
        USER_FIELDS,
        hotel_ids=list(user.hotel_ids or []),
        cities=list(user.cities or []),
        active=bool(user.active),
    )


def user_id_for_login(login: str) -> str | None:
    """The user id an email or username logs in as, or None."""
    key = LoginNameItem.email_key(login) if "@" in login else LoginNameItem.username_key(login)
    claim = get_or_none(LoginNameItem, key, consistent_read=True)
    return claim.user_id if claim is not None else None


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


def _raise_taken(exc: TransactWriteError, fields_in_order: list[str], updating: bool = False) -> None:
    """Translate a cancelled transaction into 409 naming the taken field(s); when `updating`,
    a user deleted meanwhile is 404, and a transaction that collided with another is 409."""
    reasons = getattr(exc, "cancellation_reasons", None) or []
    taken = [
        fields_in_order[i]
        for i, reason in enumerate(reasons)
        if i < len(fields_in_order) and reason is not None and reason.code == "ConditionalCheckFailed"
    ]
    if updating and "user" in taken:  # the user was deleted between reading and writing it
        raise NotFound("No such user.", code="user_not_found")
    if taken:
        raise Conflict(
            f"{' and '.join(taken)} already in use",
            code=f"{taken[0]}_taken",
            fields=[field_error(f, "already in use", "taken") for f in taken],
        )
    if any(reason is not None and reason.code == "TransactionConflict" for reason in reasons):
        raise Conflict("The user was changed at the same moment; try again.", code="concurrent_update")


def ensure_admin(email: str, password: str, name: str = "GridPulse admin") -> tuple[UserItem, bool]:
    """Create the first admin if that email has no account yet. Returns (user, created)."""
    existing = user_id_for_login(email)
    if existing:
        user = load_user(existing)
        if user is not None:
            return user, False
    user = create_user(name=name, email=email, password=password, role=Role.admin)
    return user, True


def get_visible_user(caller: Caller, user_id: str) -> UserItem:
    """Self or admin; anyone else gets 404 so that ids cannot be probed."""
    caller.require_self_or_admin(user_id)
    user = load_user(user_id)
    if user is None:
        raise NotFound("No such user.", code="user_not_found")
    return user


ADMIN_FIELDS = {"role", "hotel_ids", "cities"}


def update_user(caller: Caller, user_id: str, changes: dict) -> tuple[UserItem, bool]:
    """Apply a partial update. Returns the user and whether the caller changed
    its own password or email (its sessions ended: it needs a fresh one,
    sessions.new_session).

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
        return user, False
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
        _raise_taken(exc, fields_in_order, updating=True)
        raise
    user = load_user(user_id)
    assert user is not None
    return user, self_service and credentials_change


def set_active(caller: Caller, user_id: str, active: bool) -> UserItem:
    """Deactivate (soft delete) or re-activate. Deactivation ends every session."""
    if caller.user_id == user_id and not active:
        raise Conflict("You cannot deactivate your own account.", code="cannot_deactivate_self")
    user = load_user(user_id)
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
    refreshed = load_user(user_id)
    assert refreshed is not None
    return refreshed


def delete_user(caller: Caller, user_id: str) -> None:
    """Hard delete: the user, its login names, what it owns (devices are
    deprovisioned, groups removed) and its prepaid meter assignments."""
    from gridpulse.billing.data import delete_assignments_of
    from gridpulse.devices import service as devices
    from gridpulse.groups import service as groups

    if caller.user_id == user_id:
        raise Conflict("You cannot delete your own account.", code="cannot_delete_self")
    user = load_user(user_id)
    if user is None:
        raise NotFound("No such user.", code="user_not_found")
    devices.delete_all_owned_by(user_id)
    groups.delete_all_owned_by(user_id)
    delete_assignments_of(user_id)
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
