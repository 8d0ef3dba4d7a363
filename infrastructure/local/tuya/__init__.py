"""The Tuya Cloud stand-in of the local stack (issue #13 item 6).

`server.TuyaStandIn` speaks the Tuya OpenAPI (signatures, tokens, devices,
specifications, commands) for a few simulated prepaid meters (`meters`), with
local-only fault switches. `start()` serves it on a socket that
infrastructure/local/ports.py bound (GRIDPULSE_TUYA_PORT); the stack then puts
its credentials into the template's TuyaCredentialsSecret and points
TUYA_ENDPOINT at it.

Settings: GRIDPULSE_TUYA_METERS (3: how many meters, alternating money and kWh
products), GRIDPULSE_TUYA_TOKEN_TTL_S (7200: the tokens' `expire_time`).
"""

from __future__ import annotations

import secrets
import string
import threading

from infrastructure.local.tuya.server import TuyaStandIn

__all__ = ["TuyaStandIn", "new_credentials", "start"]


def new_credentials() -> tuple[str, str]:
    """A random access id (20 characters) and secret (32), as a Tuya cloud project has."""
    alphabet = string.ascii_lowercase + string.digits
    return (
        "".join(secrets.choice(alphabet) for _ in range(20)),
        "".join(secrets.choice(alphabet) for _ in range(32)),
    )


def start(sock, stand_in: TuyaStandIn):
    """Serve `stand_in` on the listening socket `sock` in a daemon thread; returns the server (shutdown())."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class _Handler(WSGIRequestHandler):
        # Tuya's headers have underscores (client_id, access_token, sign_method), which werkzeug's
        # server drops from the WSGI environ (against header spoofing): hand them over as they came.
        def make_environ(self):
            environ = super().make_environ()
            environ["tuya.headers"] = {k.lower(): v for k, v in self.headers.items()}
            return environ

        def log_request(self, *args, **kwargs):  # the gateway prints the platform's access log; not Tuya's
            pass

    server = make_server(
        "127.0.0.1", sock.getsockname()[1], stand_in, threaded=True, request_handler=_Handler, fd=sock.fileno()
    )
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="tuya-stand-in", daemon=True
    ).start()
    return server
