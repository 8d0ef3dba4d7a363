import time

import jwt
import pytest

from gridpulse.errors import Unauthorized
from gridpulse.security import passwords
from gridpulse.security.opaque import new_secret, secret_hash
from gridpulse.security.tokens import decode_token, issue_token


@pytest.fixture(autouse=True)
def signing_key(monkeypatch):
    from gridpulse.security.secrets import jwt_signing_key
    from gridpulse.settings import get_settings

    monkeypatch.setenv("JWT_SECRET_ARN", "")
    monkeypatch.setenv("JWT_SECRET", "k" * 64)
    get_settings.cache_clear()
    jwt_signing_key.cache_clear()
    yield
    get_settings.cache_clear()
    jwt_signing_key.cache_clear()


@pytest.mark.production_password_hashing
def test_password_hash_is_argon2id_at_owasp_parameters():
    hashed = passwords.hash_password("correct-horse-1")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.verify_password(hashed, "correct-horse-1")
    assert not passwords.verify_password(hashed, "correct-horse-2")
    assert not passwords.verify_password(None, "anything")
    assert not passwords.verify_password("not-a-hash", "anything")


def test_token_round_trip_and_claims():
    token, claims = issue_token("u1", "viewer", 3)
    decoded = decode_token(token)
    assert decoded == claims
    assert decoded.exp - decoded.iat == 3600 and decoded.ver == 3


def test_token_algorithm_is_pinned():
    token, _ = issue_token("u1", "viewer", 1)
    payload = jwt.decode(token, options={"verify_signature": False})
    for alg in ("HS384", "HS512"):
        with pytest.raises(Unauthorized):
            decode_token(jwt.encode(payload, "k" * 64, algorithm=alg))


def test_expired_token_is_refused():
    token, _ = issue_token("u1", "viewer", 1, now=time.time() - 7200)
    with pytest.raises(Unauthorized) as err:
        decode_token(token)
    assert err.value.code == "token_expired"


def test_token_missing_a_claim_is_refused():
    payload = {
        "iss": "gridpulse",
        "aud": "gridpulse-api",
        "sub": "u1",
        "iat": int(time.time()),
        "exp": int(time.time()) + 60,
        "role": "admin",
    }
    with pytest.raises(Unauthorized):
        decode_token(jwt.encode(payload, "k" * 64, algorithm="HS256"))


def test_opaque_secrets_are_random_and_hashed():
    a, b = new_secret("gp_"), new_secret("gp_")
    assert a != b and a.startswith("gp_") and len(a) > 40
    assert secret_hash(a) != a and len(secret_hash(a)) == 64
