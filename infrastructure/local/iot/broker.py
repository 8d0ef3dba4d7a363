"""A local MQTT broker standing in for AWS IoT Core's device gateway.

Devices (and the AWS IoT Device SDK) connect to it exactly as they connect to
IoT Core: MQTT over TLS with mutual authentication, a client certificate
issued by the local CA (infrastructure/local/iot/ca.py), and are authorised by
the policy document of template.yaml (infrastructure/local/iot/policy.py).

What it implements, and how that maps to IoT Core:

* Transport: MQTT 3.1.1 (protocol level 4; 3.1 "MQIsdp" is accepted too) over
  TLS 1.2+, client certificate REQUIRED and verified against the LocalCA. A
  client without a certificate, or with one from another CA, fails the TLS
  handshake. MQTT 5 CONNECTs are answered "unacceptable protocol version".
* Identity: the certificate's CN is the thing name; the principal is its
  IoT certificate id (`principal_of(certificate PEM)`, by default its
  SHA-256, which is how AWS IoT names certificates).
* CONNECT: accepted only if `cert_is_active(certificate PEM)` returns True
  (the local stack asks the IoT registry, so REVOKED or INACTIVE certificates
  are refused) and the policy allows iot:Connect on client/<clientId> with
  IsAttached true, so the client id must be the thing name. Refused: CONNACK
  return code 5 (not authorized), then the connection is closed. A second
  connection with the same client id disconnects the first
  (DUPLICATE_CLIENTID), like IoT Core. Sessions are always clean (the
  session-present flag is 0); the keep-alive is enforced at 1.5 times the
  client's value (0 means none). Last-will messages are sent on every
  disconnect but a client-initiated one, if the policy allows publishing them.
* Revocation: every `recheck_s` seconds each connected client's certificate
  is checked again with `cert_is_active`; a client whose certificate left
  ACTIVE (or whose thing is gone) is disconnected (AUTH_ERROR, without its
  last will), so a revoked certificate cannot keep a session open. `disconnect(client_id)` ends a
  session from the cloud side at once (IoT's DeleteConnection: no last will,
  SERVER_INITIATED_DISCONNECT).
* PUBLISH (QoS 0 and 1; PUBACK after routing): needs iot:Publish on
  topic/<topic>. An unauthorised publish is dropped and the client
  disconnected (AUTH_ERROR), as IoT Core does. QoS 2 is refused (CLIENT_ERROR),
  as IoT Core does not support it; the retain flag is ignored (messages are
  not retained). Every accepted message is handed to `on_publish(topic,
  payload, client_id, principal)`: that is where the local rules engine sees
  traffic, like IoT Core's rules engine (principal() in its SQL).
* SUBSCRIBE: per filter, iot:Subscribe on topicfilter/<filter> taken
  literally; a refused or malformed filter gets the SUBACK failure code 0x80.
  Granted QoS is at most 1. UNSUBSCRIBE, PINGREQ and DISCONNECT as in the spec.
* Delivery: to every subscription whose filter matches the topic, once per
  client at the highest granted QoS, and only if iot:Receive allows
  topic/<topic> for that client (checked per message, like IoT Core).
  `publish()` sends a message from the cloud side (like the iot-data Publish
  API): no policy applies to the sender, iot:Receive still does to receivers.
* Lifecycle events: every accepted connection and every disconnect produce
  `$aws/events/presence/connected/<clientId>` and
  `$aws/events/presence/disconnected/<clientId>` with IoT Core's JSON
  (clientId, thingName, timestamp, eventType, sessionIdentifier,
  principalIdentifier, ipAddress, versionNumber, and for disconnects
  clientInitiatedDisconnect and disconnectReason: CLIENT_INITIATED_DISCONNECT,
  CONNECTION_LOST, DUPLICATE_CLIENTID, MQTT_KEEP_ALIVE_TIMEOUT, AUTH_ERROR,
  CLIENT_ERROR, SERVER_INITIATED_DISCONNECT (broker stopped), SERVER_ERROR).
  They go to `on_publish` with client_id and principal "" (the broker published them) and
  to subscribers allowed to receive them. Refused connections produce none.
* Device Shadow service: when given a `shadow` service
  (infrastructure/local/iot/shadow.py), every accepted PUBLISH is also handed
  to `shadow.handle_mqtt(topic, payload)`, which serves the classic shadow's
  `$aws/things/{thing}/shadow/get|update|delete` requests and publishes the
  accepted/rejected/documents/delta responses from the cloud side (iot:Receive
  applies to them). Publishing a request needs iot:Publish on its topic, as
  any publish; the responses reach only subscribers allowed to receive them.
* Not implemented: persistent sessions, retained messages, QoS 2, MQTT 5,
  WebSockets, named shadows, message size limits beyond 128 KiB payloads,
  throttling.

The broker runs its own asyncio loop in a background thread; `on_publish` is
called on one more thread, in the order the broker accepted the messages, so
a slow callback never stalls MQTT traffic.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from infrastructure.local.iot.ca import LocalCA, certificate_id, common_name
from infrastructure.local.iot.policy import PolicyEvaluator
from infrastructure.local.iot.topics import topic_matches, valid_filter, valid_topic

log = logging.getLogger(__name__)

# MQTT 3.1.1 control packet types
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 10, 11, 12, 13, 14

CONNACK_BAD_PROTOCOL, CONNACK_ID_REJECTED, CONNACK_NOT_AUTHORIZED = 1, 2, 5
SUBACK_FAILURE = 0x80
MAX_PAYLOAD = 128 * 1024  # IoT Core's message payload limit
MAX_PACKET = MAX_PAYLOAD + 70_000  # payload plus the longest topic and headers
CONNECT_TIMEOUT = 10.0  # seconds a new connection has to send CONNECT
PRESENCE = "$aws/events/presence"

# lifecycle disconnectReason values (IoT Core's names)
CLIENT_INITIATED = "CLIENT_INITIATED_DISCONNECT"
CONNECTION_LOST = "CONNECTION_LOST"
DUPLICATE_CLIENTID = "DUPLICATE_CLIENTID"
KEEP_ALIVE_TIMEOUT = "MQTT_KEEP_ALIVE_TIMEOUT"
AUTH_ERROR = "AUTH_ERROR"
CLIENT_ERROR = "CLIENT_ERROR"
SERVER_INITIATED = "SERVER_INITIATED_DISCONNECT"
SERVER_ERROR = "SERVER_ERROR"

OnPublish = Callable[[str, bytes, str, str], None]
RECHECK_S = 5.0  # seconds between two checks of the connected clients' certificates


class ProtocolError(Exception):
    """The client broke MQTT: it is disconnected with CLIENT_ERROR."""


class Disconnect(Exception):
    """End a client's connection with a lifecycle disconnect reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# ------------------------------------------------------------------ wire format


def encode(packet_type: int, flags: int, body: bytes = b"") -> bytes:
    length, encoded = len(body), bytearray()
    while True:
        length, digit = divmod(length, 128)
        encoded.append(digit | (0x80 if length else 0))
        if not length:
            return bytes([packet_type << 4 | flags]) + bytes(encoded) + body


def encode_string(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


async def read_packet(reader: asyncio.StreamReader) -> tuple[int, int, bytes]:
    """(type, flags, body) of the next control packet."""
    first = (await reader.readexactly(1))[0]
    length = 0
    for shift in range(0, 28, 7):
        digit = (await reader.readexactly(1))[0]
        length |= (digit & 0x7F) << shift
        if not digit & 0x80:
            break
    else:
        raise ProtocolError("malformed remaining length")
    if length > MAX_PACKET:
        raise ProtocolError(f"packet of {length} bytes is too large")
    return first >> 4, first & 0x0F, await reader.readexactly(length)


class Body:
    """Reads the fields of a packet body."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ProtocolError("truncated packet")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def binary(self) -> bytes:
        return self.take(self.u16())

    def string(self) -> str:
        try:
            text = self.binary().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError("string is not UTF-8") from exc
        if "\0" in text:
            raise ProtocolError("string contains NUL")
        return text

    def rest(self) -> bytes:
        chunk, self.pos = self.data[self.pos :], len(self.data)
        return chunk

    def __bool__(self) -> bool:
        return self.pos < len(self.data)


# ------------------------------------------------------------------ broker


@dataclass(eq=False)
class Client:
    """One authenticated, connected MQTT client."""

    client_id: str
    thing_name: str | None
    attached: bool
    principal: str
    ip_address: str
    keep_alive: int
    writer: asyncio.StreamWriter
    cert_pem: str = ""
    will: tuple[str, bytes, int] | None = None
    version: int = 0
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    subscriptions: dict[str, int] = field(default_factory=dict)
    packet_id: int = 0
    closed: bool = False

    def send(self, data: bytes) -> None:
        if not self.closed and not self.writer.is_closing():
            self.writer.write(data)

    def next_packet_id(self) -> int:
        self.packet_id = self.packet_id % 0xFFFF + 1
        return self.packet_id


class LocalBroker:
    """The MQTT broker. `start()` returns once it listens on `host:port`
    (`port` 0 picks a free port, readable from `.port` afterwards), or on
    `sock`, a listening socket bound beforehand.

    `cert_is_active(cert_pem)` gets the client certificate as PEM and says
    whether it is ACTIVE (and so attached to the thing named by its CN); it is
    asked at CONNECT and again every `recheck_s` seconds while the client is
    connected. `on_publish(topic, payload, client_id, principal)` sees every
    accepted message and every lifecycle event; `principal_of(cert_pem)`
    names the certificate (default: its SHA-256). All are called outside the
    broker's loop.
    """

    def __init__(
        self,
        host: str,
        port: int,
        ca: LocalCA,
        policy: PolicyEvaluator,
        cert_is_active: Callable[[str], bool],
        on_publish: OnPublish | None = None,
        server_hosts: tuple[str, ...] = ("localhost", "127.0.0.1"),
        principal_of: Callable[[str], str] = certificate_id,
        recheck_s: float = RECHECK_S,
        sock: socket.socket | None = None,
        shadow=None,
    ):
        self.host, self.port = host, port
        self._shadow = shadow  # infrastructure.local.iot.shadow.ShadowService, or None
        self._sock = sock  # a listening socket to adopt (infrastructure/local/ports.py), else bind host:port
        self.ca, self.policy = ca, policy
        self._cert_is_active = cert_is_active
        self._on_publish = on_publish
        self._principal_of = principal_of
        self.recheck_s = recheck_s
        self._server_hosts = server_hosts
        self._clients: dict[str, Client] = {}
        self._versions: dict[str, int] = {}
        self._tasks: set[asyncio.Task] = set()
        self._transports: set[asyncio.Transport] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._callbacks: queue.SimpleQueue = queue.SimpleQueue()
        self._callback_thread: threading.Thread | None = None
        self._stopping = False

    # -------------------------------------------------------------- lifecycle

    def _ssl_context(self) -> ssl.SSLContext:
        cert_path, key_path = self.ca.server_credentials(self._server_hosts)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert_path, key_path)
        context.load_verify_locations(cadata=self.ca.ca_pem)
        context.verify_mode = ssl.CERT_REQUIRED
        return context

    def start(self) -> None:
        if self._thread:
            raise RuntimeError("broker already started")
        context = self._ssl_context()
        ready, failure = threading.Event(), []
        self._callback_thread = threading.Thread(target=self._run_callbacks, name="mqtt-broker-callbacks", daemon=True)
        self._callback_thread.start()
        self._thread = threading.Thread(
            target=self._run, args=(context, ready, failure), name="mqtt-broker", daemon=True
        )
        self._thread.start()
        if not ready.wait(15) or failure:
            self.stop()
            raise RuntimeError(f"MQTT broker did not start on {self.host}:{self.port}") from (
                failure[0] if failure else None
            )

    def _run(self, context: ssl.SSLContext, ready: threading.Event, failure: list) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            where = {"sock": self._sock} if self._sock is not None else {"host": self.host, "port": self.port}
            self._server = loop.run_until_complete(
                asyncio.start_server(self._handle, **where, ssl=context, ssl_handshake_timeout=CONNECT_TIMEOUT)
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except Exception as exc:  # noqa: BLE001 - handed to start()
            failure.append(exc)
            ready.set()
            loop.close()
            return
        ready.set()
        recheck = loop.create_task(self._recheck_certificates())
        self._tasks.add(recheck)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def stop(self) -> None:
        """Disconnect every client (SERVER_INITIATED_DISCONNECT), stop
        listening, deliver the last callbacks and end both threads."""
        loop, thread = self._loop, self._thread
        if thread and thread.is_alive() and loop and loop.is_running():
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=15)
        if thread:
            thread.join(timeout=15)
        if self._callback_thread:
            self._callbacks.put(None)
            self._callback_thread.join(timeout=15)
        self._thread = self._callback_thread = None

    async def _shutdown(self) -> None:
        self._stopping = True
        self._server.close()
        for client in list(self._clients.values()):
            self._close(client, SERVER_INITIATED)
        await asyncio.sleep(0.05)  # let the TLS transports send close_notify
        for transport in list(self._transports):
            transport.abort()  # no waiting for the peers' close_notify
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        asyncio.get_running_loop().call_soon(asyncio.get_running_loop().stop)

    def __enter__(self) -> LocalBroker:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -------------------------------------------------------------- cloud side

    @property
    def connected_clients(self) -> list[str]:
        return list(self._clients)

    def disconnect(self, client_id: str) -> bool:
        """End a client's session from the cloud side (IoT's DeleteConnection:
        no last will). Thread-safe; False when the client is not connected."""

        def close() -> bool:
            client = self._clients.get(client_id)
            if client is None:
                return False
            self._close(client, SERVER_INITIATED, send_will=False)
            return True

        async def close_in_loop() -> bool:
            return close()

        if threading.current_thread() is self._thread:
            return close()
        if not self._loop or not self._loop.is_running():
            return False
        return asyncio.run_coroutine_threadsafe(close_in_loop(), self._loop).result(timeout=10)

    async def _recheck_certificates(self) -> None:
        """Disconnect clients whose certificate is no longer ACTIVE (AUTH_ERROR)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.recheck_s)
            for client in list(self._clients.values()):
                try:
                    active = await loop.run_in_executor(None, self._cert_is_active, client.cert_pem)
                except Exception:  # noqa: BLE001 - try again at the next round
                    log.exception("cert_is_active failed")
                    continue
                if not active and not client.closed:
                    log.warning("MQTT client %s disconnected: its certificate is no longer active", client.client_id)
                    self._close(client, AUTH_ERROR, send_will=False)  # not its to send any more

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> int:
        """Send a message from the cloud side to the subscribers allowed to
        receive it; returns how many clients it was sent to. Thread-safe.
        (In IoT Core a data-plane publish also reaches the rules engine; this
        does not call on_publish, so a caller that wants that calls it.)"""
        if not valid_topic(topic) or qos not in (0, 1):
            raise ValueError(f"cannot publish to {topic!r} at QoS {qos}")
        if threading.current_thread() is self._thread:
            return self._route(topic, bytes(payload), qos)

        async def route() -> int:
            return self._route(topic, bytes(payload), qos)

        if not self._loop or not self._loop.is_running():
            raise RuntimeError("broker is not running")
        return asyncio.run_coroutine_threadsafe(route(), self._loop).result(timeout=10)

    def publish_nowait(self, topic: str, payload: bytes, qos: int = 0) -> None:
        """Queue a cloud-side message for delivery without waiting for it:
        messages queued from any thread go out in the order they were queued
        (the shadow service's responses). Dropped when the broker is not
        running. Reaches the rules engine like a device's message."""
        if not valid_topic(topic) or qos not in (0, 1):
            raise ValueError(f"cannot publish to {topic!r} at QoS {qos}")
        loop = self._loop
        if loop is None or not loop.is_running() or self._stopping:
            return
        data = bytes(payload)

        def route() -> None:
            self._route(topic, data, qos)
            self._emit(topic, data, "")

        loop.call_soon_threadsafe(route)

    # -------------------------------------------------------------- callbacks

    def _emit(self, topic: str, payload: bytes, client_id: str, principal: str = "") -> None:
        if self._on_publish:
            self._callbacks.put((topic, payload, client_id, principal))

    def _run_callbacks(self) -> None:
        while (item := self._callbacks.get()) is not None:
            try:
                self._on_publish(*item)
            except Exception:  # noqa: BLE001 - a failing consumer must not stop the broker
                log.exception("on_publish failed for %s", item[0])

    # -------------------------------------------------------------- connections

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        self._transports.add(writer.transport)
        client, reason = None, CONNECTION_LOST
        try:
            client = await self._accept(reader, writer)
            if client:
                await self._serve(client, reader)
        except Disconnect as exc:
            reason = exc.reason
        except ProtocolError as exc:
            log.info("MQTT protocol error from %s: %s", client.client_id if client else "new client", exc)
            reason = CLIENT_ERROR
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, OSError):
            reason = CONNECTION_LOST
        except asyncio.CancelledError:
            reason = SERVER_INITIATED
        except Exception:  # noqa: BLE001
            log.exception("MQTT broker error")
            reason = SERVER_ERROR
        finally:
            if client:
                self._close(client, reason)
            writer.close()
            try:  # a TLS close waits for the peer's close_notify: not for long
                await asyncio.wait_for(writer.wait_closed(), 2)
            except (Exception, asyncio.CancelledError):  # noqa: BLE001 - timed out, reset, or stopping
                writer.transport.abort()
            self._transports.discard(writer.transport)
            self._tasks.discard(task)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Client | None:
        """Read CONNECT, authenticate and authorise; the connected Client or None."""
        packet_type, _, data = await asyncio.wait_for(read_packet(reader), CONNECT_TIMEOUT)
        if packet_type != CONNECT:
            raise ProtocolError("the first packet must be CONNECT")
        body = Body(data)
        protocol, level, flags, keep_alive = body.string(), body.u8(), body.u8(), body.u16()
        if (protocol, level) not in (("MQTT", 4), ("MQIsdp", 3)):
            writer.write(encode(CONNACK, 0, bytes([0, CONNACK_BAD_PROTOCOL])))
            return None
        if flags & 0x01:
            raise ProtocolError("reserved CONNECT flag set")
        client_id = body.string()
        will = None
        if flags & 0x04:
            will = (body.string(), body.binary(), (flags >> 3) & 0x03)
            if will[2] > 1 or not valid_topic(will[0]):
                raise ProtocolError("unsupported last will")
        if flags & 0x80:
            body.string()  # user name: IoT Core ignores it for X.509 clients
        if flags & 0x40:
            body.binary()

        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        cert = x509.load_der_x509_certificate(der)
        pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        thing_name = common_name(cert)
        ip_address = (writer.get_extra_info("peername") or ("",))[0]
        try:
            active = await asyncio.get_running_loop().run_in_executor(None, self._cert_is_active, pem)
        except Exception:  # noqa: BLE001 - an unanswerable check refuses
            log.exception("cert_is_active failed")
            active = False
        attached = bool(active) and thing_name is not None
        if not client_id:
            writer.write(encode(CONNACK, 0, bytes([0, CONNACK_ID_REJECTED])))
            return None
        if not attached or not self.policy.can_connect(client_id, thing_name, attached=True):
            log.warning(
                "MQTT CONNECT refused: client id %r, certificate CN %r, %s",
                client_id,
                thing_name,
                "active" if active else "not active",
            )
            writer.write(encode(CONNACK, 0, bytes([0, CONNACK_NOT_AUTHORIZED])))
            await asyncio.wait_for(writer.drain(), 5)
            return None

        client = Client(
            client_id=client_id,
            thing_name=thing_name,
            attached=attached,
            principal=self._principal_of(pem),
            ip_address=ip_address,
            keep_alive=keep_alive,
            writer=writer,
            will=will,
            cert_pem=pem,
        )
        previous = self._clients.get(client_id)
        if previous:
            self._close(previous, DUPLICATE_CLIENTID)
        self._versions[client_id] = client.version = self._versions.get(client_id, 0) + 1
        self._clients[client_id] = client
        client.send(encode(CONNACK, 0, bytes([0, 0])))
        log.info("MQTT client %s connected from %s", client_id, ip_address)
        self._presence(client, "connected")
        return client

    async def _serve(self, client: Client, reader: asyncio.StreamReader) -> None:
        timeout = client.keep_alive * 1.5 if client.keep_alive else None
        while True:
            try:
                packet_type, flags, data = await asyncio.wait_for(read_packet(reader), timeout)
            except asyncio.TimeoutError:
                raise Disconnect(KEEP_ALIVE_TIMEOUT) from None
            if packet_type == PUBLISH:
                self._on_client_publish(client, flags, Body(data))
            elif packet_type == PUBACK:
                pass  # acknowledges a QoS 1 delivery; nothing is kept for redelivery
            elif packet_type == SUBSCRIBE and flags == 0x02:
                self._on_subscribe(client, Body(data))
            elif packet_type == UNSUBSCRIBE and flags == 0x02:
                body = Body(data)
                packet_id = body.u16()
                while body:
                    client.subscriptions.pop(body.string(), None)
                client.send(encode(UNSUBACK, 0, packet_id.to_bytes(2, "big")))
            elif packet_type == PINGREQ:
                client.send(encode(PINGRESP, 0))
            elif packet_type == DISCONNECT:
                raise Disconnect(CLIENT_INITIATED)
            else:
                raise ProtocolError(f"unexpected packet type {packet_type}")

    def _on_client_publish(self, client: Client, flags: int, body: Body) -> None:
        qos = (flags >> 1) & 0x03
        topic = body.string()
        packet_id = body.u16() if qos else None
        payload = body.rest()
        if qos > 1:
            raise ProtocolError("QoS 2 is not supported (as in IoT Core)")
        if not valid_topic(topic) or len(payload) > MAX_PAYLOAD:
            raise ProtocolError(f"invalid publish to {topic!r}")
        if not self.policy.can_publish(topic, client.thing_name, client.attached, client.client_id):
            log.warning("MQTT PUBLISH refused: %s may not publish to %s", client.client_id, topic)
            raise Disconnect(AUTH_ERROR)
        self._route(topic, payload, qos)
        self._emit(topic, payload, client.client_id, client.principal)
        if self._shadow is not None and topic.startswith("$aws/things/"):
            self._shadow.handle_mqtt(topic, payload)  # its responses are queued behind this message
        if packet_id is not None:
            client.send(encode(PUBACK, 0, packet_id.to_bytes(2, "big")))

    def _on_subscribe(self, client: Client, body: Body) -> None:
        packet_id, codes = body.u16(), bytearray()
        while body:
            topic_filter, requested = body.string(), body.u8()
            if requested > 2:
                raise ProtocolError("invalid requested QoS")
            if valid_filter(topic_filter) and self.policy.can_subscribe(
                topic_filter, client.thing_name, client.attached, client.client_id
            ):
                client.subscriptions[topic_filter] = min(requested, 1)
                codes.append(min(requested, 1))
            else:
                log.warning("MQTT SUBSCRIBE refused: %s may not subscribe to %s", client.client_id, topic_filter)
                codes.append(SUBACK_FAILURE)
        if not codes:
            raise ProtocolError("SUBSCRIBE without topic filters")
        client.send(encode(SUBACK, 0, packet_id.to_bytes(2, "big") + bytes(codes)))

    # -------------------------------------------------------------- routing

    def _route(self, topic: str, payload: bytes, qos: int) -> int:
        """Send to every client subscribed to `topic` and allowed to receive it."""
        sent = 0
        for client in list(self._clients.values()):
            granted = [q for f, q in client.subscriptions.items() if topic_matches(f, topic)]
            if not granted or not self.policy.can_receive(topic, client.thing_name, client.attached, client.client_id):
                continue
            delivered_qos = min(qos, max(granted))
            header = encode_string(topic)
            if delivered_qos:
                header += client.next_packet_id().to_bytes(2, "big")
            client.send(encode(PUBLISH, delivered_qos << 1, header + payload))
            sent += 1
        return sent

    def _close(self, client: Client, reason: str, send_will: bool = True) -> None:
        """Disconnect a client once: last will, lifecycle event, socket closed."""
        if client.closed:
            return
        client.closed = True
        if self._clients.get(client.client_id) is client:
            del self._clients[client.client_id]
        log.info("MQTT client %s disconnected: %s", client.client_id, reason)
        if client.will and send_will and reason != CLIENT_INITIATED and not self._stopping:
            topic, payload, qos = client.will
            if self.policy.can_publish(topic, client.thing_name, client.attached, client.client_id):
                self._route(topic, payload, qos)
                self._emit(topic, payload, client.client_id, client.principal)
        self._presence(client, "disconnected", reason)
        client.writer.close()

    def _presence(self, client: Client, event: str, reason: str | None = None) -> None:
        if "+" in client.client_id or "#" in client.client_id:
            return  # as in IoT Core: no lifecycle events for such client ids
        message = {
            "clientId": client.client_id,
            "timestamp": int(time.time() * 1000),
            "eventType": event,
            "sessionIdentifier": client.session_id,
            "principalIdentifier": client.principal,
            "ipAddress": client.ip_address,
            "versionNumber": client.version,
        }
        if client.attached:
            message["thingName"] = client.thing_name
        if event == "disconnected":
            message["clientInitiatedDisconnect"] = reason == CLIENT_INITIATED
            message["disconnectReason"] = reason
        topic, payload = f"{PRESENCE}/{event}/{client.client_id}", json.dumps(message).encode()
        if not self._stopping:
            self._route(topic, payload, 1)
        self._emit(topic, payload, "")
