"""Request and response bodies of the auth and users endpoint groups."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import EmailStr, Field, model_validator

from gridpulse.accounts.roles import Role
from gridpulse.schemas import Input, NotNull, Output, Page, label
from gridpulse.security.passwords import MAX_LENGTH, MIN_LENGTH

Password = Annotated[str, Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH, description="8 to 128 characters")]
Name = label(100)
Username = Annotated[str, Field(min_length=3, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")]
City = label(100)
ScopeId = Annotated[str, Field(min_length=1, max_length=100)]
RoleName = Literal[tuple(role.value for role in Role)]


class RegisterIn(Input):
    name: Name
    email: EmailStr
    password: Password
    username: Username | None = None
    city: City | None = None


class LoginIn(Input):
    email: EmailStr | None = None
    username: Annotated[str, Field(min_length=1, max_length=254)] | None = None
    password: Annotated[str, Field(min_length=1, max_length=MAX_LENGTH)]

    @model_validator(mode="after")
    def one_login(self):
        if not self.email and not self.username:
            raise ValueError("send email or username")
        return self

    @property
    def login(self) -> str:
        return str(self.email or self.username)


class ForgotPasswordIn(Input):
    email: EmailStr


class ResetPasswordIn(Input):
    token: Annotated[str, Field(min_length=16, max_length=200)]
    password: Password


class UserOut(Output):
    user_id: str
    email: str
    username: str | None = None
    name: str
    role: RoleName
    hotel_ids: list[str] = []
    cities: list[str] = []
    city: str | None = None
    active: bool
    created_at: str
    updated_at: str


class SessionOut(Output):
    token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_at: str
    user: UserOut


class CreateUserIn(Input):
    name: Name
    email: EmailStr
    password: Password
    role: RoleName = "viewer"
    username: Username | None = None
    city: City | None = None
    hotel_ids: Annotated[list[ScopeId], Field(max_length=500)] = []
    cities: Annotated[list[City], Field(max_length=500)] = []


class UpdateUserIn(Input):
    """Fields left out keep their value; null removes username or city."""

    name: NotNull[Name] = None
    email: NotNull[EmailStr] = None
    username: Username | None = None
    city: City | None = None
    password: NotNull[Password] = None
    current_password: Annotated[str, Field(max_length=MAX_LENGTH)] | None = None
    role: NotNull[RoleName] = None
    hotel_ids: NotNull[Annotated[list[ScopeId], Field(max_length=500)]] = None
    cities: NotNull[Annotated[list[City], Field(max_length=500)]] = None


class UserUpdatedOut(UserOut):
    token: str | None = Field(
        None, description="A new token when you changed your own password or email (your other sessions were ended)."
    )


class UsersPage(Page[UserOut]):
    pass


class UserCounts(Output):
    total: int
    active: int


class StatsOut(Output):
    users: UserCounts
    total_devices: int
    active_devices: int
    readings_stored: int
    open_alerts: int


class DeviceStatusOut(Output):
    device_id: str
    name: str
    device_type: str
    status: str
    online: bool
    last_seen: str | None = None


class DeviceStatusesPage(Page[DeviceStatusOut]):
    pass
