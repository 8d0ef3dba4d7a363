"""Device-facing endpoints: a device speaking HTTP, authenticated by its X-API-Key."""

from __future__ import annotations

from gridpulse.alerts import service as alerts
from gridpulse.api import API_KEY, create_app, current_device, lambda_handler
from gridpulse.devices import service as devices
from gridpulse.devices.device_api_schemas import ConfigIn, ConfigOut, DeviceCredentialsOut, HeartbeatIn, HeartbeatOut
from gridpulse.devices.provisioning import topics_for
from gridpulse.devices.schemas import DeviceOut

app = create_app()


def _device():
    return current_device(app)


@app.get("/device/status", tags=["device"], summary="The calling device", security=API_KEY)
def status() -> DeviceOut:
    device = _device()
    return devices.device_view(device, devices.state_of(device))


@app.post("/device/heartbeat", tags=["device"], summary="I am alive: updates last_seen", security=API_KEY)
def heartbeat(body: HeartbeatIn | None = None) -> HeartbeatOut:
    device = _device()
    beat = devices.heartbeat(device, body.firmware_version if body else None)
    alerts.touch(device)
    return beat


@app.get("/device/config", tags=["device"], summary="The configuration the device last reported", security=API_KEY)
def get_config() -> ConfigOut:
    device = _device()
    state = devices.state_of(device)
    reported = state.reported_config.as_dict() if state and state.reported_config else None
    return {"device_id": device.device_id, "reported_config": reported}


@app.put("/device/config", tags=["device"], summary="Report the device's configuration", security=API_KEY)
def put_config(body: ConfigIn) -> ConfigOut:
    device = _device()
    return devices.report_config(device, body.config)


@app.get("/device/credentials", tags=["device"], summary="Who am I: ids and topics (no secrets)", security=API_KEY)
def credentials() -> DeviceCredentialsOut:
    device = _device()
    return {
        "device_id": device.device_id,
        "name": device.name,
        "thing_name": device.thing_name,
        "topics": topics_for(device.thing_name),
    }


handler = lambda_handler(app, group="device_api")
