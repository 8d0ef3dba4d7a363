"""Settings come from the environment: defaults, whole numbers within bounds,
and a malformed variable named in the error."""

from __future__ import annotations

import pytest

from gridpulse.settings import Settings


def test_defaults_and_overrides(monkeypatch):
    for name in ("RAW_RETENTION_DAYS", "MAX_BODY_BYTES", "MAIL_FROM", "TOKEN_TTL_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    assert Settings.from_env().raw_retention_days == 90
    monkeypatch.setenv("RAW_RETENTION_DAYS", "30")
    monkeypatch.setenv("MAX_BODY_BYTES", " 2048 ")
    monkeypatch.setenv("MAIL_FROM", "ops@example.com")
    monkeypatch.setenv("TOKEN_TTL_SECONDS", "")  # empty keeps the default
    settings = Settings.from_env()
    assert (settings.raw_retention_days, settings.max_body_bytes, settings.mail_from, settings.token_ttl_seconds) == (
        30,
        2048,
        "ops@example.com",
        3600,
    )


@pytest.mark.parametrize(
    "name, value",
    [
        ("RAW_RETENTION_DAYS", "0"),
        ("RAW_RETENTION_DAYS", "3651"),
        ("RAW_RETENTION_DAYS", "ninety"),
        ("TOKEN_TTL_SECONDS", "59"),
        ("MAX_BODY_BYTES", "1023"),
        ("IDEMPOTENCY_TTL_SECONDS", "59"),
    ],
)
def test_a_malformed_variable_is_named(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"^{name} must be a whole number"):
        Settings.from_env()


def test_the_jwt_secret_is_not_in_the_repr(monkeypatch):
    monkeypatch.setenv("JWT_SECRET", "s3cret-value")
    assert "s3cret-value" not in repr(Settings.from_env())
