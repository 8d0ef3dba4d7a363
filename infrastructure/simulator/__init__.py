"""A simulated GridPulse fleet: hotel room meters, street lights and household meters
that behave like the ESP32 devices, over real MQTT (AWS IoT Device SDK v2). The
lights follow commands on gridpulse/{thing}/commands (on, off, auto, brightness)
and report a changed status at once, as the light firmware does.

    python -m infrastructure.simulator --api http://127.0.0.1:3000 \\
        --admin-email admin@gridpulse.example.com --admin-password gridpulse-admin-123 --speed 60

or, from code (the local stack does this in a background thread):

    fleet = start_fleet(api_url, admin_email, admin_password, speed=60, log=print)
    fleet.stats(); fleet.stop()

Modules: `provision` (the estate through the REST API), `model` (load curves,
faults, simulated clock; pure), `device` (batching, store-and-forward, one MQTT
connection), `fleet` (many devices, progress, start_fleet), `__main__` (CLI).
The same code talks to AWS IoT Core: the endpoint and port come from the API's
device credentials (`iot_endpoint`, `mqtt_port`, else 8883; 443 uses ALPN).
"""

from infrastructure.simulator.fleet import ALL_FAULTS, Fleet, FleetStats, history_tiers, start_fleet

__all__ = ["ALL_FAULTS", "Fleet", "FleetStats", "history_tiers", "start_fleet"]
