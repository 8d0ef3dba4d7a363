"""`make run`: the whole GridPulse stack on one laptop, no AWS account, no Docker.

* moto in server mode is the AWS endpoint; the tables, secrets and mail
  identity are created from template.yaml;
* an API Gateway stand-in on 127.0.0.1:3000 (GRIDPULSE_API_PORT) routes every
  Api event of template.yaml to the same handler code Lambda runs;
* an MQTT broker on 127.0.0.1:8883 (GRIDPULSE_MQTT_PORT) with mutual TLS,
  its own CA and the IoT policy of template.yaml, and the IoT rules of the
  template routing messages to the same handlers, and the Device Shadow
  service on the broker's shadow topics and moto's iot-data shadow API, one
  store for both (infrastructure/local/iot/);
* an admin is seeded from GRIDPULSE_ADMIN_EMAIL / GRIDPULSE_ADMIN_PASSWORD;
* a simulated fleet (infrastructure/simulator) registers hotels, rooms,
  meters, street lights and a household meter through the API and publishes over
  MQTT with the AWS IoT Device SDK: GRIDPULSE_FLEET=2x3x4 (hotels x floors x
  rooms, the default) or 0 for none. It runs in real time from the start and
  each device uploads the last GRIDPULSE_FLEET_HISTORY_DAYS (21) as a backlog
  (hourly; days beyond 21 every 6 hours; newest first), its live
  readings first, so live figures have data within a minute and charts and
  forecasts soon after; GRIDPULSE_FLEET_SPEED > 1 (a soak test) replays the
  last day that many times faster until it catches up;
* a Tuya Cloud stand-in (infrastructure/local/tuya) on 127.0.0.1:3100
  (GRIDPULSE_TUYA_PORT) with GRIDPULSE_TUYA_METERS (3) prepaid meters whether
  or not the fleet runs; its credentials go into TuyaCredentialsSecret and
  TUYA_ENDPOINT points at it. Its meters are imported at startup (a run of the
  scheduled BillingSyncFunction), so an admin sees them in
  GET /devices?device_type=prepaid_meter.

Every port is bound before anything starts (infrastructure/local/ports.py):
a port that is taken ends the run at once, exit status 1, with a message
naming the variable to change. Runs in the foreground; Ctrl-C or SIGTERM stops
it: the fleet disconnects, work under way gets a second to finish, what
is still queued in memory is dropped (state lives in memory and starts fresh
each time), and the process exits within seconds (a watchdog ends it if a
part does not stop; a second Ctrl-C ends it at once).
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import shutil
import signal
import sys
import tempfile
import threading
import time

from infrastructure.local.ports import bind_all

DEFAULT_ADMIN_EMAIL = "admin@gridpulse.example.com"
DEFAULT_ADMIN_PASSWORD = "gridpulse-admin-123"
DEFAULT_FLEET = "2x3x4"  # hotels x floors x rooms
DEFAULT_HISTORY_DAYS = 21.0  # the fleet's backfill (GRIDPULSE_FLEET_HISTORY_DAYS): 21 days hourly, older days 6-hourly
STOP_GRACE_S = 12.0  # after a stop signal, the process exits within this, stopped cleanly or not


FLEET_HISTORY_GAP_S = 3.0  # a device's history messages this far apart: the newest history of every device first
FORECAST_MIN_HOURS = 48  # the forecast worker skips a meter with less history (gridpulse.forecasts.service)
FLEET_HISTORY_FIRST = FORECAST_MIN_HOURS + 4  # each device's first history message: its newest 52 hours ...
FLEET_HISTORY_HOLD_S = 60.0  # ... stored for every device before the rest goes out (at most this long;
# GRIDPULSE_FLEET_HISTORY_HOLD_S, 0: no hold and no short first message, bench --only firstminute's baseline)
FLEET_HISTORY_DELAY_S = 3.0  # history starts this long after a device connects (its first live reading goes first)
FORECAST_QUICK = {"baseline_only": True, "only_missing": True}  # gridpulse.forecasts.schedule: a quick run
FORECAST_QUICK_EVERY_S = 5.0  # quick runs this often while a meter has no forecast
FORECAST_QUICK_FOR_S = 300.0  # ... for at most this long
FORECAST_FULL_WAIT_S = 900.0  # the full run once the history is stored, or after this long anyway


def _release_history(fleet, events, release: threading.Event, hold_s: float) -> threading.Thread:
    """Let the fleet's older history go once every device's first history
    message (its newest FLEET_HISTORY_FIRST hours) is sent and stored
    (TelemetryQueue drained), or after `hold_s`: so every meter
    has the 48 hours a forecast needs within the first minute, before the
    weeks of older history compete for the same ingestion."""

    def first_sent() -> bool:
        return all(d.snapshot().history_sent > 0 for d in fleet.devices if d.history)

    def watch() -> None:
        deadline = time.monotonic() + hold_s
        while time.monotonic() < deadline and not (first_sent() and events.pending("TelemetryQueue") == 0):
            time.sleep(0.5)
        release.set()

    thread = threading.Thread(target=watch, name="fleet-history-release", daemon=True)
    thread.start()
    return thread


def _forecasts_soon(scheduler, fleet, events) -> threading.Thread:
    """The fleet's first forecasts within a minute, not at the schedule's first
    tick (6 hours). From when a meter has sent its newest 48 hours of history
    (the backlog goes newest first, FLEET_HISTORY_FIRST hours in the first
    message, stored for every device before the rest: _release_history), ForecastScheduleFunction
    runs every FORECAST_QUICK_EVERY_S as a quick run (seasonal-naive, only the
    meters without a forecast: milliseconds a meter) until a run finds every
    meter forecast; a meter whose 48 hours are not stored yet is skipped and
    tried at the next run. Once the fleet's whole backlog is sent and stored
    (TelemetryQueue drained), one full run lets the model replace the baseline
    where it backtests better; then the template's rate goes on as deployed."""
    meters = [d for d in fleet.devices if d.spec.device_type == "meter"]
    logical = "ForecastScheduleFunction"

    def sent(hours: int) -> bool:
        return any(d.snapshot().history_sent >= hours for d in meters)

    def stored() -> bool:
        return all(d.backlog() == 0 for d in fleet.devices) and events.pending("TelemetryQueue") == 0

    def early() -> None:
        while not sent(FORECAST_MIN_HOURS):
            if scheduler.wait(0.5):
                return
        quick_until = time.monotonic() + FORECAST_QUICK_FOR_S
        while time.monotonic() < quick_until:
            result = scheduler.run_logged(logical, FORECAST_QUICK)
            if result is not None and result.get("queued") == 0:
                break
            if scheduler.wait(FORECAST_QUICK_EVERY_S):
                return
        full_at = time.monotonic() + FORECAST_FULL_WAIT_S
        while time.monotonic() < full_at and not stored():
            if scheduler.wait(2.0):
                return
        scheduler.run_logged(logical)

    thread = threading.Thread(target=early, name="forecasts-early", daemon=True)
    thread.start()
    return thread


def _fleet_size(spec: str) -> tuple[int, int, int]:
    try:
        hotels, floors, rooms = (int(n) for n in spec.lower().split("x"))
        return hotels, floors, rooms
    except ValueError:
        raise SystemExit(f"GRIDPULSE_FLEET must be 0 or HOTELSxFLOORSxROOMS like 2x3x4, not {spec!r}") from None


def _number(variable: str, default: float, low: float, high: float) -> float:
    raw = os.environ.get(variable, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise SystemExit(f"{variable} must be a number from {low:g} to {high:g}, not {raw!r}")
    return value


def _flag(variable: str) -> bool:
    raw = os.environ.get(variable, "").strip().lower()
    if raw in ("", "0", "false", "off", "no"):
        return False
    if raw in ("1", "true", "on", "yes"):
        return True
    raise SystemExit(f"{variable} must be 1 or 0 (on or off), not {raw!r}")


def _event_concurrency() -> int:
    raw = os.environ.get("GRIDPULSE_EVENT_CONCURRENCY", "4")
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= 64:
        raise SystemExit(f"GRIDPULSE_EVENT_CONCURRENCY must be a whole number from 1 to 64, not {raw!r}")
    return value


def _say(text: str) -> None:
    print(text, flush=True)


def configure_environment(api_port: int, aws_port: int) -> None:
    """Point every AWS SDK call of this process at the local moto server."""
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{aws_port}"
    os.environ["AWS_ACCESS_KEY_ID"] = "local"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "local"
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    os.environ.setdefault("AWS_REGION", "us-east-1")
    os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"]
    os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    os.environ["POWERTOOLS_DEV"] = os.environ.get("POWERTOOLS_DEV", "false")


class _Stop:
    """Ctrl-C and SIGTERM: the first asks the stack to stop (and arms a
    watchdog that ends the process STOP_GRACE_S later whatever still runs);
    a second one ends the process at once."""

    def __init__(self):
        self.requested = threading.Event()

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        if self.requested.is_set():
            _say("Stopped (forced).")
            os._exit(128 + signum)
        self.requested.set()
        watchdog = threading.Timer(STOP_GRACE_S, self._overdue, args=(signum,))
        watchdog.daemon = True
        watchdog.start()

    @staticmethod
    def _overdue(signum: int) -> None:
        _say(f"Stopped (a part did not stop within {STOP_GRACE_S:g} s).")
        os._exit(128 + signum)


def main() -> int:
    # Every listening socket first: a port that is taken ends the run here, naming its variable.
    sockets = bind_all()
    ports = {key: sock.getsockname()[1] for key, sock in sockets.items()}
    stop = _Stop()
    stop.install()
    admin_email = os.environ.get("GRIDPULSE_ADMIN_EMAIL") or DEFAULT_ADMIN_EMAIL
    admin_password = os.environ.get("GRIDPULSE_ADMIN_PASSWORD") or DEFAULT_ADMIN_PASSWORD
    configure_environment(ports["api"], ports["aws"])
    try:
        return _run(sockets, ports, stop, admin_email, admin_password)
    finally:
        for sock in sockets.values():
            sock.close()


def _run(sockets: dict, ports: dict, stop: _Stop, admin_email: str, admin_password: str) -> int:
    api_port, mqtt_port, aws_port = ports["api"], ports["mqtt"], ports["aws"]

    # Imported after the environment is set: models read table names at import.
    import boto3
    from werkzeug.serving import make_server

    from infrastructure.cfn import Stack, load
    from infrastructure.local.gateway import Gateway, load_functions
    from infrastructure.local.outbox import sent_emails
    from infrastructure.local.rate_limit import ENV_VARIABLE, RateLimiter
    from infrastructure.local.resources import create_all, function_environment

    # moto's server logs every SDK call; the gateway prints its own access log.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _say(f"GridPulse local stack: AWS endpoint (moto) on 127.0.0.1:{aws_port} ...")
    from infrastructure.local.housekeeping import Housekeeper, untrack_moto_models

    untrack_moto_models()  # moto would keep every object it ever made: memory grew without bound
    from infrastructure.local import moto_server
    from infrastructure.local.iot.shadow import ShadowService

    shadows = ShadowService()  # one shadow store: moto's iot-data API and the MQTT broker
    moto_server.scale_sqs_delays(_number("GRIDPULSE_SQS_DELAY_SCALE", 1.0, 0.0, 1.0))
    moto = moto_server.start(sockets["aws"], shadows=shadows)

    stack = Stack(
        load(),
        region=os.environ["AWS_REGION"],
        parameters={
            "PublicUrl": f"http://127.0.0.1:{api_port}",
            "WebOrigin": f"http://127.0.0.1:{api_port}",  # the gateway serves the dashboard at / too
            "TuyaEndpoint": f"http://127.0.0.1:{ports['tuya']}",
        },
    )
    create_all(stack, boto3.session.Session())
    # The Tuya Cloud stand-in, its credentials in the template's TuyaCredentialsSecret (TUYA_SECRET_ARN).
    from infrastructure.local import tuya

    access_id, access_secret = tuya.new_credentials()
    tuya_cloud = tuya.TuyaStandIn(
        access_id,
        access_secret,
        meters=int(_number("GRIDPULSE_TUYA_METERS", 3, 0, 100_000)),
        token_ttl_s=int(_number("GRIDPULSE_TUYA_TOKEN_TTL_S", 7200, 5, 86400)),
    )
    boto3.session.Session().client("secretsmanager").put_secret_value(
        SecretId=stack.physical["TuyaCredentialsSecret"],
        SecretString=json.dumps({"access_id": access_id, "access_secret": access_secret}),
    )
    tuya_server = tuya.start(sockets["tuya"], tuya_cloud)
    os.environ.update(function_environment(stack))
    # TTL expiry; the outbox and moto's queue bookkeeping trimmed.
    housekeeper = Housekeeper(
        stack, boto3.session.Session(), every_s=_number("GRIDPULSE_TTL_SWEEP_S", 60, 1, 86400), log=_say
    )
    housekeeper.start()
    os.environ["POWERTOOLS_LOG_LEVEL"] = os.environ.get("GRIDPULSE_LOG_LEVEL", "WARNING")
    data = [
        k
        for k, v in stack.template["Resources"].items()
        if v["Type"]
        in (
            "AWS::DynamoDB::Table",
            "AWS::SQS::Queue",
            "AWS::SecretsManager::Secret",
            "AWS::SES::EmailIdentity",
            "AWS::IoT::Policy",
        )
    ]
    _say(f"  created from template.yaml: {', '.join(sorted(data))}")

    from gridpulse.accounts.users import ensure_admin

    _, created = ensure_admin(admin_email, admin_password)
    from infrastructure.local.iot.core import LocalIoT

    functions = load_functions(stack)
    # The functions' EMF metrics and errors, for GET /_local/metrics and the health line.
    from gridpulse import observability
    from infrastructure.local.metrics import LocalMetrics, dead_letter_count

    local_metrics = LocalMetrics()
    observability.metric_sink = local_metrics.record
    for function in functions.values():
        function.on_error = local_metrics.function_error
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="gridpulse-local-"))
    from infrastructure.local.event_sources import EventSources

    # SQS event source mappings and asynchronous invocations: the IoT rules' and the SDK's queues.
    events = EventSources(stack, functions, default_concurrency=_event_concurrency(), log=_say)
    events.attach_sdk_queues(boto3.session.Session())
    iot = LocalIoT(
        stack,
        functions,
        workdir / "ca",
        mqtt_port,
        boto3.session.Session(),
        log=None if os.environ.get("GRIDPULSE_QUIET") else _say,
        sock=sockets["mqtt"],
        events=events,
        shadows=shadows,
    )
    iot.start()
    from infrastructure.local.scheduler import Scheduler

    scheduler = Scheduler(
        stack, functions, log=None if os.environ.get("GRIDPULSE_QUIET") else _say, on_failure=events.invocation_failed
    )
    scheduler.start()
    gateway = Gateway(
        stack,
        functions,
        stage=stack.parameters.get("Stage", "dev"),
        outbox=lambda: sent_emails(stack.account, stack.region),
        log=None if os.environ.get("GRIDPULSE_QUIET") else _say,
        run_schedule=scheduler.run,
        tuya=tuya_cloud,
        rate_limiter=RateLimiter.from_template(stack) if _flag(ENV_VARIABLE) else None,
        tile_url=os.environ.get("GRIDPULSE_TILE_URL", ""),
        invoke_async=events.invoke_async,
        metrics=local_metrics,
    )
    server = make_server("127.0.0.1", api_port, gateway, threaded=True, fd=sockets["api"].fileno())
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="api-server", daemon=True).start()

    base = f"http://127.0.0.1:{api_port}"
    # Import the stand-in's prepaid meters now, as the 15-minute sync would (BillingSyncFunction
    # queues them; BillingSyncWorkerFunction registers them within a second or two).
    try:
        synced = scheduler.run("BillingSyncFunction")
        tuya_import = f"{synced.get('total', 0)} prepaid meters queued for import"
    except Exception as exc:  # the stack stays up; the next scheduled sync tries again
        tuya_import = f"meters not imported yet: {type(exc).__name__}: {exc}"
    _say("")
    _say(f"  API        {base}   ({len(stack.api_routes())} routes from template.yaml)")
    _say(f"  Dashboard  {base}/   (web/dist; sign in as the admin below)")
    _say(f"  API docs   {base}/docs")
    _say(f"  MQTT       mqtts://127.0.0.1:{iot.broker.port}   (mutual TLS; CA {iot.ca.cert_path})")
    _say(f"  Outbox     {base}/_local/outbox   (emails sent through SES)")
    _say(f"  Metrics    {base}/_local/metrics   (the functions' CloudWatch metrics; a health line every minute)")
    _say(
        f"  Tuya Cloud http://127.0.0.1:{ports['tuya']}   (stand-in, {len(tuya_cloud.meters)} prepaid meters; "
        f"faults: POST {base}/_local/tuya/faults; {tuya_import})"
    )
    _say(
        f"  Admin      {admin_email} / "
        f"{admin_password if admin_password == DEFAULT_ADMIN_PASSWORD else '(from GRIDPULSE_ADMIN_PASSWORD)'}"
        f"{'' if created else ' (existing)'}"
    )
    _say(
        f"  Try:       curl -s {base}/auth/login -H 'Content-Type: application/json' "
        f'-d \'{{"email":"{admin_email}","password":"..."}}\''
    )
    _say("  Ready. Ctrl-C stops.")
    _say("")

    fleet_box: dict = {}
    cancel_fleet = threading.Event()
    fleet_spec = os.environ.get("GRIDPULSE_FLEET", DEFAULT_FLEET)
    if fleet_spec != "0":
        hotels, floors, rooms = _fleet_size(fleet_spec)
        speed = _number("GRIDPULSE_FLEET_SPEED", 1.0, 1.0, 100_000.0)
        history_days = _number("GRIDPULSE_FLEET_HISTORY_DAYS", DEFAULT_HISTORY_DAYS, 0.0, 366.0)

        def _run_fleet():
            from infrastructure.simulator import history_tiers, start_fleet

            hold_s = _number("GRIDPULSE_FLEET_HISTORY_HOLD_S", FLEET_HISTORY_HOLD_S, 0.0, 600.0)
            release = threading.Event() if hold_s else None
            try:
                fleet_box["fleet"] = start_fleet(
                    base,
                    admin_email,
                    admin_password,
                    hotels=hotels,
                    floors=floors,
                    rooms=rooms,
                    speed=speed,
                    cancel=cancel_fleet,
                    history=history_tiers(history_days),
                    history_gap_s=FLEET_HISTORY_GAP_S,
                    history_delay_s=FLEET_HISTORY_DELAY_S,
                    history_first=FLEET_HISTORY_FIRST if hold_s else 0,
                    history_release=release,
                    report_at_start=True,
                    log=lambda line: _say(f"  fleet: {line}"),
                )
                if release is not None:
                    _release_history(fleet_box["fleet"], events, release, hold_s)
                if history_days * 24 >= FORECAST_MIN_HOURS:
                    _forecasts_soon(scheduler, fleet_box["fleet"], events)
            except Exception as exc:  # the stack stays up without a fleet
                if not cancel_fleet.is_set():
                    _say(f"  fleet: not started: {type(exc).__name__}: {exc}")

        _say(
            f"  Fleet      {hotels} hotels x {floors} floors x {rooms} rooms, street lights, a household meter; "
            f"{'real time' if speed == 1 else f'{speed:g}x time'}, {history_days:g} days of history "
            f"(GRIDPULSE_FLEET=0 for none)"
        )
        threading.Thread(target=_run_fleet, name="fleet", daemon=True).start()

    health_every = _number("GRIDPULSE_HEALTH_EVERY_S", 60, 0, 86400)

    def _health() -> None:
        session = boto3.session.Session()
        while not stop.requested.wait(health_every):
            _say(f"  {local_metrics.health_line(dead_letter_count(stack, session))}")

    if health_every:
        threading.Thread(target=_health, name="health", daemon=True).start()
    try:
        while not stop.requested.wait(0.5):
            pass
        _say("Stopping ...")
    finally:
        started, took = time.monotonic(), []

        def step(name: str, action) -> None:
            began = time.monotonic()
            action()
            took.append(f"{name} {time.monotonic() - began:.1f}")

        cancel_fleet.set()
        if "fleet" in fleet_box:  # its partial batches stay unsent: the state goes with the process
            step("fleet", lambda: fleet_box["fleet"].stop(drain_s=0))
        step("api", server.shutdown)
        step("tuya", tuya_server.shutdown)
        step("schedules", scheduler.stop)
        step("mqtt", iot.stop)
        step("events", lambda: events.stop(drain_s=1.0))
        step("housekeeping", housekeeper.stop)
        step("moto", moto.shutdown)
        shutil.rmtree(workdir, ignore_errors=True)
        _say(f"  (stopped in {time.monotonic() - started:.1f} s: {', '.join(took)})")
        _say("Stopped.")
    return 0


if __name__ == "__main__":
    code = main()
    # Everything is stopped: skip tearing down moto's object graph one object at a
    # time (seconds for a stack that ran a while); the process is done.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
