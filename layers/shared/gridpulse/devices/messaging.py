"""Messages from the cloud to MQTT subscribers (alerts for apps, commands for devices).

In AWS this is the IoT data plane's Publish; the local stack swaps in its
broker's publish so that subscribers on the laptop receive the same messages.
"""

from __future__ import annotations

import json
from typing import Callable

from gridpulse.aws import client


def _iot_data_publish(topic: str, payload: bytes, qos: int) -> None:
    client("iot-data").publish(topic=topic, qos=qos, payload=payload)


publisher: Callable[[str, bytes, int], None] = _iot_data_publish


def publish_json(topic: str, message: dict, qos: int = 1) -> None:
    publisher(topic, json.dumps(message, separators=(",", ":")).encode(), qos)
