"""firmware/tools/provision.py turns the API's credentials into the NVS keys the firmware reads.

The response is built from the API's own `Credentials` schema, and the NVS keys
are compared with the ones the firmware declares (firmware/core/include/gp/kv.h),
so a renamed field on either side fails here.
"""

from __future__ import annotations

import csv
import importlib.util
import pathlib
import re
import stat

from gridpulse.devices.provisioning import topics_for
from gridpulse.devices.registry_schemas import Credentials

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location("provision", ROOT / "firmware" / "tools" / "provision.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _firmware_keys() -> dict[str, str]:
    text = (ROOT / "firmware" / "core" / "include" / "gp" / "kv.h").read_text()
    return dict(re.findall(r'constexpr const char\* (k\w+) = "([^"]+)";', text))


def test_a_post_devices_response_becomes_the_nvs_keys_the_firmware_reads(tmp_path):
    thing = "gp-3f6c1a52-9d1e-4c1b-8a8e-0c2b7d9e4f10"
    creds = Credentials(
        api_key="gpk_x",
        certificate_id="c" * 64,
        certificate_pem="-----BEGIN CERTIFICATE-----\nA\n",
        private_key="-----BEGIN RSA PRIVATE KEY-----\nSECRET\n",
        ca_pem="-----BEGIN CERTIFICATE-----\nCA\n",
        iot_endpoint="abc-ats.iot.eu-west-1.amazonaws.com",
        mqtt_port=8883,
        thing_name=thing,
        topics=topics_for(thing),
    )
    body = {"device_id": thing[3:], "credentials": creds.model_dump()}
    out = _tool().make_bundle(body, "hotel, wifi", "wifi-pass-1", tmp_path / "bundle")

    rows = list(csv.reader((out / "nvs.csv").open()))
    assert rows[0] == ["key", "type", "encoding", "value"] and rows[1][:2] == ["gridpulse", "namespace"]
    values = {r[0]: r for r in rows[2:]}
    keys = _firmware_keys()
    for name in ("kThingName", "kEndpoint", "kPort", "kCertPem", "kKeyPem", "kCaPem", "kWifiSsid", "kWifiPass"):
        assert keys[name] in values, name
    assert all(len(k) <= 15 for k in values)  # an NVS limit
    assert values[keys["kThingName"]][3] == thing
    assert values[keys["kPort"]][2:] == ["i64", "8883"]  # Preferences::getLong64 reads an i64
    assert values[keys["kWifiSsid"]][3] == "hotel, wifi"
    key_file = pathlib.Path(values[keys["kKeyPem"]][3])
    assert key_file.read_text() == creds.private_key
    assert "SECRET" not in (out / "nvs.csv").read_text()  # the key is referenced, not copied around
    for path in [out / "nvs.csv", key_file]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
