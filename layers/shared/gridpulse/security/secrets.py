"""Secret material shared by the functions (the JWT signing key).

Read from Secrets Manager once per container and cached; a literal
JWT_SECRET is accepted only where no ARN is configured (unit tests, tools).
"""

from __future__ import annotations

import functools

from gridpulse.aws import client
from gridpulse.settings import get_settings


@functools.cache
def jwt_signing_key() -> bytes:
    settings = get_settings()
    if settings.jwt_secret_arn:
        value = client("secretsmanager").get_secret_value(SecretId=settings.jwt_secret_arn)["SecretString"]
    elif settings.jwt_secret:
        value = settings.jwt_secret
    else:
        raise RuntimeError("JWT_SECRET_ARN is not set")
    if len(value) < 32:
        raise RuntimeError("the JWT signing secret must be at least 32 characters")
    return value.encode()
