#!/usr/bin/env python3
"""Turn a POST /devices response into the device's NVS contents.

    python3 firmware/tools/provision.py device.json --ssid hotel-wifi      # asks for the Wi-Fi password
    python3 firmware/tools/provision.py device.json --ssid hotel-wifi --password-file wifi.txt

`device.json` is the body POST /devices (or POST /rooms/{id}/devices, or the
credential rotation) returned: its "credentials" object holds thing_name,
iot_endpoint, mqtt_port, certificate_pem, private_key and ca_pem. The API hands
the key out once and never stores it, so this bundle is its only copy until
the device is flashed: the output directory (default firmware/provisioning/<thing>/,
git-ignored) is created 0700 and every file in it 0600. Delete it after flashing.

The Wi-Fi credentials are the ones given to POST /devices: the API keeps the
password only in the thing's shadow (desired.wifi), which the device can only
read once it is online, so the first network goes into NVS here.

Writes nvs.csv for ESP-IDF's NVS partition generator (namespace "gridpulse",
the keys of firmware/core/include/gp/kv.h) and prints the two commands that
build the image and flash it at the "nvs" partition (0x9000, 0x10000 bytes).
"""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import os
import pathlib
import sys

NAMESPACE = "gridpulse"
NVS_OFFSET = "0x9000"
NVS_SIZE = "0x10000"
HERE = pathlib.Path(__file__).resolve().parent


def credentials_of(body: dict) -> dict:
    creds = body.get("credentials", body)  # the created device, or a rotation response
    needed = ("thing_name", "iot_endpoint", "certificate_pem", "private_key", "ca_pem")
    missing = [k for k in needed if not creds.get(k)]
    if missing:
        raise SystemExit(f"not a POST /devices response: missing {', '.join(missing)}")
    return creds


def nvs_rows(creds: dict, ssid: str, password: str, files: dict[str, pathlib.Path]) -> list[list[str]]:
    if not 1 <= len(ssid.encode()) <= 32 or not 8 <= len(password) <= 63:
        raise SystemExit("Wi-Fi: ssid must be 1..32 bytes and the password 8..63 characters")
    return [
        ["key", "type", "encoding", "value"],
        [NAMESPACE, "namespace", "", ""],
        ["thing", "data", "string", creds["thing_name"]],
        ["endpoint", "data", "string", creds["iot_endpoint"]],
        ["port", "data", "i64", str(int(creds.get("mqtt_port") or 8883))],
        ["cert", "file", "string", str(files["cert"])],
        ["key", "file", "string", str(files["key"])],
        ["ca", "file", "string", str(files["ca"])],
        ["wifi_ssid", "data", "string", ssid],
        ["wifi_pass", "data", "string", password],
    ]


def write_private(path: pathlib.Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def make_bundle(body: dict, ssid: str, password: str, out: pathlib.Path | None = None) -> pathlib.Path:
    creds = credentials_of(body)
    out = out or HERE.parent / "provisioning" / creds["thing_name"]
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(out, 0o700)
    files = {"cert": out / "device.cert.pem", "key": out / "device.private.key", "ca": out / "ca.pem"}
    write_private(files["cert"], creds["certificate_pem"])
    write_private(files["key"], creds["private_key"])
    write_private(files["ca"], creds["ca_pem"])
    fd = os.open(out / "nvs.csv", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", newline="") as f:
        csv.writer(f).writerows(nvs_rows(creds, ssid, password, files))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("response", help="the POST /devices response body (JSON file, - for stdin)")
    parser.add_argument("--ssid", required=True, help="the Wi-Fi network given to POST /devices")
    parser.add_argument("--password-file", help="a file holding the Wi-Fi password (else it is asked for)")
    parser.add_argument("--out", type=pathlib.Path, help="output directory (default firmware/provisioning/<thing>)")
    args = parser.parse_args(argv)
    text = sys.stdin.read() if args.response == "-" else pathlib.Path(args.response).read_text()
    password = (
        pathlib.Path(args.password_file).read_text().strip()
        if args.password_file
        else getpass.getpass("Wi-Fi password: ")
    )
    out = make_bundle(json.loads(text), args.ssid, password, args.out)
    print(f"NVS contents in {out}/nvs.csv (keep it private; delete the directory after flashing). Then:")
    print(f"  python -m esp_idf_nvs_partition_gen generate {out}/nvs.csv {out}/nvs.bin {NVS_SIZE}")
    print(f"  esptool.py --chip esp32 write_flash {NVS_OFFSET} {out}/nvs.bin")
    return 0


if __name__ == "__main__":
    sys.exit(main())
