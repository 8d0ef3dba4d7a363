"""An API function loads Powertools' REST resolver only (gridpulse/lazy_event_handler.py), and the
rest of the event handler package still works for code that asks for it."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import sys
sys.path[:0] = [{function!r}, {layer!r}]
import app
print("appsync" if "aws_lambda_powertools.event_handler.appsync" in sys.modules else "no-appsync")
print("asyncio" if "asyncio" in sys.modules else "no-asyncio")
from aws_lambda_powertools.event_handler import AppSyncResolver, APIGatewayRestResolver
print(AppSyncResolver.__name__, isinstance(app.app, APIGatewayRestResolver))
"""


def _run(function: str) -> list[str]:
    code = CHILD.format(function=str(ROOT / "functions" / function), layer=str(ROOT / "layers" / "shared"))
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true"}
    for table in ("USERS", "SITES", "DEVICES", "TELEMETRY", "ALERTS", "BILLING", "IDEMPOTENCY"):
        env.setdefault(f"{table}_TABLE", table.lower())
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd="/")
    assert done.returncode == 0, done.stderr
    return done.stdout.split("\n")


def test_an_api_function_does_not_load_the_other_resolvers():
    appsync, asyncio, _ = _run("health")[:3]
    assert (appsync, asyncio) == ("no-appsync", "no-asyncio")


def test_the_whole_package_still_loads_on_demand():
    assert _run("devices")[2] == "AppSyncResolver True"


def test_handlers_take_powertools_names_from_the_shared_layer():
    # A handler importing from the event_handler package before gridpulse would load every resolver.
    direct = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "functions").glob("*/app.py"))
        if "from aws_lambda_powertools.event_handler" in path.read_text()
    ]
    assert direct == []
