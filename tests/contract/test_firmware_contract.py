"""The telemetry contract between the ESP32 firmware and the cloud.

contracts/ holds example payloads (contracts/README.md). Here the cloud's own
code judges them: every valid telemetry example is accepted reading by reading
by `gridpulse.telemetry.readings` (received at the time of its newest reading),
every invalid one is refused with the reason its file name starts with, and the
light status examples go through iot_rules/light_status.sql into the device
events handler. Then the firmware's encoder is built and run on the host
(`make -C firmware emit`, outputs cached in firmware/build/): what it publishes
must pass the same checks and be the valid examples, so neither side can drift.
A missing compiler or cmake fails the test; nothing is skipped.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
from datetime import datetime, timezone

import pytest

from gridpulse.telemetry.readings import MAX_BATCH, Rejection, split_message, validate

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
FIRMWARE = ROOT / "firmware"
TELEMETRY = sorted((CONTRACTS / "telemetry").glob("*.json"))
TELEMETRY_INVALID = sorted((CONTRACTS / "telemetry" / "invalid").glob("*.json"))
STATUS = sorted((CONTRACTS / "status").glob("*.json"))
STATUS_INVALID = sorted((CONTRACTS / "status" / "invalid").glob("*.json"))
# "Now" for the invalid examples (contracts/README.md): a few minutes after their readings.
INVALID_RECEIVED_MS = int(datetime(2026, 11, 22, 10, 5, tzinfo=timezone.utc).timestamp() * 1000)
MESSAGE_BYTES = 5 * 1024  # the firmware's cap: IoT Core meters messages in 5 KB steps


def _ms(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


def _name(path: pathlib.Path) -> str:
    return str(path.relative_to(CONTRACTS))


def assert_accepted_telemetry(payload, raw: bytes | None = None) -> list:
    """Every reading accepted, received at the time of the newest one; plus what the firmware promises."""
    readings, refused = split_message(payload)
    assert refused is None, refused.view()
    received_ms = max(_ms(r["timestamp"]) for r in readings)
    results = [validate(raw_reading, i, received_ms) for i, raw_reading in enumerate(readings)]
    rejected = [r.view() for r in results if isinstance(r, Rejection)]
    assert not rejected, rejected
    # The firmware always stamps and numbers its readings, in order, and stays under the size caps.
    assert all("timestamp" in r and "seq" in r for r in readings)
    seqs = [r["seq"] for r in readings]
    assert seqs == sorted(set(seqs)), seqs
    assert len(readings) <= MAX_BATCH
    if raw is not None:
        assert len(raw.rstrip(b"\n")) <= MESSAGE_BYTES
    return results


def refusal_reasons(payload, received_ms: int) -> list[str]:
    readings, refused = split_message(payload)
    if refused is not None:
        return [refused.reason]
    return [
        r.reason for r in (validate(raw, i, received_ms) for i, raw in enumerate(readings)) if isinstance(r, Rejection)
    ]


# ---------------------------------------------------------------- the examples


def test_the_contract_has_the_examples_it_promises():
    names = {p.name for p in TELEMETRY}
    assert {"single_reading.json", "batch.json", "backlog_batch.json"} <= names
    assert {"light_on.json", "light_off.json", "light_error_bulb_failed.json"} <= {p.name for p in STATUS}
    assert len(TELEMETRY_INVALID) >= 5 and STATUS_INVALID


@pytest.mark.parametrize("path", TELEMETRY, ids=_name)
def test_valid_telemetry_examples_are_accepted(path):
    raw = path.read_bytes()
    payload = json.loads(raw)
    results = assert_accepted_telemetry(payload, raw)
    assert all(r.identity.startswith("t") for r in results)  # deduplicated on the device's timestamp


def test_the_single_reading_example_is_one_bare_reading_and_the_batches_are_batches():
    single = json.loads((CONTRACTS / "telemetry" / "single_reading.json").read_text())
    assert "readings" not in single
    batch = json.loads((CONTRACTS / "telemetry" / "batch.json").read_text())
    backlog = json.loads((CONTRACTS / "telemetry" / "backlog_batch.json").read_text())
    assert len(batch["readings"]) == 10
    assert len(backlog["readings"]) > len(batch["readings"])
    # The backlog carries the oldest stored readings, 30 s apart, continuing the sequence.
    stamps = [_ms(r["timestamp"]) for r in backlog["readings"]]
    assert all(b - a == 30_000 for a, b in zip(stamps, stamps[1:]))
    assert backlog["readings"][0]["seq"] > batch["readings"][-1]["seq"]


@pytest.mark.parametrize("path", TELEMETRY_INVALID, ids=_name)
def test_invalid_telemetry_examples_are_refused_with_their_reason(path):
    expected = path.stem.split("--")[0]
    payload = json.loads(path.read_text())
    reasons = refusal_reasons(payload, INVALID_RECEIVED_MS)
    assert reasons, f"{path.name} was accepted"
    assert reasons[0] == expected, reasons


def _light_status_events(api, admin_token, paths):
    """Each status payload as the IoT rule turns it into a device event for a registered light."""
    from infrastructure.local.iot.sql import parse

    rule = parse((ROOT / "iot_rules" / "light_status.sql").read_text())
    light = api.create("/devices", {"name": "Pole 7", "device_type": "light"}, admin_token)
    thing = light["credentials"]["thing_name"]
    for path in paths:
        event = rule.apply(f"gridpulse/{thing}/status", path.read_bytes(), thing, now_ms=INVALID_RECEIVED_MS)
        assert event is not None, path.name
        yield path, light["device_id"], event


def test_light_status_examples_go_through_the_rule_into_the_device_state(api, admin_token):
    from gridpulse.devices.data import DeviceItem, DeviceStateItem
    from gridpulse.devices.presence import LIGHT_STATUSES, handle_device_event

    for path, device_id, event in _light_status_events(api, admin_token, STATUS):
        payload = json.loads(path.read_text())
        assert set(payload) <= {"status", "error_details", "command_id"}, path.name
        assert payload["status"] in LIGHT_STATUSES, path.name
        # Each example answers a command (the firmware reports the command_id of the
        # last command it applied): the light's pending command is that one.
        assert isinstance(payload.get("command_id"), str), path.name
        expect = "on" if path.name == "light_on.json" else "off" if path.name == "light_off.json" else "on"
        DeviceStateItem(DeviceItem.key(device_id), "state").update(
            actions=[
                DeviceStateItem.cmd_id.set(payload["command_id"]),
                DeviceStateItem.cmd_state.set("pending"),
                DeviceStateItem.cmd_expect.set(expect),
                DeviceStateItem.cmd_issued_ms.set(INVALID_RECEIVED_MS - 1000),
            ]
        )
        out = handle_device_event(event)
        assert out == {"applied": True, "device_id": device_id, "status": payload["status"]}, path.name
        state = DeviceStateItem.get(DeviceItem.key(device_id), "state", consistent_read=True)
        assert state.light_status == payload["status"]
        assert state.light_error == payload.get("error_details")
        # Only a report carrying the command's id settles it: confirmed, or failed for a bulb failure.
        assert state.cmd_state == ("failed" if payload["status"] == "error" else "confirmed"), path.name
    error = json.loads((CONTRACTS / "status" / "light_error_bulb_failed.json").read_text())
    assert {k: error[k] for k in ("status", "error_details")} == {"status": "error", "error_details": "Bulb failed"}


def test_invalid_light_status_examples_are_refused(api, admin_token):
    from gridpulse.devices.presence import handle_device_event

    for path, _device_id, event in _light_status_events(api, admin_token, STATUS_INVALID):
        assert path.stem.split("--")[0] == "unknown_status"
        assert handle_device_event(event) == {"applied": False, "reason": "status must be on, off or error"}, path.name


# ---------------------------------------------------------------- the firmware's own output


@pytest.fixture(scope="module")
def emitted() -> list[dict]:
    """Builds tools/emit_payloads with the firmware's Makefile (cmake, into firmware/build/) and runs it."""
    try:
        run = subprocess.run(
            ["make", "-C", str(FIRMWARE), "--no-print-directory", "emit"], capture_output=True, text=True, timeout=600
        )
    except FileNotFoundError as exc:  # no make: a broken toolchain is a failure, not a skip
        pytest.fail(f"cannot build the firmware emitter: {exc}")
    assert run.returncode == 0, f"make -C firmware emit failed:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    lines = (FIRMWARE / "build" / "payloads.jsonl").read_text().splitlines()
    assert lines, "the emitter printed nothing"
    return [json.loads(line) for line in lines]


def test_the_firmware_encoder_output_is_accepted_by_the_cloud(emitted):
    from gridpulse.devices.presence import LIGHT_STATUSES

    for case in emitted:
        payload = case["payload"]
        if case["topic"] == "telemetry":
            assert_accepted_telemetry(payload, json.dumps(payload, separators=(",", ":")).encode())
        else:
            assert case["topic"] == "status", case
            assert set(payload) <= {"status", "error_details", "command_id"}, case
            assert payload["status"] in LIGHT_STATUSES, case


def test_the_firmware_produces_exactly_the_valid_examples(emitted):
    by_file = {case["file"]: case["payload"] for case in emitted}
    on_disk = {_name(p) for p in TELEMETRY + STATUS}
    assert set(by_file) == on_disk, "every valid example comes from the firmware, and nothing else"
    for file, payload in by_file.items():
        assert json.loads((CONTRACTS / file).read_text()) == payload, file


def test_firmware_build_outputs_are_not_committed():
    out = subprocess.run(["git", "check-ignore", "-q", "firmware/build/payloads.jsonl"], cwd=ROOT)
    assert out.returncode == 0, "firmware/build/ must be git-ignored (firmware/.gitignore)"
