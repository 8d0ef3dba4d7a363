"""The local Device Shadow service (infrastructure/local/iot/shadow.py): the
document rules of IoT Core's classic shadow, its MQTT responses, and the
iot-data REST API (through boto3, as the Lambdas call it) on the same store.
The broker's side (requests over MQTT under the device policy) is in
test_broker.py."""

from __future__ import annotations

import json
import threading

import boto3
import pytest
from botocore.config import Config
from werkzeug.serving import make_server

from infrastructure.local.iot.shadow import ShadowApi, ShadowError, ShadowService

T = "gp-light-1"
BASE = f"$aws/things/{T}/shadow"


class Sent:
    def __init__(self):
        self.messages: list[tuple[str, dict]] = []

    def __call__(self, topic: str, payload: bytes) -> None:
        self.messages.append((topic, json.loads(payload)))

    def topics(self) -> list[str]:
        return [t for t, _ in self.messages]

    def last(self, topic: str) -> dict:
        return [b for t, b in self.messages if t == topic][-1]


@pytest.fixture
def sent() -> Sent:
    return Sent()


@pytest.fixture
def shadows(sent) -> ShadowService:
    return ShadowService(publish=sent, clock=lambda: 1_700_000_000)


def update(shadows: ShadowService, body: dict) -> dict:
    return shadows.update(T, json.dumps(body).encode())


def test_a_desired_update_is_accepted_versioned_and_sends_a_delta(shadows, sent):
    accepted = update(
        shadows, {"state": {"desired": {"light": {"action": "on", "brightness": 70}}}, "clientToken": "c1"}
    )
    assert accepted == {
        "state": {"desired": {"light": {"action": "on", "brightness": 70}}},
        "metadata": {
            "desired": {"light": {"action": {"timestamp": 1_700_000_000}, "brightness": {"timestamp": 1_700_000_000}}}
        },
        "version": 1,
        "timestamp": 1_700_000_000,
        "clientToken": "c1",
    }
    assert sent.topics() == [f"{BASE}/update/accepted", f"{BASE}/update/documents", f"{BASE}/update/delta"]
    delta = sent.last(f"{BASE}/update/delta")
    assert delta["state"] == {"light": {"action": "on", "brightness": 70}} and delta["version"] == 1
    assert delta["metadata"]["light"]["action"] == {"timestamp": 1_700_000_000} and delta["clientToken"] == "c1"
    documents = sent.last(f"{BASE}/update/documents")
    assert documents["previous"] is None and documents["current"]["version"] == 1


def test_a_report_matching_desired_sends_no_delta_and_get_shows_the_whole_document(shadows, sent):
    update(shadows, {"state": {"desired": {"light": {"action": "on", "brightness": 70}}}})
    sent.messages.clear()
    update(shadows, {"state": {"reported": {"light": {"action": "on", "brightness": 70}, "fw": "1.2"}}})
    assert sent.topics() == [f"{BASE}/update/accepted", f"{BASE}/update/documents"]
    assert sent.last(f"{BASE}/update/documents")["previous"]["version"] == 1
    got = shadows.get(T, b'{"clientToken": "g"}')
    assert got["version"] == 2 and got["clientToken"] == "g" and "delta" not in got["state"]
    assert got["state"]["reported"]["fw"] == "1.2"

    update(shadows, {"state": {"desired": {"light": {"action": "off"}}}})
    got = shadows.get(T)
    assert got["state"]["delta"] == {"light": {"action": "off"}}  # brightness agrees: not in the delta
    assert sent.last(f"{BASE}/update/delta")["state"] == {"light": {"action": "off"}}


def test_nulls_delete_fields_and_sections(shadows):
    update(shadows, {"state": {"desired": {"a": 1, "b": {"c": 2}}, "reported": {"a": 1}}})
    update(shadows, {"state": {"desired": {"b": {"c": None}}}})
    assert shadows.get(T)["state"]["desired"] == {"a": 1}
    update(shadows, {"state": {"desired": None}})
    document = shadows.get(T)
    assert "desired" not in document["state"] and "desired" not in document["metadata"]
    assert document["version"] == 3


def test_a_stale_version_is_rejected_409_and_changes_nothing(shadows, sent):
    update(shadows, {"state": {"desired": {"a": 1}}})
    update(shadows, {"state": {"desired": {"a": 2}}, "version": 1})
    with pytest.raises(ShadowError) as refused:
        update(shadows, {"state": {"desired": {"a": 3}}, "version": 1, "clientToken": "t"})
    assert (refused.value.code, refused.value.message) == (409, "Version conflict")
    assert refused.value.body(5) == {"code": 409, "message": "Version conflict", "timestamp": 5, "clientToken": "t"}
    assert shadows.get(T)["state"]["desired"] == {"a": 2}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", "Invalid JSON"),
        (b"[1]", "Invalid JSON"),
        (b'{"clientToken": "x"}', "Missing required node: state"),
        (b'{"state": 1}', "State node must be an object"),
        (b'{"state": {"desired": 1}}', "Desired node must be an object"),
        (b'{"state": {"reported": "on"}}', "Reported node must be an object"),
        (b'{"state": {"delta": {}}}', "State contains an invalid node"),
        (b'{"state": {}, "version": "3"}', "Invalid version"),
        (json.dumps({"state": {}, "clientToken": "x" * 65}).encode(), "Invalid clientToken"),
        (
            json.dumps({"state": {"desired": {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}}}).encode(),
            "JSON contains too many levels of nesting; maximum is 6",
        ),
    ],
)
def test_bad_update_requests_are_rejected_400_as_iot_core_words_them(shadows, payload, message):
    with pytest.raises(ShadowError) as refused:
        shadows.update(T, payload)
    assert (refused.value.code, refused.value.message) == (400, message)


def test_over_mqtt_answers_go_to_accepted_or_rejected_with_the_client_token(shadows, sent):
    assert shadows.handle_mqtt(f"{BASE}/get", b'{"clientToken": "g1"}')
    assert sent.messages[-1] == (
        f"{BASE}/get/rejected",
        {"code": 404, "message": f"No shadow exists with name: '{T}'", "timestamp": 1_700_000_000, "clientToken": "g1"},
    )
    assert shadows.handle_mqtt(f"{BASE}/update", b'{"state": {"reported": {"x": 1}}, "version": 7, "clientToken": "u"}')
    assert sent.messages[-1][0] == f"{BASE}/update/rejected" and sent.messages[-1][1]["code"] == 409
    assert shadows.handle_mqtt(f"{BASE}/update", b'{"state": {"reported": {"x": 1}}}')
    assert shadows.handle_mqtt(f"{BASE}/get", b"")
    assert sent.messages[-1][0] == f"{BASE}/get/accepted" and sent.messages[-1][1]["state"] == {"reported": {"x": 1}}
    assert shadows.handle_mqtt(f"{BASE}/delete", b"")
    assert sent.messages[-1] == (f"{BASE}/delete/accepted", {"version": 1, "timestamp": 1_700_000_000})
    update(shadows, {"state": {"reported": {"x": 2}}})
    assert shadows.get(T)["version"] == 2  # versions go on after a delete
    assert not shadows.handle_mqtt("gridpulse/gp-light-1/status", b"{}")
    assert not shadows.handle_mqtt(f"$aws/things/{T}/shadow/name/config/get", b"")  # named shadows: not served


# ---------------------------------------------------------------- the iot-data API (boto3) on the same store


@pytest.fixture
def iot_data(shadows):
    def moto_stand_in(environ, start_response):
        start_response("418 I'm a teapot", [("Content-Type", "application/json")])
        return [b"{}"]

    server = make_server("127.0.0.1", 0, ShadowApi(moto_stand_in, shadows), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = boto3.client(
        "iot-data",
        endpoint_url=f"http://127.0.0.1:{server.server_port}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"max_attempts": 1}),
    )
    yield client
    server.shutdown()


def test_the_api_and_mqtt_share_one_shadow(iot_data, shadows, sent):
    with pytest.raises(iot_data.exceptions.ResourceNotFoundException):
        iot_data.get_thing_shadow(thingName=T)
    answer = iot_data.update_thing_shadow(
        thingName=T, payload=json.dumps({"state": {"desired": {"light": {"action": "on"}}}}).encode()
    )
    assert json.loads(answer["payload"].read())["version"] == 1
    assert sent.last(f"{BASE}/update/delta")["state"] == {"light": {"action": "on"}}  # to a connected device

    shadows.handle_mqtt(f"{BASE}/update", b'{"state": {"reported": {"light": {"action": "on"}}}}')  # the lamp
    document = json.loads(iot_data.get_thing_shadow(thingName=T)["payload"].read())
    assert document["state"]["reported"] == {"light": {"action": "on"}} and document["version"] == 2

    with pytest.raises(iot_data.exceptions.ConflictException):
        iot_data.update_thing_shadow(thingName=T, payload=b'{"state": {"desired": {"a": 1}}, "version": 1}')
    with pytest.raises(iot_data.exceptions.InvalidRequestException):
        iot_data.update_thing_shadow(thingName=T, payload=b'{"desired": {}}')
    iot_data.delete_thing_shadow(thingName=T)
    with pytest.raises(iot_data.exceptions.ResourceNotFoundException):
        iot_data.get_thing_shadow(thingName=T)
