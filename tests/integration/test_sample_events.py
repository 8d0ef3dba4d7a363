"""The sample events of events/ (what `sam local invoke -e` takes) drive the
handlers: every function of template.yaml has one, and each one, handed to its
function in-process against moto, gets an answer a caller could act on."""

from __future__ import annotations

import json
import pathlib
import socket

import pytest

from infrastructure.cfn import ROOT, Stack, load
from infrastructure.events import EVENTS, main

ADMIN = ("admin@gridpulse.example.com", "gridpulse-admin-123")  # the login sample's credentials


def _folder(function: dict) -> str:
    return pathlib.PurePosixPath(function["Properties"]["CodeUri"]).name


def _kind(event: dict) -> str:
    if "httpMethod" in event:
        return "api"
    if "Records" in event:
        return "sqs"
    if event.get("detail-type") == "Scheduled Event":
        return "schedule"
    return "iot"


def test_every_function_has_a_sample_event_and_every_sample_a_function():
    folders = {_folder(f): logical for logical, f in Stack(load()).functions().items()}
    samples = {path.parent.name for path in EVENTS.glob("*/*.json")}
    assert set(folders) - samples == set(), "functions without a sample event (python -m infrastructure.events --write)"
    assert samples - set(folders) == set(), "sample events of no function"


def test_the_committed_events_are_what_the_generator_writes():
    assert main([]) == 0


def test_scheduled_functions_have_a_scheduled_sample():
    for logical, function in Stack(load()).functions().items():
        events = (function["Properties"].get("Events") or {}).values()
        if any(e["Type"] == "Schedule" for e in events):
            sample = json.loads((EVENTS / _folder(function) / "scheduled.json").read_text())
            assert _kind(sample) == "schedule", logical


@pytest.fixture
def tuya_stand_in(aws):
    """The Tuya Cloud stand-in (billing sync talks to Tuya), as the local stack runs it."""
    from gridpulse.billing import service
    from gridpulse.billing.tuya.client import TuyaClient
    from gridpulse.billing.tuya.tokens import MemoryTokenStore
    from infrastructure.local import tuya

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    access_id, access_secret = tuya.new_credentials()
    server = tuya.start(sock, tuya.TuyaStandIn(access_id, access_secret, meters=2))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    client = TuyaClient(url, access_id, access_secret, MemoryTokenStore(), timeout=2.0, backoff_s=0.01)
    service.use_tuya(lambda: client)
    yield
    service.use_tuya(None)
    server.shutdown()
    sock.close()


def test_every_sample_event_gets_a_sensible_answer_from_its_handler(api, aws, tuya_stand_in):
    """API samples: not a 5xx (the signed-in ones as an admin); SQS batches: a batch
    response; scheduled and IoT rule events: no exception."""
    from gridpulse.accounts.users import ensure_admin
    from infrastructure.local.gateway import load_functions

    ensure_admin(*ADMIN)
    token = api.login(*ADMIN)
    functions = load_functions(aws)
    by_folder = {_folder(f): logical for logical, f in aws.functions().items()}
    answers, problems = {}, []
    for path in sorted(EVENTS.glob("*/*.json")):
        name = str(path.relative_to(ROOT))
        event = json.loads(path.read_text().replace("<token>", token))
        logical = by_folder[path.parent.name]
        try:
            result = functions[logical].invoke(event, aws.region, aws.account)
        except Exception as exc:  # noqa: BLE001 - reported below with the file's name
            problems.append(f"{name}: {logical} raised {type(exc).__name__}: {exc}")
            continue
        kind = _kind(event)
        if kind == "api":
            answers[name] = result["statusCode"]
            if result["statusCode"] >= 500:
                problems.append(f"{name}: {result['statusCode']} {result.get('body')}")
        elif kind == "sqs" and result is not None:
            if not isinstance(result, dict) or not isinstance(result.get("batchItemFailures"), list):
                problems.append(f"{name}: not a batch response: {result!r}")
            else:
                answers[name] = len(result["batchItemFailures"])
    assert problems == []
    # What a user of the samples sees: the admin signs in, the health check is up, the
    # admin's lists answer, a device's unknown key is refused, reset requests are handled.
    assert answers["events/auth/login.json"] == 200
    assert answers["events/health/health.json"] == 200
    assert answers["events/users/list-users.json"] == 200
    assert answers["events/sites/create-hotel.json"] == 201
    assert answers["events/device_api/device-config.json"] == 401
    assert answers["events/password_reset/reset-request.json"] == 0
    assert answers["events/ingest/telemetry-batch.json"] == 0
