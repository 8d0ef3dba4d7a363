import base64
import json

import pytest

from gridpulse import pagination
from gridpulse.errors import BadRequest
from gridpulse.pagination import DEFAULT_LIMIT, chained_page, decode_token, encode_token, page, parse_limit


@pytest.fixture(autouse=True)
def page_key(monkeypatch):
    monkeypatch.setattr(pagination, "_key", lambda: b"k" * 32)


KEY = {"pk": {"S": "user#1"}, "list_pk": {"S": "users"}, "list_sk": {"S": "2026#1"}}


def test_token_round_trip():
    assert decode_token(encode_token(KEY, "users"), "users") == KEY
    assert encode_token(None, "users") is None and decode_token(None, "users") is None


def _bad(token, purpose="users"):
    with pytest.raises(BadRequest) as err:
        decode_token(token, purpose)
    assert err.value.code == "invalid_next_token"
    assert err.value.fields[0]["field"] == "next_token"


@pytest.mark.parametrize("garbage", ["!!!", "bm90IGpzb24", "W10", "e30", "a.b.c", "x" * 5000, ".", "e30.!!"])
def test_garbage_token_is_400(garbage):
    _bad(garbage)


def test_a_forged_token_of_the_right_shape_is_refused():
    """What a client could build itself (the old unsigned format, or ours with its own key) is refused."""
    unsigned = base64.urlsafe_b64encode(json.dumps(KEY).encode()).decode().rstrip("=")
    _bad(unsigned)
    body = encode_token(KEY, "users").split(".")[0]
    _bad(body + "." + base64.urlsafe_b64encode(b"\0" * 16).decode().rstrip("="))


def test_an_edited_token_is_refused():
    token = encode_token({"pk": {"S": "user#1"}}, "users")
    body, mac = token.split(".")
    edited = base64.urlsafe_b64encode(json.dumps({"pk": {"S": "user#2"}}).encode()).decode().rstrip("=")
    _bad(f"{edited}.{mac}")


def test_a_token_of_another_list_is_refused():
    _bad(encode_token(KEY, "groups:user-a"), "groups:user-b")


def _source(name, items):
    def query(limit, start):
        offset = start["o"] if start else 0
        batch = items[offset : offset + limit]
        more = offset + limit < len(items)
        return batch, ({"o": offset + limit} if more else None)

    return name, query, lambda item: True


def test_chained_pages_walk_every_source():
    sources = [_source("a", [1, 2, 3]), _source("b", [4, 5])]
    seen, token = [], None
    while True:
        items, token = chained_page(sources, 2, token, "test")
        seen += items
        if token is None:
            break
    assert seen == [1, 2, 3, 4, 5]


def test_chained_token_is_refused_once_the_sources_change():
    """A caller whose scope changed (a hotel removed) cannot replay a token into another Query."""
    _, token = chained_page([_source("a", [1, 2, 3]), _source("b", [4])], 2, None, "test")
    with pytest.raises(BadRequest) as err:
        chained_page([_source("b", [4])], 2, token, "test")
    assert err.value.code == "invalid_next_token"


@pytest.mark.parametrize("raw,expected", [(None, DEFAULT_LIMIT), ("", DEFAULT_LIMIT), ("1", 1), ("1000", 1000), (7, 7)])
def test_limit(raw, expected):
    assert parse_limit(raw) == expected


@pytest.mark.parametrize("raw", ["0", "1001", "-1", "ten", "1.5"])
def test_bad_limit_is_400(raw):
    with pytest.raises(BadRequest) as err:
        parse_limit(raw)
    assert err.value.fields[0]["field"] == "limit"


def test_page_shape():
    assert page([1, 2], None, "x") == {"items": [1, 2], "count": 2, "next_token": None}
