"""Auth endpoint group: register, login, logout, me, forgot and reset password."""

from __future__ import annotations

from gridpulse.accounts import password_reset, sessions, users
from gridpulse.accounts.schemas import ForgotPasswordIn, LoginIn, RegisterIn, ResetPasswordIn, SessionOut, UserOut
from gridpulse.api import BEARER, Response, create_app, current_user, json_response, lambda_handler, status_doc
from gridpulse.schemas import MessageOut

app = create_app()


@app.post(
    "/auth/register",
    tags=["auth"],
    summary="Create an account (role viewer)",
    responses=status_doc(201, SessionOut, "Account created, logged in"),
)
def register(body: RegisterIn) -> Response[SessionOut]:
    session = sessions.register(
        name=body.name, email=str(body.email), password=body.password, username=body.username, city=body.city
    )
    return json_response(201, sessions.session_view(session))


@app.post("/auth/login", tags=["auth"], summary="Log in with email or username")
def login(body: LoginIn) -> SessionOut:
    return sessions.session_view(sessions.login(login=body.login, password=body.password))


@app.post("/auth/logout", tags=["auth"], summary="Revoke this token", security=BEARER)
def logout() -> MessageOut:
    caller, _ = current_user(app)
    sessions.logout(caller)
    return {"message": "Logged out."}


@app.get("/auth/me", tags=["auth"], summary="The caller", security=BEARER)
def me() -> UserOut:
    _, user = current_user(app)
    return users.public_view(user)


@app.post(
    "/auth/forgot-password",
    tags=["auth"],
    summary="Email a password reset token",
    responses=status_doc(202, MessageOut, "Accepted (the same answer whether or not the account exists)"),
)
def forgot_password(body: ForgotPasswordIn) -> Response[MessageOut]:
    # Same status, body and work (one SQS message) whether or not the account exists.
    password_reset.request_password_reset(str(body.email))
    return json_response(202, {"message": "If an account exists for this email, a reset token is on its way."})


@app.post("/auth/reset-password", tags=["auth"], summary="Set a new password with a reset token")
def reset_password(body: ResetPasswordIn) -> MessageOut:
    password_reset.reset_password(body.token, body.password)
    return {"message": "Password changed. Log in with the new password."}


handler = lambda_handler(app, group="auth")
