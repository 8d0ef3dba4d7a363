"""Users endpoint group: user admin, self-service profile, admin statistics."""

from __future__ import annotations

from gridpulse import stats
from gridpulse.accounts import sessions, users
from gridpulse.accounts.roles import Role
from gridpulse.accounts.schemas import (
    CreateUserIn,
    DeviceStatusesPage,
    StatsOut,
    UpdateUserIn,
    UserOut,
    UsersPage,
    UserUpdatedOut,
)
from gridpulse.api import (
    ADMIN,
    BEARER,
    Limit,
    NextToken,
    Response,
    create_app,
    current_caller,
    json_response,
    lambda_handler,
    status_doc,
)
from gridpulse.devices import service as devices
from gridpulse.devices.schemas import DevicesPage
from gridpulse.pagination import parse_limit
from gridpulse.schemas import MessageOut

app = create_app()


@app.get("/users", tags=["users"], summary="List users (admin)", security=ADMIN)
def list_users(limit: Limit = None, next_token: NextToken = None) -> UsersPage:
    current_caller(app, Role.admin)
    return users.list_users(parse_limit(limit), next_token)


@app.post(
    "/users",
    tags=["users"],
    summary="Create a user with role and scope (admin)",
    security=ADMIN,
    responses=status_doc(201, UserOut, "User created"),
)
def create_user(body: CreateUserIn) -> Response[UserOut]:
    current_caller(app, Role.admin)
    user = users.create_user(
        name=body.name,
        email=str(body.email),
        password=body.password,
        role=Role(body.role),
        username=body.username,
        city=body.city,
        hotel_ids=body.hotel_ids,
        cities=body.cities,
    )
    return json_response(201, users.public_view(user))


@app.get("/users/<user_id>", tags=["users"], summary="A user (self or admin)", security=BEARER)
def get_user(user_id: str) -> UserOut:
    caller = current_caller(app)
    return users.public_view(users.get_visible_user(caller, user_id))


@app.put(
    "/users/<user_id>",
    tags=["users"],
    summary="Update a user (self: profile; email or password with current_password, ending other sessions; "
    "admin: also role and scope)",
    security=BEARER,
)
def update_user(user_id: str, body: UpdateUserIn) -> UserUpdatedOut:
    caller = current_caller(app)
    user, renew = users.update_user(caller, user_id, body.model_dump(exclude_unset=True))
    out = users.public_view(user)
    out["token"] = sessions.new_session(user).token if renew else None
    return out


@app.patch(
    "/users/<user_id>/deactivate", tags=["users"], summary="Deactivate: no login, tokens stop (admin)", security=ADMIN
)
def deactivate(user_id: str) -> UserOut:
    caller = current_caller(app, Role.admin)
    return users.public_view(users.set_active(caller, user_id, False))


@app.patch("/users/<user_id>/activate", tags=["users"], summary="Re-activate (admin)", security=ADMIN)
def activate(user_id: str) -> UserOut:
    caller = current_caller(app, Role.admin)
    return users.public_view(users.set_active(caller, user_id, True))


@app.delete("/users/<user_id>", tags=["users"], summary="Delete a user and what it owns (admin)", security=ADMIN)
def delete_user(user_id: str) -> MessageOut:
    caller = current_caller(app, Role.admin)
    users.delete_user(caller, user_id)
    return {"message": "User deleted."}


@app.get("/users/<user_id>/devices", tags=["users"], summary="Devices a user owns (self or admin)", security=BEARER)
def user_devices(user_id: str, limit: Limit = None, next_token: NextToken = None) -> DevicesPage:
    return devices.list_owned_by(current_caller(app), user_id, parse_limit(limit), next_token)


@app.get("/admin/stats", tags=["admin"], summary="Platform counts (admin)", security=ADMIN)
def admin_stats() -> StatsOut:
    current_caller(app, Role.admin)
    return stats.platform_stats()


@app.get("/admin/devices/statuses", tags=["admin"], summary="Every device with online/offline (admin)", security=ADMIN)
def device_statuses(limit: Limit = None, next_token: NextToken = None) -> DeviceStatusesPage:
    current_caller(app, Role.admin)
    return devices.statuses(parse_limit(limit), next_token)


handler = lambda_handler(app, group="users")
