"""moto in server mode: the local stack's AWS endpoint, on a socket bound
beforehand (infrastructure/local/ports.py).

DynamoDB requests are served one at a time (`DYNAMODB_LOCK`): moto keeps no
lock of its own, so two requests served at once by its threads could both
pass the same condition (two conditional puts of one key, two writers of one
rollup version), which DynamoDB never lets happen. Everything runs in one
Python process, so serving them one at a time costs next to nothing; other
services (an SQS ReceiveMessage that long-polls, say) are not held up by it.
The TTL sweeper (infrastructure/local/housekeeping.py) takes the same lock to
read moto's tables.

The iot-data shadow operations (UpdateThingShadow, GetThingShadow,
DeleteThingShadow) are answered by the local Device Shadow service
(infrastructure/local/iot/shadow.py, `ShadowApi`) when `start` is given one,
so the Lambdas and the MQTT devices share one shadow store.

TransactWriteItems snapshot only the items they touch for their rollback
(infrastructure/local/moto_transactions.py), not whole tables as moto does.
"""

from __future__ import annotations

import socket
import threading

DYNAMODB_LOCK = threading.RLock()


class SerializedDynamoDB:
    """WSGI middleware: DynamoDB requests under DYNAMODB_LOCK, body built inside it."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return self.app(environ, start_response)
        with DYNAMODB_LOCK:
            result = self.app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()


def scale_sqs_delays(scale: float) -> None:
    """Make every SQS message delay (DelaySeconds, a queue's default delay) last
    `scale` times as long: GRIDPULSE_SQS_DELAY_SCALE, 1 (as in AWS) unless set.
    The end-to-end tests set 0.1 so that a billing retry queued for 30 s runs
    after 3; message order and "not before its delay" are kept."""
    if scale == 1:
        return
    from moto.core.utils import unix_time_millis
    from moto.sqs.models import Message

    def delay(self, delay_seconds: int) -> None:
        self.delayed_until = unix_time_millis() + int(delay_seconds) * 1000 * scale

    Message.delay = delay


def start(sock: socket.socket, shadows=None):
    """moto serving on `sock` (listening) from a daemon thread; `.shutdown()` stops it.
    `shadows` (a ShadowService) answers the iot-data shadow operations."""
    from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    from infrastructure.local import moto_transactions

    moto_transactions.install()
    app = SerializedDynamoDB(DomainDispatcherApplication(create_backend_app))
    if shadows is not None:
        from infrastructure.local.iot.shadow import ShadowApi

        app = ShadowApi(app, shadows)
    server = make_server(
        "127.0.0.1", sock.getsockname()[1], app, threaded=True, request_handler=MotoRequestHandler, fd=sock.fileno()
    )
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="moto-server", daemon=True
    ).start()
    return server
