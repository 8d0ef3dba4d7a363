"""Create a realistic estate through the GridPulse REST API and collect device credentials.

`provision_estate(api_url, email, password, plan)` logs in as an admin
(POST /auth/login) and creates, in this order:

* `plan.hotels` hotels (POST /hotels, each in its own city and IANA time
  zone), each with `plan.floors` sections "Floor n" (POST
  /hotels/{id}/sections) of `plan.rooms` rooms numbered like 101, 102, ...
  (POST /sections/{id}/rooms). A room's `occupancy_status` is what the
  load model says for "now" (guests in or not), so the dashboard and the
  simulated load agree;
* one meter per room (POST /rooms/{room_id}/devices, device_type meter,
  power_rating_w between 3000 and 7000 W, the hotel Wi-Fi that goes to the
  device's shadow);
* `plan.lights` street lights (POST /devices, device_type light, a city and a
  latitude/longitude a few hundred metres around the city centre);
* `plan.households` household meters (POST /devices, device_type meter,
  MQTT like the room meters). The prepaid (Tuya) meters are not the fleet's:
  they live in the Tuya Cloud stand-in and come in through its sync.

Each creation answers with `credentials` (certificate, key, CA, IoT endpoint,
thing name, topics and, where the API provides it, `mqtt_port`); they become
`DeviceSpec`s for the fleet. Nothing is looked up or reused: the local stack
starts empty each run, so every call creates (run it twice against a
persistent stack and you get a second estate). Choices (names, ratings,
places) are deterministic under `plan.seed`.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from infrastructure.simulator.device import DEFAULT_MQTT_PORT, DeviceSpec
from infrastructure.simulator.model import MeterModel

# name, city, time zone, latitude, longitude
SITES = [
    ("Sea View Lisbon", "Lisbon", "Europe/Lisbon", 38.7223, -9.1393),
    ("Kilimani Garden Hotel", "Nairobi", "Africa/Nairobi", -1.2921, 36.8219),
    ("Atlantic Grand", "Cape Town", "Africa/Johannesburg", -33.9249, 18.4241),
    ("Marina Bay Lagos", "Lagos", "Africa/Lagos", 6.4541, 3.3947),
    ("Alfama Suites", "Porto", "Europe/Lisbon", 41.1579, -8.6291),
    ("Nile Corniche Hotel", "Cairo", "Africa/Cairo", 30.0444, 31.2357),
]
STREETS = [
    "Avenida da Liberdade",
    "Rua Augusta",
    "Harbour Road",
    "Station Street",
    "Market Lane",
    "Park Avenue",
    "Riverside Drive",
    "Church Street",
]


class ProvisioningError(RuntimeError):
    pass


class ProvisioningCancelled(ProvisioningError):
    pass


@dataclass(frozen=True)
class EstatePlan:
    hotels: int = 2
    floors: int = 3
    rooms: int = 4  # per floor
    lights: int = 4
    households: int = 1
    seed: int = 0
    mqtt_host: str | None = None  # overrides credentials.iot_endpoint
    mqtt_port: int | None = None  # overrides credentials.mqtt_port (default 8883)
    wifi: bool = True  # give room meters the hotel Wi-Fi (written to their shadow)
    min_rating_w: float = 3000.0
    max_rating_w: float = 7000.0

    def __post_init__(self):
        for name in ("hotels", "floors", "rooms", "lights", "households"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.floors > 99 or self.rooms > 99:
            raise ValueError("at most 99 floors and 99 rooms per floor")

    @property
    def device_count(self) -> int:
        return self.hotels * self.floors * self.rooms + self.lights + self.households


class Api:
    """A small JSON client for the GridPulse API (bearer token, retries on 5xx/429/connection errors)."""

    def __init__(self, base_url: str, timeout_s: float = 30.0, retries: int = 3, cancel: threading.Event | None = None):
        import requests

        self.base = base_url.rstrip("/")
        self.session = requests.Session()
        self.timeout_s, self.retries = timeout_s, retries
        self.cancel = cancel
        self.token: str | None = None

    def call(self, method: str, path: str, body: dict | None = None, expect: tuple[int, ...] = (200, 201)) -> Any:
        import requests

        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        for attempt in range(self.retries + 1):
            if self.cancel is not None and self.cancel.is_set():
                raise ProvisioningCancelled("provisioning cancelled")
            try:
                response = self.session.request(
                    method, self.base + path, json=body, headers=headers, timeout=self.timeout_s
                )
            except requests.ConnectionError as exc:
                if attempt == self.retries:
                    raise ProvisioningError(f"{method} {self.base}{path}: cannot connect ({exc})") from exc
            else:
                if response.status_code in expect:
                    return response.json()
                if response.status_code not in (429, 500, 502, 503, 504) or attempt == self.retries:
                    raise ProvisioningError(f"{method} {path} -> {response.status_code}: {response.text[:500]}")
            time.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    def login(self, email: str, password: str) -> None:
        self.token = self.call("POST", "/auth/login", {"email": email, "password": password})["token"]


def _spec(created: dict, plan: EstatePlan, kind: str, key: str, **extra) -> DeviceSpec:
    creds = created["credentials"]
    return DeviceSpec(
        device_id=created["device_id"],
        name=created.get("name") or created.get("device_name") or key,
        kind=kind,
        device_type=created["device_type"],
        thing_name=creds["thing_name"],
        endpoint=plan.mqtt_host or creds["iot_endpoint"],
        port=int(plan.mqtt_port or creds.get("mqtt_port") or DEFAULT_MQTT_PORT),
        topics=creds.get("topics") or {},
        certificate_pem=creds["certificate_pem"],
        private_key=creds["private_key"],
        ca_pem=creds["ca_pem"],
        key=key,
        api_key=creds.get("api_key"),
        hotel_id=created.get("hotel_id"),
        room_id=created.get("room_id"),
        city=created.get("city"),
        **extra,
    )


def provision_estate(
    api_url: str,
    admin_email: str,
    admin_password: str,
    plan: EstatePlan = EstatePlan(),
    on_progress: Callable[[str], None] | None = None,
    now: datetime | None = None,
    cancel: threading.Event | None = None,
) -> list[DeviceSpec]:
    """Create the estate of `plan`; returns one DeviceSpec per device (room meters, lights, household meters).

    Setting `cancel` makes the next API call raise ProvisioningCancelled (what
    was created so far stays)."""
    say = on_progress or (lambda text: None)
    rng = random.Random(f"{plan.seed}:estate")
    now = now or datetime.now(timezone.utc)
    api = Api(api_url, cancel=cancel)
    api.login(admin_email, admin_password)
    started = time.monotonic()
    say(
        f"[provision] {api_url}: {plan.hotels} hotel(s) x {plan.floors} floor(s) x {plan.rooms} room(s), "
        f"{plan.lights} light(s), {plan.households} household meter(s) = {plan.device_count} devices"
    )
    specs: list[DeviceSpec] = []

    for h in range(plan.hotels):
        name, city, tz, lat, lon = SITES[h % len(SITES)]
        if h >= len(SITES):
            name = f"{name} {h // len(SITES) + 1}"
        hotel = api.call(
            "POST",
            "/hotels",
            {"hotel_name": name, "timezone": tz, "address": f"{rng.randint(1, 200)} {rng.choice(STREETS)}, {city}"},
        )
        for f in range(1, plan.floors + 1):
            section = api.call("POST", f"/hotels/{hotel['hotel_id']}/sections", {"section_name": f"Floor {f}"})
            for r in range(1, plan.rooms + 1):
                number = f"{f}{r:02d}"
                key = f"h{h + 1}/{number}"
                rating = round(rng.uniform(plan.min_rating_w, plan.max_rating_w) / 100) * 100
                occupied = MeterModel(key, rating, tz, seed=plan.seed).occupied(now)
                room = api.call(
                    "POST",
                    f"/sections/{section['section_id']}/rooms",
                    {"room_number": number, "occupancy_status": "occupied" if occupied else "vacant"},
                )
                body: dict[str, Any] = {
                    "device_name": f"{name} {number} meter",
                    "device_type": "meter",
                    "power_rating_w": rating,
                }
                if plan.wifi:
                    body.update(ssid=f"{city.lower().replace(' ', '-')}-guest"[:32], password="gridpulse-wifi-1")
                created = api.call("POST", f"/rooms/{room['room_id']}/devices", body)
                specs.append(
                    _spec(created, plan, "room", key, power_rating_w=rating, timezone=tz, latitude=lat, longitude=lon)
                )
        say(f"[provision] hotel {name} ({city}): {plan.floors * plan.rooms} room meters")

    for i in range(plan.lights):
        _, city, tz, lat, lon = SITES[i % max(plan.hotels, 1) % len(SITES)]
        light_lat = round(lat + rng.uniform(-0.005, 0.005), 6)
        light_lon = round(lon + rng.uniform(-0.005, 0.005), 6)
        rating = rng.choice([60, 90, 120, 150])
        created = api.call(
            "POST",
            "/devices",
            {
                "name": f"{city} street light {i + 1}",
                "device_type": "light",
                "city": city,
                "latitude": light_lat,
                "longitude": light_lon,
                "location": rng.choice(STREETS),
                "power_rating_w": rating,
                "firmware_version": "1.4.2",
                "hardware_version": "esp32-s3 rev1",
            },
        )
        specs.append(
            _spec(
                created,
                plan,
                "light",
                f"light{i + 1}",
                power_rating_w=rating,
                timezone=tz,
                latitude=light_lat,
                longitude=light_lon,
            )
        )

    for i in range(plan.households):
        _, city, tz, lat, lon = SITES[i % len(SITES)]
        rating = round(rng.uniform(5000, 9000) / 100) * 100
        created = api.call(
            "POST",
            "/devices",
            {
                "name": f"{city} household {i + 1} meter",
                "device_type": "meter",
                "city": city,
                "power_rating_w": rating,
                "address": f"{rng.randint(1, 300)} {rng.choice(STREETS)}, {city}",
            },
        )
        specs.append(
            _spec(
                created,
                plan,
                "household",
                f"household{i + 1}",
                power_rating_w=rating,
                timezone=tz,
                latitude=lat,
                longitude=lon,
            )
        )

    say(
        f"[provision] {len(specs)} devices provisioned in {time.monotonic() - started:.1f}s "
        f"(MQTT {specs[0].endpoint}:{specs[0].port})"
        if specs
        else "[provision] nothing to provision"
    )
    return specs
