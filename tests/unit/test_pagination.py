import pytest

from gridpulse.errors import BadRequest
from gridpulse.pagination import DEFAULT_LIMIT, decode_token, encode_token, page, parse_limit


def test_token_round_trip():
    key = {"pk": {"S": "user#1"}, "list_pk": {"S": "users"}, "list_sk": {"S": "2026#1"}}
    assert decode_token(encode_token(key)) == key
    assert encode_token(None) is None and decode_token(None) is None


@pytest.mark.parametrize("garbage", ["!!!", "bm90IGpzb24", "W10", "e30"])
def test_garbage_token_is_400(garbage):
    with pytest.raises(BadRequest) as err:
        decode_token(garbage)
    assert err.value.fields[0]["field"] == "next_token"


@pytest.mark.parametrize("raw,expected", [(None, DEFAULT_LIMIT), ("", DEFAULT_LIMIT), ("1", 1), ("1000", 1000)])
def test_limit(raw, expected):
    assert parse_limit(raw) == expected


@pytest.mark.parametrize("raw", ["0", "1001", "-1", "ten", "1.5"])
def test_bad_limit_is_400(raw):
    with pytest.raises(BadRequest) as err:
        parse_limit(raw)
    assert err.value.fields[0]["field"] == "limit"


def test_page_shape():
    assert page([1, 2], None) == {"items": [1, 2], "count": 2, "next_token": None}
