"""`python -m infrastructure.simulator`: provision an estate and run a simulated fleet.

    python -m infrastructure.simulator --api http://127.0.0.1:3000 \\
        --admin-email admin@gridpulse.example.com --admin-password gridpulse-admin-123 \\
        --hotels 2 --floors 3 --rooms 4 --lights 4 --households 1 --speed 60 --duration 0

Prints a progress line every few seconds; Ctrl-C or SIGTERM stops it cleanly
(partial batches are sent, backlogs drained for a few seconds, connections
closed), as does the end of `--duration` seconds (0 = until stopped).
Defaults for the API and the admin come from GRIDPULSE_API_URL,
GRIDPULSE_ADMIN_EMAIL and GRIDPULSE_ADMIN_PASSWORD when set.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from infrastructure.simulator.fleet import ALL_FAULTS, history_tiers, start_fleet
from infrastructure.simulator.provision import ProvisioningError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m infrastructure.simulator",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--api", default=os.environ.get("GRIDPULSE_API_URL", "http://127.0.0.1:3000"), help="API base URL")
    p.add_argument("--admin-email", default=os.environ.get("GRIDPULSE_ADMIN_EMAIL", "admin@gridpulse.example.com"))
    p.add_argument("--admin-password", default=os.environ.get("GRIDPULSE_ADMIN_PASSWORD", "gridpulse-admin-123"))
    estate = p.add_argument_group("estate")
    estate.add_argument("--hotels", type=int, default=2)
    estate.add_argument("--floors", type=int, default=3, help="floors per hotel")
    estate.add_argument("--rooms", type=int, default=4, help="rooms per floor (one meter each)")
    estate.add_argument("--lights", type=int, default=4, help="street lights")
    estate.add_argument("--households", type=int, default=1, help="household meters (MQTT)")
    estate.add_argument("--no-wifi", action="store_true", help="do not give room meters Wi-Fi settings")
    estate.add_argument("--mqtt-host", help="override the IoT endpoint returned by the API")
    estate.add_argument("--mqtt-port", type=int, help="override the MQTT port returned by the API (else 8883)")
    run = p.add_argument_group("simulation")
    run.add_argument(
        "--speed", type=float, default=1.0, help="time acceleration: simulated seconds per wall second (>= 1)"
    )
    run.add_argument("--duration", type=float, default=0.0, help="wall seconds to run; 0 = until stopped")
    run.add_argument(
        "--backfill-hours",
        type=float,
        default=None,
        help="start simulated time this long before now (default: (speed-1) x duration, "
        "or 24 h when --duration is 0; 0 when speed is 1)",
    )
    run.add_argument(
        "--history-days",
        type=float,
        default=0.0,
        help="also upload this many days before the start as a backlog (the last 21 days hourly, "
        "older days every 6 hours), live data first",
    )
    run.add_argument("--interval", type=float, default=30.0, help="simulated seconds between samples")
    run.add_argument("--batch", type=int, default=10, help="readings per telemetry message")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument(
        "--faults",
        default=",".join(ALL_FAULTS),
        help=f"exactly-once faults to inject, comma-separated ({', '.join(ALL_FAULTS)}); '' for none",
    )
    run.add_argument("--no-faults", action="store_true", help="inject no faults")
    run.add_argument("--buffer", type=int, default=10_000, help="store-and-forward capacity per device (messages)")
    run.add_argument("--progress", type=float, default=5.0, help="seconds between progress lines")
    run.add_argument("--log-level", default="WARNING")
    args = p.parse_args(argv)
    if args.speed < 1:
        p.error("--speed must be >= 1")
    if not 0 <= args.history_days <= 366:
        p.error("--history-days must be within 0..366")
    if not 1 <= args.batch <= 500:
        p.error("--batch must be within 1..500 (the ingestion limit)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    faults = [] if args.no_faults else [f.strip() for f in args.faults.split(",") if f.strip()]

    def say(text: str) -> None:
        print(text, flush=True)

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    fleet = None
    try:
        fleet = start_fleet(
            args.api,
            args.admin_email,
            args.admin_password,
            hotels=args.hotels,
            floors=args.floors,
            rooms=args.rooms,
            lights=args.lights,
            households=args.households,
            wifi=not args.no_wifi,
            mqtt_host=args.mqtt_host,
            mqtt_port=args.mqtt_port,
            speed=args.speed,
            duration_s=args.duration,
            backfill_s=None if args.backfill_hours is None else args.backfill_hours * 3600,
            sample_interval_s=args.interval,
            batch_size=args.batch,
            seed=args.seed,
            faults=faults,
            history=history_tiers(args.history_days),
            report_at_start=args.history_days > 0,
            buffer_capacity=args.buffer,
            progress_s=args.progress,
            log=say,
        )
        while not fleet.wait(0.5):
            pass
    except KeyboardInterrupt:
        say("[fleet] stopping ...")
        if fleet is not None:
            fleet.stop()
    except (ProvisioningError, ValueError) as exc:
        say(f"error: {exc}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
