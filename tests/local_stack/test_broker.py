"""The local MQTT broker (IoT Core's device gateway stand-in) with the real
DevicePolicy of template.yaml, driven by the AWS IoT Device SDK v2 (awscrt),
as a device connects to IoT Core, and by a raw TLS socket where a test needs
to see the bytes (SUBACK codes, keep-alive, dropped sockets, no certificate).

Everything runs on 127.0.0.1; every wait is bounded."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time

import pytest
from awscrt import mqtt
from awscrt.exceptions import AwsCrtError
from awsiot import mqtt_connection_builder

from infrastructure.cfn import Stack, load
from infrastructure.local.iot.broker import (
    CONNACK,
    CONNECT,
    PINGREQ,
    PINGRESP,
    PUBACK,
    PUBLISH,
    SUBACK,
    SUBSCRIBE,
    LocalBroker,
    encode,
    encode_string,
)
from infrastructure.local.iot.ca import LocalCA, certificate_id
from infrastructure.local.iot.policy import PolicyEvaluator
from infrastructure.local.iot.shadow import ShadowService

WAIT = 5.0


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> LocalCA:
    return LocalCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def policy() -> PolicyEvaluator:
    stack = Stack(load())
    document = stack.resolve(stack.resources("AWS::IoT::Policy")["DevicePolicy"]["Properties"]["PolicyDocument"])
    return PolicyEvaluator(document, stack.region, stack.account)


class Creds:
    """A device certificate and key, in memory and as files (for ssl)."""

    def __init__(self, cert: str, key: str, directory):
        self.cert, self.key = cert, key
        self.cert_file, self.key_file = directory / "cert.pem", directory / "key.pem"
        self.cert_file.write_text(cert)
        self.key_file.write_text(key)


@pytest.fixture(scope="module")
def creds(ca, tmp_path_factory):
    """Device credentials by name, issued once per module (RSA keys take a moment)."""
    issued: dict[str, Creds] = {}

    def get(name: str, authority: LocalCA | None = None) -> Creds:
        key = f"{name}@{id(authority or ca)}"
        if key not in issued:
            cert, pem_key = (authority or ca).issue_device_certificate(name)
            issued[key] = Creds(cert, pem_key, tmp_path_factory.mktemp(name))
        return issued[key]

    return get


class Recorder:
    """on_publish: keeps every (topic, payload, client_id) and waits for them
    (and the principal of each, in `principals`)."""

    def __init__(self):
        self.messages: list[tuple[str, bytes, str]] = []
        self.principals: list[str] = []
        self._cond = threading.Condition()

    def __call__(self, topic: str, payload: bytes, client_id: str, principal: str = "") -> None:
        with self._cond:
            self.messages.append((topic, payload, client_id))
            self.principals.append(principal)
            self._cond.notify_all()

    def wait(self, condition, timeout: float = WAIT) -> None:
        with self._cond:
            assert self._cond.wait_for(condition, timeout), f"not seen in {timeout}s; messages: {self.messages}"

    def presence(self, event: str | None = None, client_id: str | None = None) -> list[dict]:
        """Lifecycle events (decoded), oldest first, optionally of one type and client."""
        prefix = "$aws/events/presence/" + (f"{event}/" if event else "")
        found = [json.loads(p) for t, p, _ in list(self.messages) if t.startswith(prefix)]
        return [e for e in found if client_id is None or e["clientId"] == client_id]

    def wait_presence(self, event: str, client_id: str, count: int = 1) -> list[dict]:
        self.wait(lambda: len(self.presence(event, client_id)) >= count)
        return self.presence(event, client_id)


@pytest.fixture
def revoked() -> set[str]:
    """Certificate ids that cert_is_active reports as not ACTIVE."""
    return set()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def shadows() -> ShadowService:
    return ShadowService()


@pytest.fixture
def broker(ca, policy, revoked, recorder, shadows):
    with LocalBroker(
        "127.0.0.1",
        0,
        ca,
        policy,
        lambda pem: certificate_id(pem) not in revoked,
        recorder,
        recheck_s=0.3,
        shadow=shadows,
    ) as running:
        shadows.publish = lambda topic, payload: running.publish_nowait(topic, payload, 1)
        yield running


@pytest.fixture
def devices(broker, ca):
    """Makes awsiotsdk connections to the broker; disconnects them afterwards."""
    made = []

    def connect(creds: Creds, client_id: str, *, trust: str | None = None, start: bool = True):
        interrupted = threading.Event()
        connection = mqtt_connection_builder.mtls_from_bytes(
            endpoint="127.0.0.1",
            port=broker.port,
            cert_bytes=creds.cert.encode(),
            pri_key_bytes=creds.key.encode(),
            ca_bytes=(trust or ca.ca_pem).encode(),
            client_id=client_id,
            clean_session=True,
            keep_alive_secs=30,
            reconnect_min_timeout_secs=1,
            reconnect_max_timeout_secs=2,
            on_connection_interrupted=lambda connection, error, **kw: interrupted.set(),
        )
        connection.interrupted = interrupted
        made.append(connection)
        if start:
            connection.connect().result(WAIT)
        return connection

    yield connect
    for connection in made:
        try:
            connection.disconnect().result(WAIT)
        except Exception:  # noqa: BLE001 - never connected, or already gone
            pass


def inbox(connection, topic_filter: str, qos=mqtt.QoS.AT_LEAST_ONCE):
    """Subscribe; returns (list of received (topic, payload), event set on each)."""
    received, arrived = [], threading.Event()

    def on_message(topic, payload, **kwargs):
        received.append((topic, payload))
        arrived.set()

    future, _ = connection.subscribe(topic_filter, qos, on_message)
    future.result(WAIT)
    return received, arrived


def wait_until(predicate, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


# ---------------------------------------------------------------- raw MQTT over TLS


class Raw:
    """A bare MQTT 3.1.1 client on an ssl socket: bytes in, packets out."""

    def __init__(self, port: int, ca: LocalCA, creds: Creds | None, tls: ssl.TLSVersion | None = None):
        context = ssl.create_default_context(cadata=ca.ca_pem)
        if tls:
            context.maximum_version = tls
        if creds:
            context.load_cert_chain(creds.cert_file, creds.key_file)
        raw = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.sock = context.wrap_socket(raw, server_hostname="localhost")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed by the broker")
            data += chunk
        return data

    def read(self) -> tuple[int, bytes]:
        first = self._exactly(1)[0]
        length, shift = 0, 0
        while True:
            digit = self._exactly(1)[0]
            length |= (digit & 0x7F) << shift
            shift += 7
            if not digit & 0x80:
                break
        return first >> 4, self._exactly(length)

    def connect(self, client_id: str, keep_alive: int = 60, protocol=("MQTT", 4)) -> int:
        """CONNECT (clean session); the CONNACK return code."""
        body = encode_string(protocol[0]) + bytes([protocol[1], 0x02]) + keep_alive.to_bytes(2, "big")
        self.send(encode(CONNECT, 0, body + encode_string(client_id)))
        packet_type, data = self.read()
        assert packet_type == CONNACK
        return data[1]

    def closed_by_broker(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except (ConnectionError, ssl.SSLError):
            return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(broker, ca):
    opened = []

    def open_(creds: Creds | None, tls: ssl.TLSVersion | None = None) -> Raw:
        client = Raw(broker.port, ca, creds, tls)
        opened.append(client)
        return client

    yield open_
    for client in opened:
        client.close()


# ---------------------------------------------------------------- publish and receive


def test_a_device_publishes_its_telemetry_and_the_rules_engine_sees_it(broker, devices, creds, recorder):
    device = devices(creds("gp-a"), "gp-a")
    future, _ = device.publish("gridpulse/gp-a/telemetry", b'{"kwh": 1.5}', mqtt.QoS.AT_LEAST_ONCE)
    future.result(WAIT)  # PUBACK
    device.publish("gridpulse/gp-a/status", b'{"on": true}', mqtt.QoS.AT_MOST_ONCE)[0].result(WAIT)
    device.publish("$aws/things/gp-a/shadow/update", b'{"state": {}}', mqtt.QoS.AT_LEAST_ONCE)[0].result(WAIT)

    recorder.wait(lambda: any(m[0] == "$aws/things/gp-a/shadow/update" for m in recorder.messages))
    # What the device sent, not what the broker itself published (lifecycle events, shadow answers).
    device_messages = [m for m in recorder.messages if m[2]]
    assert device_messages == [
        ("gridpulse/gp-a/telemetry", b'{"kwh": 1.5}', "gp-a"),
        ("gridpulse/gp-a/status", b'{"on": true}', "gp-a"),
        ("$aws/things/gp-a/shadow/update", b'{"state": {}}', "gp-a"),
    ]
    assert not device.interrupted.is_set()


def test_a_device_receives_the_commands_the_cloud_sends_it(broker, devices, creds):
    device = devices(creds("gp-a"), "gp-a")
    received, arrived = inbox(device, "gridpulse/gp-a/commands")
    assert broker.publish("gridpulse/gp-a/commands", b'{"relay": "off"}', qos=1) == 1
    assert arrived.wait(WAIT)
    assert received == [("gridpulse/gp-a/commands", b'{"relay": "off"}')]
    assert broker.publish("gridpulse/gp-b/commands", b"{}") == 0  # nobody is subscribed


def test_a_device_uses_its_shadow_over_mqtt_and_sees_the_clouds_desired_state(broker, devices, creds, shadows):
    device = devices(creds("gp-a"), "gp-a")
    base = "$aws/things/gp-a/shadow"
    rejected, got_rejected = inbox(device, f"{base}/get/rejected")
    accepted, got_accepted = inbox(device, f"{base}/get/accepted")
    deltas, got_delta = inbox(device, f"{base}/update/delta")
    updated, got_updated = inbox(device, f"{base}/update/accepted")

    device.publish(f"{base}/get", b'{"clientToken": "boot"}', mqtt.QoS.AT_LEAST_ONCE)[0].result(WAIT)
    assert got_rejected.wait(WAIT)
    assert json.loads(rejected[0][1])["code"] == 404 and json.loads(rejected[0][1])["clientToken"] == "boot"

    shadows.update("gp-a", b'{"state": {"desired": {"light": {"action": "on"}}}}')  # the cloud (iot-data API)
    assert got_delta.wait(WAIT)
    assert json.loads(deltas[0][1])["state"] == {"light": {"action": "on"}}

    device.publish(f"{base}/update", b'{"state": {"reported": {"light": {"action": "on"}}}}', mqtt.QoS.AT_LEAST_ONCE)
    wait_until(lambda: [json.loads(p)["version"] for _, p in updated] == [1, 2])  # the cloud's update, then its own
    device.publish(f"{base}/get", b"", mqtt.QoS.AT_LEAST_ONCE)[0].result(WAIT)
    assert got_accepted.wait(WAIT)
    document = json.loads(accepted[0][1])
    assert document["state"]["reported"] == {"light": {"action": "on"}} and "delta" not in document["state"]
    assert len(deltas) == 1  # the report matched desired: no second delta
    assert shadows.get("gp-a")["version"] == 2  # what GetThingShadow returns
    assert not device.interrupted.is_set()


def test_another_device_cannot_use_or_read_a_things_shadow(broker, devices, creds, shadows):
    owner = devices(creds("gp-a"), "gp-a")
    deltas, got_delta = inbox(owner, "$aws/things/gp-a/shadow/update/delta")
    other = devices(creds("gp-b"), "gp-b")
    for refused in (
        "$aws/things/gp-a/shadow/update/delta",
        "$aws/things/gp-a/shadow/get/accepted",
        "$aws/things/+/shadow/update/delta",
    ):
        with pytest.raises(mqtt.SubscribeError):
            other.subscribe(refused, mqtt.QoS.AT_LEAST_ONCE)[0].result(WAIT)
    # nor the topics a device has no use for, even its own
    for refused in ("$aws/things/gp-b/shadow/update/documents", "$aws/things/gp-b/shadow/#"):
        with pytest.raises(mqtt.SubscribeError):
            other.subscribe(refused, mqtt.QoS.AT_LEAST_ONCE)[0].result(WAIT)
    other.publish(
        "$aws/things/gp-a/shadow/update",
        b'{"state": {"desired": {"light": {"action": "off"}}}}',
        mqtt.QoS.AT_LEAST_ONCE,
    )
    assert other.interrupted.wait(WAIT)  # an unauthorised publish ends its connection, and changes nothing
    with pytest.raises(Exception):
        shadows.get("gp-a")
    assert not got_delta.wait(0.3)


def test_subscriptions_outside_the_policy_get_a_failure_suback(broker, devices, creds):
    device = devices(creds("gp-a"), "gp-a")
    for refused in ("gridpulse/gp-b/commands", "gridpulse/+/commands", "gridpulse/#", "#"):
        future, _ = device.subscribe(refused, mqtt.QoS.AT_LEAST_ONCE)
        with pytest.raises(mqtt.SubscribeError):
            future.result(WAIT)
    # refused subscriptions do not cost the connection, and deliver nothing
    assert broker.publish("gridpulse/gp-b/commands", b"{}") == 0
    device.publish("gridpulse/gp-a/telemetry", b"{}", mqtt.QoS.AT_LEAST_ONCE)[0].result(WAIT)
    assert not device.interrupted.is_set()


def test_suback_carries_one_code_per_filter(broker, raw, creds):
    client = raw(creds("gp-a"))
    assert client.connect("gp-a") == 0
    filters = [
        ("gridpulse/gp-a/commands", 1),
        ("gridpulse/+/commands", 1),
        ("gridpulse/gp-b/commands", 0),
        ("$aws/things/gp-a/shadow/update/delta", 2),
        ("bad/#/filter", 0),
    ]
    body = (7).to_bytes(2, "big") + b"".join(encode_string(f) + bytes([q]) for f, q in filters)
    client.send(encode(SUBSCRIBE, 0x02, body))
    assert client.read() == (SUBACK, (7).to_bytes(2, "big") + bytes([0x01, 0x80, 0x80, 0x01, 0x80]))

    client.send(encode(PINGREQ, 0))
    assert client.read() == (PINGRESP, b"")
    client.send(encode(PUBLISH, 0x02, encode_string("gridpulse/gp-a/telemetry") + (9).to_bytes(2, "big") + b"x"))
    assert client.read() == (PUBACK, (9).to_bytes(2, "big"))


def test_an_unauthorised_publish_is_dropped_and_the_device_disconnected(broker, devices, creds, recorder):
    victim = devices(creds("gp-b"), "gp-b")
    received, arrived = inbox(victim, "gridpulse/gp-b/commands")
    attacker = devices(creds("gp-a"), "gp-a")

    attacker.publish("gridpulse/gp-b/commands", b'{"relay": "off"}', mqtt.QoS.AT_LEAST_ONCE)
    assert attacker.interrupted.wait(WAIT)
    event = recorder.wait_presence("disconnected", "gp-a")[0]
    assert event["disconnectReason"] == "AUTH_ERROR" and event["clientInitiatedDisconnect"] is False

    # everything before the disconnect event has been handed over: the
    # refused message was not among it, and the victim got only what the cloud sends
    assert not [m for m in recorder.messages if m[0] == "gridpulse/gp-b/commands"]
    broker.publish("gridpulse/gp-b/commands", b"sentinel", qos=1)
    assert arrived.wait(WAIT)
    assert received == [("gridpulse/gp-b/commands", b"sentinel")]


def test_publishing_to_another_things_telemetry_disconnects(broker, devices, creds, recorder):
    device = devices(creds("gp-a"), "gp-a")
    device.publish("gridpulse/gp-b/telemetry", b"{}", mqtt.QoS.AT_MOST_ONCE)
    assert device.interrupted.wait(WAIT)
    recorder.wait_presence("disconnected", "gp-a")
    assert not [m for m in recorder.messages if m[0] == "gridpulse/gp-b/telemetry"]


@pytest.fixture
def raw_policy_broker(ca):
    arn = "arn:aws:iot:us-east-1:123456789012"
    policy = PolicyEvaluator(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "iot:Connect",
                    "Resource": f"{arn}:client/${{iot:Connection.Thing.ThingName}}",
                },
                {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": f"{arn}:topicfilter/gridpulse/*"},
                {
                    "Effect": "Allow",
                    "Action": "iot:Receive",
                    "Resource": f"{arn}:topic/gridpulse/${{iot:Connection.Thing.ThingName}}/commands",
                },
            ],
        },
        "us-east-1",
        "123456789012",
    )
    recorder = Recorder()
    with LocalBroker("127.0.0.1", 0, ca, policy, lambda pem: True, recorder) as broker:
        yield broker, recorder


def test_receive_is_checked_for_every_delivered_message(ca, creds, raw_policy_broker):
    """A policy that lets a thing subscribe to gridpulse/# but receive only its
    own commands: IoT checks iot:Receive per message, not at subscribe time."""
    broker, recorder = raw_policy_broker
    client = Raw(broker.port, ca, creds("gp-a"))
    try:
        assert client.connect("gp-a") == 0
        client.send(encode(SUBSCRIBE, 0x02, (1).to_bytes(2, "big") + encode_string("gridpulse/#") + b"\x00"))
        assert client.read() == (SUBACK, b"\x00\x01\x00")
        assert broker.publish("gridpulse/gp-b/commands", b"not for you") == 0
        assert broker.publish("gridpulse/gp-a/commands", b"yours") == 1
        packet_type, data = client.read()
        assert packet_type == PUBLISH and data == encode_string("gridpulse/gp-a/commands") + b"yours"
    finally:
        client.close()


# ---------------------------------------------------------------- refused connections


# How the SDK reports each refusal: a CONNACK with a non-zero return code as an MQTT
# protocol error; a TLS handshake the broker refuses as the socket closing under it.
CONNACK_REFUSED = {"AWS_ERROR_MQTT_PROTOCOL_ERROR"}
TLS_REFUSED = {"AWS_IO_SOCKET_CLOSED", "AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE"}


def _refused(connection, how: set[str] = CONNACK_REFUSED) -> None:
    with pytest.raises(AwsCrtError) as refused:
        connection.connect().result(WAIT)
    assert refused.value.name in how, refused.value


def test_a_client_id_other_than_the_certificates_thing_is_refused(broker, devices, creds, recorder, raw):
    _refused(devices(creds("gp-a"), "gp-b", start=False))
    assert raw(creds("gp-a")).connect("gp-b") == 5  # CONNACK: not authorized
    assert broker.connected_clients == []
    assert recorder.presence() == []


def test_a_certificate_that_is_not_active_is_refused(broker, devices, creds, recorder, revoked):
    device = creds("gp-a")
    revoked.add(certificate_id(device.cert))
    _refused(devices(device, "gp-a", start=False))
    assert recorder.presence() == []
    revoked.clear()
    devices(device, "gp-a")  # the same certificate, ACTIVE again
    assert recorder.wait_presence("connected", "gp-a")


def test_a_certificate_from_another_ca_is_refused(broker, devices, creds, recorder, tmp_path):
    stranger = creds("gp-a", LocalCA(tmp_path / "other-ca"))
    _refused(devices(stranger, "gp-a", start=False), TLS_REFUSED)
    assert broker.connected_clients == []
    assert recorder.presence() == []


@pytest.mark.parametrize("tls", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_a_client_without_a_certificate_is_refused(broker, raw, recorder, tls):
    # TLS 1.2: the handshake fails; TLS 1.3: the broker closes before any MQTT
    with pytest.raises((ssl.SSLError, ConnectionError)):
        raw(None, tls).connect("gp-a")
    assert broker.connected_clients == []
    assert recorder.presence() == []


def test_mqtt_5_is_answered_with_unacceptable_protocol_version(broker, raw, creds):
    assert raw(creds("gp-a")).connect("gp-a", protocol=("MQTT", 5)) == 1


# ---------------------------------------------------------------- lifecycle events


def test_connect_and_disconnect_produce_lifecycle_events(broker, devices, creds, recorder):
    device = devices(creds("gp-a"), "gp-a")
    connected = recorder.wait_presence("connected", "gp-a")[0]
    assert connected["clientId"] == "gp-a" and connected["thingName"] == "gp-a"
    assert connected["eventType"] == "connected"
    assert connected["principalIdentifier"] == certificate_id(creds("gp-a").cert)
    assert connected["ipAddress"] == "127.0.0.1"
    assert abs(connected["timestamp"] - time.time() * 1000) < 60_000
    assert isinstance(connected["versionNumber"], int) and connected["sessionIdentifier"]
    assert broker.connected_clients == ["gp-a"]

    device.disconnect().result(WAIT)
    disconnected = recorder.wait_presence("disconnected", "gp-a")[0]
    assert disconnected["clientInitiatedDisconnect"] is True
    assert disconnected["disconnectReason"] == "CLIENT_INITIATED_DISCONNECT"
    assert disconnected["sessionIdentifier"] == connected["sessionIdentifier"]
    assert disconnected["versionNumber"] == connected["versionNumber"]
    topics = [m[0] for m in recorder.messages]
    assert topics == ["$aws/events/presence/connected/gp-a", "$aws/events/presence/disconnected/gp-a"]
    assert {m[2] for m in recorder.messages} == {""}  # published by the broker, not by a client
    wait_until(lambda: broker.connected_clients == [])


def test_a_dropped_socket_is_connection_lost(broker, raw, creds, recorder):
    client = raw(creds("gp-a"))
    assert client.connect("gp-a") == 0
    client.sock.shutdown(socket.SHUT_RDWR)  # no DISCONNECT, no TLS close_notify
    event = recorder.wait_presence("disconnected", "gp-a")[0]
    assert event["disconnectReason"] == "CONNECTION_LOST" and event["clientInitiatedDisconnect"] is False


def test_silence_past_one_and_a_half_keep_alives_is_a_timeout(broker, raw, creds, recorder):
    client = raw(creds("gp-a"))
    started = time.monotonic()
    assert client.connect("gp-a", keep_alive=1) == 0
    event = recorder.wait_presence("disconnected", "gp-a")[0]
    assert event["disconnectReason"] == "MQTT_KEEP_ALIVE_TIMEOUT"
    assert 1.4 <= time.monotonic() - started < WAIT
    assert client.closed_by_broker()


def test_a_second_connection_with_the_same_client_id_kicks_the_first(broker, devices, creds, recorder):
    first = devices(creds("gp-a"), "gp-a")
    devices(creds("gp-a"), "gp-a")
    assert first.interrupted.wait(WAIT)
    kicked = recorder.wait_presence("disconnected", "gp-a")[0]
    assert kicked["disconnectReason"] == "DUPLICATE_CLIENTID"
    connected = recorder.wait_presence("connected", "gp-a", count=2)
    assert kicked["sessionIdentifier"] == connected[0]["sessionIdentifier"]
    assert connected[1]["versionNumber"] > connected[0]["versionNumber"]
    assert broker.connected_clients == ["gp-a"]


def test_stopping_the_broker_disconnects_everyone_and_leaves_nothing_running(ca, policy, creds, tmp_path):
    recorder = Recorder()
    broker = LocalBroker("127.0.0.1", 0, ca, policy, lambda pem: True, recorder)
    broker.start()
    port = broker.port
    assert port > 0
    client = Raw(port, ca, creds("gp-a"))
    try:
        assert client.connect("gp-a") == 0
        broker.stop()
        assert client.closed_by_broker()
    finally:
        client.close()
    # stop() delivers the last events before it returns
    assert recorder.presence("disconnected", "gp-a")[0]["disconnectReason"] == "SERVER_INITIATED_DISCONNECT"
    assert not [t for t in threading.enumerate() if t.name.startswith("mqtt-broker")]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_a_live_session_whose_certificate_is_revoked_is_disconnected_and_cannot_reconnect(
    broker, devices, creds, recorder, revoked, raw
):
    device = devices(creds("gp-a"), "gp-a")
    connected = recorder.wait_presence("connected", "gp-a")[0]
    revoked.add(certificate_id(creds("gp-a").cert))  # revoked in the registry while connected
    disconnected = recorder.wait_presence("disconnected", "gp-a")[0]
    assert disconnected["disconnectReason"] == "AUTH_ERROR"
    assert disconnected["sessionIdentifier"] == connected["sessionIdentifier"]
    assert device.interrupted.wait(WAIT)
    wait_until(lambda: broker.connected_clients == [])
    _refused(devices(creds("gp-a"), "gp-a", start=False))  # a reconnect with it is refused
    assert raw(creds("gp-a")).connect("gp-a") == 5  # CONNACK: not authorized


def test_the_cloud_ends_a_session_at_once(broker, devices, creds, recorder):
    device = devices(creds("gp-a"), "gp-a")
    recorder.wait_presence("connected", "gp-a")
    assert broker.disconnect("gp-a") is True
    disconnected = recorder.wait_presence("disconnected", "gp-a")[0]
    assert disconnected["disconnectReason"] == "SERVER_INITIATED_DISCONNECT"
    assert device.interrupted.wait(WAIT)
    assert broker.disconnect("nobody") is False


def test_the_rules_engine_is_told_the_principal_of_each_message(broker, devices, creds, recorder):
    device = devices(creds("gp-a"), "gp-a")
    device.publish("gridpulse/gp-a/telemetry", b'{"kwh": 1.5}', mqtt.QoS.AT_LEAST_ONCE)[0].result(WAIT)
    recorder.wait(lambda: any(m[0] == "gridpulse/gp-a/telemetry" for m in recorder.messages))
    index = next(i for i, m in enumerate(recorder.messages) if m[0] == "gridpulse/gp-a/telemetry")
    assert recorder.principals[index] == certificate_id(creds("gp-a").cert)
    presence = [i for i, m in enumerate(recorder.messages) if m[0].startswith("$aws/events/")]
    assert presence and {recorder.principals[i] for i in presence} == {""}
