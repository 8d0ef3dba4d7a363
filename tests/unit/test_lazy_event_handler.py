"""An API function loads Powertools' REST resolver and the event classes it needs only
(gridpulse/lazy_event_handler.py), and the rest of both packages still works for code that asks for it."""

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import json, sys
sys.path[:0] = [{function!r}, {layer!r}]
import app
loaded = {{
    "appsync": "aws_lambda_powertools.event_handler.appsync" in sys.modules,
    "asyncio": "asyncio" in sys.modules,
    "event_classes": sorted(
        m.rpartition(".")[2] for m in sys.modules if m.startswith("aws_lambda_powertools.utilities.data_classes.")
    ),
    "idempotency_utility": "aws_lambda_powertools.utilities.idempotency" in sys.modules,
}}
from aws_lambda_powertools.event_handler import AppSyncResolver, APIGatewayRestResolver
from aws_lambda_powertools.utilities.data_classes import SQSEvent, event_source
import aws_lambda_powertools.utilities.data_classes as data_classes
loaded["later"] = [
    AppSyncResolver.__name__,
    isinstance(app.app, APIGatewayRestResolver),
    SQSEvent.__name__,
    callable(event_source),
    data_classes.KafkaEvent.__name__,
]
print(json.dumps(loaded))
"""


@functools.cache
def _run(function: str) -> dict:
    code = CHILD.format(function=str(ROOT / "functions" / function), layer=str(ROOT / "layers" / "shared"))
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true"}
    for table in ("USERS", "SITES", "DEVICES", "TELEMETRY", "ALERTS", "BILLING", "IDEMPOTENCY"):
        env.setdefault(f"{table}_TABLE", table.lower())
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd="/")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_an_api_function_does_not_load_the_other_resolvers_or_event_classes():
    loaded = _run("health")
    assert (loaded["appsync"], loaded["asyncio"]) == (False, False)
    # What the REST resolver imports (common, shared_functions and the seven classes it names), not
    # the forty-odd event modules (Kafka, Kinesis, S3, SQS, ...) of the package's __init__.
    assert "kafka_event" not in loaded["event_classes"] and "sqs_event" not in loaded["event_classes"]
    assert "api_gateway_proxy_event" in loaded["event_classes"]
    assert len(loaded["event_classes"]) <= 10, loaded["event_classes"]


def test_the_whole_packages_still_load_on_demand():
    # event_source is both a submodule and the decorator the package exports: the decorator wins, as without us.
    assert _run("devices")["later"] == ["AppSyncResolver", True, "SQSEvent", True, "KafkaEvent"]


def test_the_idempotency_utility_loads_with_the_first_idempotency_key_not_at_import():
    assert _run("devices")["idempotency_utility"] is False


def test_handlers_take_powertools_names_from_the_shared_layer():
    # A handler importing from the event_handler package before gridpulse would load every resolver.
    direct = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "functions").glob("*/app.py"))
        if "from aws_lambda_powertools.event_handler" in path.read_text()
    ]
    assert direct == []
