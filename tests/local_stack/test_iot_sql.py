"""The local IoT SQL engine (infrastructure/local/iot/sql.py): the rules in
iot_rules/, topic filters, WHERE semantics, projections, refused SQL."""

import json
import time
import uuid

import pytest

from infrastructure.cfn import ROOT
from infrastructure.local.iot.sql import IoTSqlError, parse, validate_topic_filter
from infrastructure.local.iot.topics import topic_matches

NOW_MS = 1_767_225_600_000
RULES = ROOT / "iot_rules"


def rule_file(name: str):
    return parse((RULES / name).read_text())


def select(sql_select: str, payload, topic: str = "t/x", client_id: str = "x", where: str = "", **kwargs):
    """Run `SELECT <sql_select> FROM 't/+'` [WHERE ...] on one message."""
    sql = f"SELECT {sql_select} FROM 't/+'" + (f" WHERE {where}" if where else "")
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return parse(sql).apply(topic, raw, client_id, now_ms=NOW_MS, **kwargs)


def where(condition: str, payload=None) -> bool:
    return select("*", payload or {}, where=condition) is not None


# ---------------------------------------------------------------- the rule files


def test_every_rule_file_parses():
    filters = {path.name: parse(path.read_text()).topic_filter for path in RULES.glob("*.sql")}
    assert filters == {
        "telemetry.sql": "gridpulse/+/telemetry",
        "light_status.sql": "gridpulse/+/status",
        "presence.sql": "$aws/events/presence/+/+",
    }


@pytest.mark.parametrize(
    "name,topic", [("telemetry.sql", "gridpulse/meter-1/telemetry"), ("light_status.sql", "gridpulse/meter-1/status")]
)
def test_device_rules_add_thing_client_and_time_to_the_payload(name, topic):
    payload = {"ts": 1767225590, "energy_wh": 12.5, "power_w": 230.0, "nested": {"v": 1}}
    out = rule_file(name).apply(topic, json.dumps(payload).encode(), "meter-1", now_ms=NOW_MS)
    if name == "light_status.sql":  # DeviceEventsFunction's correlation id: one per rule output
        assert len(out.pop("message_id")) == 36
    assert out == {**payload, "power_w": 230, "thing_name": "meter-1", "client_id": "meter-1", "received_at": NOW_MS}
    assert list(out)[:4] == list(payload)  # `*` first, then the aliases, in SELECT order


@pytest.mark.parametrize(
    "name,topic", [("telemetry.sql", "gridpulse/meter-1/telemetry"), ("light_status.sql", "gridpulse/meter-1/status")]
)
def test_a_device_publishing_as_another_thing_does_not_match(name, topic):
    assert rule_file(name).apply(topic, b'{"energy_wh": 1}', "meter-2", now_ms=NOW_MS) is None


def test_a_payload_cannot_spoof_the_thing_name():
    out = rule_file("telemetry.sql").apply(
        "gridpulse/meter-1/telemetry", b'{"thing_name": "meter-9"}', "meter-1", now_ms=NOW_MS
    )
    assert out["thing_name"] == "meter-1"


@pytest.mark.parametrize(
    "topic", ["gridpulse/meter-1/status", "gridpulse/a/b/telemetry", "gridpulse/telemetry", "other/meter-1/telemetry"]
)
def test_telemetry_rule_ignores_other_topics(topic):
    rule = rule_file("telemetry.sql")
    assert not rule.matches(topic)
    assert rule.apply(topic, b"{}", "meter-1", now_ms=NOW_MS) is None


def test_presence_rule_maps_lifecycle_events():
    rule = rule_file("presence.sql")
    connected = {
        "clientId": "meter-1",
        "timestamp": 1767225599000,
        "eventType": "connected",
        "sessionIdentifier": "00000000-0000-0000-0000-000000000000",
        "principalIdentifier": "abc",
        "ipAddress": "192.0.2.10",
        "versionNumber": 3,
    }
    out = rule.apply(
        "$aws/events/presence/connected/meter-1", json.dumps(connected).encode(), "iot-broker", now_ms=NOW_MS
    )
    # `timestamp` is the event's field, `timestamp()` the rules engine's clock; no
    # disconnectReason on a connect: left out, not null; `newuuid()` the log's correlation id.
    assert len(out.pop("message_id")) == 36
    assert out == {
        "event_type": "connected",
        "thing_name": "meter-1",
        "event_time": 1767225599000,
        "received_at": NOW_MS,
    }
    disconnected = {
        **connected,
        "eventType": "disconnected",
        "clientInitiatedDisconnect": False,
        "disconnectReason": "MQTT_KEEP_ALIVE_TIMEOUT",
    }
    out = rule.apply(
        "$aws/events/presence/disconnected/meter-1", json.dumps(disconnected).encode(), "iot-broker", now_ms=NOW_MS
    )
    assert out["event_type"] == "disconnected"
    assert out["disconnect_reason"] == "MQTT_KEEP_ALIVE_TIMEOUT"


def test_presence_rule_matches_only_presence_events():
    rule = rule_file("presence.sql")
    assert rule.matches("$aws/events/presence/connected/meter-1")
    assert rule.matches("$aws/events/presence/disconnected/meter-1")
    assert not rule.matches("$aws/events/subscriptions/subscribed/meter-1")
    assert not rule.matches("$aws/events/presence/connected")
    assert not rule.matches("aws/events/presence/connected/meter-1")


# ---------------------------------------------------------------- topic filters


@pytest.mark.parametrize(
    "topic_filter,topic,expected",
    [
        ("a/b/c", "a/b/c", True),
        ("a/b/c", "a/b", False),
        ("a/b", "a/b/c", False),
        ("a/+/c", "a/b/c", True),
        ("a/+/c", "a//c", True),
        ("a/+/c", "a/b/x/c", False),
        ("a/+", "a/b/c", False),
        ("+/+", "a/b", True),
        ("a/#", "a", True),  # '#' also matches the parent level
        ("a/#", "a/b/c/d", True),
        ("a/#", "ab/c", False),
        ("#", "a/b", True),
        ("A/b", "a/b", False),  # topics are case-sensitive
        ("#", "$aws/events/presence/connected/t1", False),  # '$' topics never match a leading wildcard
        ("+/events/presence/connected/t1", "$aws/events/presence/connected/t1", False),
        ("$aws/events/#", "$aws/events/presence/connected/t1", True),
        ("$aws/events/presence/+/+", "$aws/events/presence/connected/t1", True),
        ("$aws/events/presence/+/+", "$aws/events/presence/connected/t1/x", False),
    ],
)
def test_topic_filter_matching(topic_filter, topic, expected):
    assert topic_matches(topic_filter, topic) is expected


@pytest.mark.parametrize("topic_filter", ["", "a/#/b", "a/b#", "a/#b", "a+/b", "a/+b", "a/b+"])
def test_invalid_topic_filters_are_refused(topic_filter):
    with pytest.raises(IoTSqlError):
        validate_topic_filter(topic_filter)
    with pytest.raises(IoTSqlError):
        parse(f"SELECT * FROM '{topic_filter}'")


# ---------------------------------------------------------------- WHERE


@pytest.mark.parametrize(
    "condition,expected",
    [
        ("n = 5", True),
        ("n = 5.0", True),
        ("n <> 5", False),
        ("n != 4", True),
        ("n > 4.5", True),
        ("n >= 5", True),
        ("n < 5", False),
        ("n <= -1", False),
        ("x > -2.5", True),
        ("s = 'on'", True),
        ("s = 'ON'", False),  # strings compare exactly
        ("s <> 'off'", True),
        ("q = 'it''s'", True),
        ("num_text > 4", True),  # <, >, <=, >= convert numeric strings to Decimal
        ("s > 'a'", False),  # ... and are Undefined for others
        ("num_text = 5", False),  # = does not convert: a string and a number are Undefined
        ("flag = true", True),
        ("flag = 1", False),
        ("nothing = null", True),
        ("nested.deep.v = 'x'", True),
        ("nested.deep = 'x'", False),
        ("topic() = 't/x'", True),
        ("topic(1) = 't' AND topic(2) = clientid()", True),
        ("topic(3) = 'x'", False),
        ("timestamp() > 0", True),
    ],
)
def test_comparisons(condition, expected):
    payload = {
        "n": 5,
        "x": -2,
        "s": "on",
        "q": "it's",
        "num_text": "5",
        "flag": True,
        "nothing": None,
        "nested": {"deep": {"v": "x"}},
    }
    assert where(condition, payload) is expected


@pytest.mark.parametrize(
    "condition",
    [
        "missing = 1",
        "missing <> 1",
        "missing != 1",
        "missing > 1",
        "missing = null",
        "NOT missing = 1",
        "NOT (missing <> 1)",
        "n.inner = 1",
        "missing = missing",
    ],
)
def test_a_comparison_with_an_undefined_value_never_matches(condition):
    assert not where(condition, {"n": 5})


@pytest.mark.parametrize(
    "condition,expected",
    [
        ("a = 1 AND b = 2", True),
        ("a = 1 AND b = 3", False),
        ("a = 2 OR b = 2", True),
        ("a = 2 OR b = 3", False),
        ("NOT a = 2", True),
        ("NOT NOT a = 1", True),
        ("a = 2 OR a = 1 AND b = 2", True),  # AND binds tighter than OR
        ("(a = 2 OR a = 1) AND b = 3", False),
        ("NOT a = 2 AND b = 2", True),  # NOT binds tighter than AND
        ("NOT (a = 1 AND b = 2)", False),
        ("true", True),
        ("false", False),
        ("t_str", True),  # the strings "true"/"false" are Booleans to AND/OR/NOT/WHERE
        ("NOT f_str", True),
        ("a", False),  # neither Boolean nor a Boolean string: Undefined
        ("a = 1 OR missing = 1", False),  # an Undefined operand makes OR Undefined (IoT SQL operator table)
        ("a = 1 AND missing = 1", False),
    ],
)
def test_boolean_logic(condition, expected):
    assert where(condition, {"a": 1, "b": 2, "t_str": "TRUE", "f_str": "false"}) is expected


def test_keywords_and_functions_are_case_insensitive_fields_are_not():
    rule = parse("select *, Topic(2) as thing from 't/+' where TOPIC(2) = ClientId() and Not Flag = false")
    assert rule.apply("t/x", b'{"Flag": true}', "x", now_ms=NOW_MS) == {"Flag": True, "thing": "x"}
    assert rule.apply("t/x", b'{"flag": true}', "x", now_ms=NOW_MS) is None


def test_is_undefined_and_is_null_functions():
    assert where("isUndefined(missing)", {"a": None})
    assert not where("isUndefined(a)", {"a": None})
    assert where("isNull(a)", {"a": None})
    assert not where("isNull(missing)", {"a": None})
    assert where("isUndefined(missing) = true", {})


# ---------------------------------------------------------------- SELECT


def test_fields_paths_aliases_and_literals():
    payload = {"a": 1, "b": {"c": {"d": "deep"}}, "n": None}
    out = select(
        "a, b.c.d, b.c AS inner, n, 'lit' AS s, 2.50 AS f, 10.0 AS i, -3 AS neg, true AS t, null AS z", payload
    )
    assert out == {
        "a": 1,
        "d": "deep",
        "inner": {"d": "deep"},
        "n": None,
        "s": "lit",
        "f": 2.5,
        "i": 10,
        "neg": -3,
        "t": True,
        "z": None,
    }


def test_undefined_values_are_left_out():
    out = select("missing, a.missing, a AS kept, topic(9) AS nope, missing AS alias", {"a": {"b": 1}})
    assert out == {"kept": {"b": 1}}


def test_star_copies_the_payload_and_later_items_win():
    assert select("*", {"a": 1, "b": [1, 2]}) == {"a": 1, "b": [1, 2]}
    assert select("'first' AS a, *, 'last' AS b", {"a": 1, "b": 2}) == {"a": 1, "b": "last"}


def test_whole_number_decimals_are_ints_as_in_sql_2016_03_23():
    out = select("*", b'{"a": 10.0, "b": 10.5, "c": 1e3, "d": 7}')
    assert out == {"a": 10, "b": 10.5, "c": 1000, "d": 7}
    assert [type(out[k]) for k in "abcd"] == [int, float, int, int]


def test_functions():
    out = select(
        "topic() AS t, topic(1) AS t1, topic(2) AS t2, topic(3) AS t3, clientid() AS c, "
        "timestamp() AS ts, newuuid() AS u1, newuuid() AS u2",
        {},
        topic="t/x",
        client_id="cl",
    )
    assert {k: out[k] for k in ("t", "t1", "t2", "c", "ts")} == {
        "t": "t/x",
        "t1": "t",
        "t2": "x",
        "c": "cl",
        "ts": NOW_MS,
    }
    assert "t3" not in out
    assert uuid.UUID(out["u1"]) != uuid.UUID(out["u2"])


def test_timestamp_defaults_to_now():
    before = int(time.time() * 1000)
    out = parse("SELECT timestamp() AS ts FROM 'a'").apply("a", b"{}", "c")
    assert before <= out["ts"] <= int(time.time() * 1000)


def test_topic_takes_a_literal_or_a_field_index():
    assert select("topic(i) AS seg", {"i": 2}) == {"seg": "x"}
    assert select("topic(i) AS seg", {"i": "2"}) == {}
    assert select("topic(0) AS seg", {}) == {}


# ---------------------------------------------------------------- payloads that are not JSON objects


@pytest.mark.parametrize(
    "payload", [b"not json", b"", b'{"unterminated": ', b"[1, 2]", b"42", b'"text"', b"\xff\xfe\x00garbage"]
)
def test_a_payload_that_is_not_a_json_object_still_fires_without_payload_fields(payload):
    rule = rule_file("telemetry.sql")
    out = rule.apply("gridpulse/meter-1/telemetry", payload, "meter-1", now_ms=NOW_MS)
    assert out == {"thing_name": "meter-1", "client_id": "meter-1", "received_at": NOW_MS}


def test_raw_payload_key_carries_the_text_of_a_malformed_payload():
    rule = rule_file("telemetry.sql")
    out = rule.apply(
        "gridpulse/meter-1/telemetry", b'{"energy_wh": 1', "meter-1", now_ms=NOW_MS, raw_payload_key="_raw_payload"
    )
    assert out == {
        "_raw_payload": '{"energy_wh": 1',
        "thing_name": "meter-1",
        "client_id": "meter-1",
        "received_at": NOW_MS,
    }
    out = rule.apply("gridpulse/meter-1/telemetry", b"\xffok", "meter-1", now_ms=NOW_MS, raw_payload_key="_raw_payload")
    assert out["_raw_payload"] == "\\xffok"
    # a JSON object payload is unaffected
    out = rule.apply(
        "gridpulse/meter-1/telemetry", b'{"a": 1}', "meter-1", now_ms=NOW_MS, raw_payload_key="_raw_payload"
    )
    assert "_raw_payload" not in out


def test_fields_of_a_malformed_payload_are_undefined():
    assert select("a, topic(2) AS t", b"a=1") == {"t": "x"}
    assert not where("a = 1", None) and select("*", b"a=1", where="a = 1") is None


def test_parse_exposes_the_statement():
    rule = parse("SELECT *, a AS b FROM 'x/+'")
    assert rule.topic_filter == "x/+"
    assert rule.select_all
    assert not parse("SELECT a FROM 'x'").select_all


# ---------------------------------------------------------------- refused SQL


@pytest.mark.parametrize(
    "sql,token",
    [
        ("SELECT CASE WHEN a = 1 THEN 'x' END AS c FROM 'a'", "CASE"),
        ("SELECT encode(*, 'base64') AS data FROM 'a'", "encode"),
        ("SELECT a + 1 AS b FROM 'a'", "+"),
        ("SELECT a * 2 AS b FROM 'a'", "*"),
        ("SELECT * FROM 'a' WHERE a IN (1, 2)", "IN"),
        ("SELECT * FROM 'a' WHERE a IS NULL", "IS"),
        ("SELECT * FROM 'a' WHERE CONTAINS(a, 1)", "CONTAINS"),
        ("SELECT a[0] AS x FROM 'a'", "["),
        ("SELECT \"a\" FROM 'a'", '"'),
        ("SELECT VALUE state FROM 'a'", "VALUE"),
        ("SELECT * FROM a", "a"),
        ("SELECT * FROM 'a' ORDER BY x", "ORDER"),
        ("SELECT * FROM 'a' WHERE a = b = c", "="),
        ("SELECT topic(2) FROM 'a'", "topic(2)"),
        ("SELECT topic(1, 2) AS t FROM 'a'", "topic"),
        ("SELECT clientid(1) AS t FROM 'a'", "clientid"),
        ("SELECT FROM 'a'", "FROM"),
        ("FROM 'a' SELECT *", "FROM"),
        ("SELECT a AS FROM 'a'", "FROM"),
        ("SELECT a. FROM 'a'", "FROM"),
        ("SELECT * FROM 'a' WHERE (a = 1", None),
        ("SELECT * FROM 'a' WHERE", None),
        ("SELECT * FROM 'a", "'a"),
    ],
)
def test_unsupported_sql_is_refused_naming_the_token(sql, token):
    with pytest.raises(IoTSqlError) as err:
        parse(sql)
    assert err.value.token == token
    if token is not None:
        assert repr(token) in str(err.value)
        assert sql[err.value.position :].startswith(token)
    else:
        assert "end of the statement" in str(err.value)


def test_is_null_error_points_to_the_iot_functions():
    with pytest.raises(IoTSqlError, match=r"isNull\(x\) / isUndefined\(x\)"):
        parse("SELECT * FROM 'a' WHERE a IS NOT NULL")


def test_principal_is_the_publishers_certificate_and_cannot_be_spoofed_by_the_payload():
    rule = parse("SELECT *, principal() AS principal FROM 'gridpulse/+/telemetry'")
    out = rule.apply("gridpulse/m-1/telemetry", b'{"w": 5, "principal": "forged"}', "m-1", now_ms=0, principal="abc123")
    assert out == {"w": 5, "principal": "abc123"}
    # Messages the broker published itself have none: principal() is Undefined, left out.
    assert parse("SELECT principal() AS p FROM 'a/b'").apply("a/b", b"{}", "", now_ms=0) == {}
