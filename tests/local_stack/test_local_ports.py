"""Every port the local stack listens on goes through infrastructure/local/ports.py."""

from __future__ import annotations

import re
import socket

import pytest

from infrastructure.cfn import ROOT
from infrastructure.local.ports import LISTENERS, PortError, bind_all, port_setting

# What opens a listening socket in Python: werkzeug's make_server / run_simple, asyncio's
# start_server / create_server, socket.bind, moto's ThreadedMotoServer.
OPENERS = re.compile(r"\b(make_server|run_simple|start_server|create_server|bind|ThreadedMotoServer)\(")
ADOPTED = ("fd=", "sock=", "**where")  # the call adopts a socket from ports.bind_all


def _call(text: str, start: int) -> str:
    """The text of the call whose name starts at `start`, up to its closing parenthesis."""
    depth, i = 0, text.index("(", start)
    while i < len(text):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return text[start : i + 1]
        i += 1
    return text[start:]


def test_no_module_of_the_local_stack_binds_a_port_itself():
    offenders = []
    for path in sorted((ROOT / "infrastructure" / "local").rglob("*.py")):  # iot/ included
        if path.name == "ports.py":
            continue
        text = path.read_text()
        for match in OPENERS.finditer(text):
            call = _call(text, match.start())
            if any(mark in call for mark in ADOPTED):
                continue
            line = text[: match.start()].count("\n") + 1
            offenders.append(f"{path.name}:{line}: {' '.join(call.split())}")
    assert offenders == [], "listen through infrastructure/local/ports.py (LISTENERS, bind_all):\n" + "\n".join(
        offenders
    )


def test_every_listener_has_a_variable_of_its_own():
    variables = [listener.variable for listener in LISTENERS.values()]
    assert len(set(variables)) == len(variables) and all(v.startswith("GRIDPULSE_") for v in variables)


def test_a_taken_port_names_the_variable_and_nothing_stays_bound():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        env = {
            "GRIDPULSE_AWS_PORT": "0",
            "GRIDPULSE_API_PORT": "0",
            "GRIDPULSE_TUYA_PORT": "0",
            "GRIDPULSE_MQTT_PORT": str(port),
        }
        with pytest.raises(PortError) as refused:
            bind_all(env)
    message = str(refused.value.code)
    assert "GRIDPULSE_MQTT_PORT" in message and str(port) in message and "already in use" in message


@pytest.mark.parametrize("value", ["http", "-1", "70000", "80.5"])
def test_a_malformed_port_names_the_variable(value):
    with pytest.raises(PortError, match="GRIDPULSE_API_PORT"):
        port_setting("api", {"GRIDPULSE_API_PORT": value})


def test_two_listeners_on_one_port_are_refused():
    with pytest.raises(PortError, match="GRIDPULSE_API_PORT=4000 and GRIDPULSE_MQTT_PORT=4000"):
        bind_all(
            {
                "GRIDPULSE_AWS_PORT": "0",
                "GRIDPULSE_API_PORT": "4000",
                "GRIDPULSE_MQTT_PORT": "4000",
                "GRIDPULSE_TUYA_PORT": "0",
            }
        )


def test_free_ports_are_bound_and_listening():
    sockets = bind_all(
        {"GRIDPULSE_AWS_PORT": "0", "GRIDPULSE_API_PORT": "0", "GRIDPULSE_MQTT_PORT": "0", "GRIDPULSE_TUYA_PORT": "0"}
    )
    try:
        assert set(sockets) == set(LISTENERS)
        for sock in sockets.values():
            with socket.create_connection(sock.getsockname(), timeout=2):
                pass
    finally:
        for sock in sockets.values():
            sock.close()
