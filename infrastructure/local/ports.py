"""Every port the local stack listens on, bound up front in one place.

`LISTENERS` maps each listener to the environment variable that sets its
port (and its default). `bind_all()` opens every one of them before anything
starts, on 127.0.0.1, and hands back listening sockets that the servers then
adopt (moto and the API through werkzeug's `fd=`, the MQTT broker through
asyncio's `sock=`). So a port that is taken ends `make run` at once with a
message naming the variable to change, instead of a server thread printing
"Address already in use" while the rest of the stack waits for it.

A new listener of the local stack is added to `LISTENERS` and takes its
socket from `bind_all()`'s result; tests/local_stack/test_local_ports.py checks that
no other module of infrastructure/local binds a port itself.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Listener:
    name: str  # what listens: shown in messages
    variable: str  # the environment variable that sets the port
    default: int


LISTENERS: dict[str, Listener] = {
    "aws": Listener("the AWS endpoint (moto)", "GRIDPULSE_AWS_PORT", 4566),
    "api": Listener("the API", "GRIDPULSE_API_PORT", 3000),
    "mqtt": Listener("the MQTT broker", "GRIDPULSE_MQTT_PORT", 8883),
    "tuya": Listener("the Tuya Cloud stand-in", "GRIDPULSE_TUYA_PORT", 3100),
}


class PortError(SystemExit):
    """A port setting that is malformed or a port that is taken. A SystemExit:
    `make run` ends with this message (on stderr) and exit status 1."""

    def __init__(self, message: str):
        super().__init__(f"GridPulse local stack: {message}")


def port_setting(key: str, environ: Mapping[str, str] | None = None) -> int:
    """The port of listener `key` from its environment variable (or the default)."""
    listener = LISTENERS[key]
    raw = (os.environ if environ is None else environ).get(listener.variable, "").strip()
    if not raw:
        return listener.default
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise PortError(f"{listener.variable}={raw!r} is not a port number (0-65535) for {listener.name}.")
    return port


def listen(key: str, port: int, host: str = HOST) -> socket.socket:
    """A listening TCP socket for listener `key`; PortError naming its variable if it cannot be bound."""
    listener = LISTENERS[key]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # As every server does: a port whose old connections are in TIME_WAIT
        # can be reused at once; a port someone listens on still cannot.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortError(
                f"port {port} ({listener.name}) is already in use on {host}. Stop what uses it, or choose "
                f"another port with {listener.variable}, e.g. `{listener.variable}={_suggest(port, host)} make run`."
            ) from None
        raise PortError(
            f"cannot listen on {host}:{port} for {listener.name} ({exc.strerror}); "
            f"choose another port with {listener.variable}."
        ) from None
    return sock


def bind_all(environ: Mapping[str, str] | None = None, host: str = HOST) -> dict[str, socket.socket]:
    """A listening socket for every listener of LISTENERS, or PortError (and
    none left open) if one of them cannot be had."""
    ports = {key: port_setting(key, environ) for key in LISTENERS}
    taken = [key for key, port in ports.items() if port and list(ports.values()).count(port) > 1]
    if taken:
        names = " and ".join(f"{LISTENERS[k].variable}={ports[k]}" for k in taken)
        raise PortError(f"{names}: two listeners cannot share a port; give each its own.")
    sockets: dict[str, socket.socket] = {}
    try:
        for key, port in ports.items():
            sockets[key] = listen(key, port, host)
    except BaseException:
        for sock in sockets.values():
            sock.close()
        raise
    return sockets


def _suggest(port: int, host: str = HOST) -> int:
    """A nearby port that is free right now (for the message only)."""
    for candidate in range(port + 1, min(port + 50, 65536)):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, candidate))
                return candidate
            except OSError:
                continue
    return 0
