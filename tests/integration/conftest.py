"""Fixtures shared by the integration tests."""

import pytest


def new_meter(api, name: str = "m", power_rating_w: int = 5000, email: str = "owner@example.com") -> dict:
    """A user registered through the API and a meter of theirs: the user's token, the
    device id, its API key header (`key`) and its thing name."""
    token = api.register(email)["token"]
    created = api.create("/devices", {"name": name, "device_type": "meter", "power_rating_w": power_rating_w}, token)
    return {
        "token": token,
        "id": created["device_id"],
        "key": {"X-API-Key": created["credentials"]["api_key"]},
        "thing": created["credentials"]["thing_name"],
    }


@pytest.fixture
def meter(api):
    return new_meter(api)
