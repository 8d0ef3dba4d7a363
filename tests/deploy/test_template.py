"""The SAM application lints, validates and builds, and what it builds imports.

These run the real tools (cfn-lint, the SAM CLI from .venv-sam) on this
machine, without Docker and without AWS credentials.
"""

from __future__ import annotations

import json
import os
import pathlib
import platform
import subprocess
import sys

import pytest

from infrastructure.cfn import ROOT, Stack, load
from infrastructure.local.resources import function_environment

pytestmark = pytest.mark.deploy

SAM = ROOT / ".venv-sam" / "bin" / "sam"
CFN_LINT = pathlib.Path(sys.executable).parent / "cfn-lint"
TOOL_ENV = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}


def _run(*cmd, env=None, timeout=600):
    result = subprocess.run(
        [str(c) for c in cmd], cwd=ROOT, env=env or TOOL_ENV, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{cmd[0]} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_cfn_lint_is_clean():
    _run(CFN_LINT, "template.yaml")


def test_sam_validate_lint_passes():
    _run(SAM, "validate", "--lint", "--region", "us-east-1")


def _sam_build(build_dir: pathlib.Path, extra_env: dict | None = None) -> pathlib.Path:
    _run(SAM, "build", "--build-dir", build_dir, "--no-cached", env={**TOOL_ENV, **(extra_env or {})})
    return build_dir


def test_sam_build_targets_lambda_arm64_python_3_14(tmp_path):
    build = _sam_build(tmp_path / "build")
    layer = build / "SharedLayer" / "python"
    assert (layer / "gridpulse" / "api.py").exists()
    natives = [p.name for p in layer.rglob("*.so")]
    assert natives, "expected compiled wheels (pydantic-core, argon2, cffi) in the layer"
    assert all("aarch64" in name or "abi3" in name for name in natives), natives
    assert any("cpython-314" in name for name in natives)
    for logical in Stack(load()).functions():
        assert (build / logical / "app.py").exists()
    _check_forecast_layer(build)


LAMBDA_UNZIPPED_LIMIT = 262_144_000  # "Unzipped size must be smaller than 262144000 bytes" (function + its layers)


def _size(path: pathlib.Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _check_forecast_layer(build: pathlib.Path) -> None:
    """The ML layer holds numpy, scipy, scikit-learn and holidays as arm64
    CPython 3.14 wheels, without tests or caches, and fits in Lambda's
    unzipped limit beside the shared layer and the biggest handler."""
    ml = build / "ForecastLayer" / "python"
    for package in ("numpy", "scipy", "sklearn", "holidays", "joblib", "threadpoolctl.py", "narwhals"):
        assert (ml / package).exists(), package
    natives = [p.name for p in ml.rglob("*.so")]
    assert natives and all("aarch64" in n or "abi3" in n for n in natives if "cpython" in n or "abi3" in n), natives
    assert any("cpython-314-aarch64" in n for n in natives)
    assert not [p for p in ml.rglob("*") if p.is_dir() and p.name in ("tests", "__pycache__")]
    handler = max(_size(build / logical) for logical in Stack(load()).functions())
    total = _size(ml) + _size(build / "SharedLayer") + handler
    print(f"ForecastLayer {_size(ml):,} B + SharedLayer {_size(build / 'SharedLayer'):,} B + handler {handler:,} B")
    assert total < LAMBDA_UNZIPPED_LIMIT - 10_000_000, f"{total:,} bytes unzipped: too close to Lambda's limit"


def test_every_built_handler_imports_with_only_its_artifacts_and_layer(tmp_path):
    """Build for this machine's CPU and Python, then import each handler in a
    fresh interpreter whose path holds only the function's build output and
    the layer's: a dependency missing from the layer fails here, not in AWS."""
    machine = platform.machine()
    build = _sam_build(
        tmp_path / "host-build",
        {
            "LAYER_PLATFORMS": f"manylinux2014_{machine} manylinux_2_28_{machine}",
            "LAYER_PYTHON": f"{sys.version_info.major}.{sys.version_info.minor}",
        },
    )
    stack = Stack(load(), name="gridpulse-import-check")
    for logical in stack.resources():
        stack.physical.setdefault(logical, f"{logical}-placeholder")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        **function_environment(stack),
    }
    for logical, res in stack.functions().items():
        module, _, attr = res["Properties"]["Handler"].rpartition(".")
        layers = [str(build / ref["Ref"] / "python") for ref in res["Properties"].get("Layers") or []]
        code = (
            "import sys, json\n"
            f"sys.path[:0] = {[str(build / logical), *layers]!r}\n"
            f"import {module}\n"
            f"assert callable({module}.{attr})\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('gridpulse', 'pydantic', 'argon2', 'jwt', 'pynamodb'))[:3]))\n"
        )
        # -S: no site-packages at all, -I: no user site and no PYTHON* variables.
        result = subprocess.run(
            [sys.executable, "-I", "-S", "-c", code], env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, f"{logical} does not import from its build:\n{result.stderr}"
        assert json.loads(result.stdout.strip().splitlines()[-1]), logical
    _forecast_runs_from_the_layers(build, env)


def _forecast_runs_from_the_layers(build: pathlib.Path, env: dict) -> None:
    """The forecaster (shared layer) fits and predicts with only the shared
    and ML layers on the path: what a forecasting function carries."""
    layers = [str(build / "SharedLayer" / "python"), str(build / "ForecastLayer" / "python")]
    code = (
        "import sys, json\n"
        f"sys.path[:0] = {layers!r}\n"
        "from datetime import datetime, timedelta, timezone\n"
        "from gridpulse.forecasts.model import forecast\n"
        "now = datetime(2026, 11, 20, 10, tzinfo=timezone.utc)\n"
        "history = [(now - timedelta(hours=h), 1.0 + (h % 24) / 24 + (h % 7) / 50) for h in range(1, 21 * 24)]\n"
        "f = forecast(history, now, 'Europe/Lisbon', country='PT')\n"
        "import sklearn, numpy\n"
        "print(json.dumps([f.method, len(f.points), f.model_backtest is not None, sklearn.__file__]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"the forecaster does not run from the layers:\n{result.stderr}"
    method, points, backtested, where = json.loads(result.stdout.strip().splitlines()[-1])
    assert points == 24 and backtested and method in ("model", "seasonal_naive")
    assert where.startswith(layers[1])


def _policy_statements(function: dict, resources: dict) -> list[dict]:
    """The function's inline statements plus those of the template's own
    managed policies it references (`!Ref CallerAuthenticationPolicy`)."""
    statements = []
    for policy in function["Properties"].get("Policies") or []:
        if isinstance(policy, dict) and set(policy) == {"Ref"}:
            managed = resources.get(policy["Ref"]) or {}
            assert managed.get("Type") == "AWS::IAM::ManagedPolicy", (
                f"{policy['Ref']}: functions use inline statements or this template's managed policies "
                "(no broad AWS managed policies)"
            )
            policy = managed["Properties"]["PolicyDocument"]
        assert isinstance(policy, dict) and "Statement" in policy, (
            "functions use inline statements (no broad managed policies)"
        )
        for statement in policy["Statement"]:
            if set(statement) == {"Fn::If"}:  # a conditional permission: both branches are checked
                statements += [s for s in statement["Fn::If"][1:] if s != {"Ref": "AWS::NoValue"}]
            else:
                statements.append(statement)
    return statements


# IAM offers no resource-level permission for these, so "*" is the only option.
NO_RESOURCE_LEVEL = {"iot:CreateKeysAndCertificate", "iot:DescribeEndpoint"}


def test_functions_have_least_privilege_policies():
    stack = Stack(load())
    for logical, function in stack.functions().items():
        for statement in _policy_statements(function, stack.resources()):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert all("*" not in a for a in actions), f"{logical}: wildcard action {actions}"
            if statement["Resource"] == "*":
                assert set(actions) <= NO_RESOURCE_LEVEL, f"{logical}: wildcard resource for {actions}"
            assert "dynamodb:Scan" not in actions, f"{logical} may Scan"


def test_device_policy_is_scoped_to_the_connected_thing():
    """The IoT policy a device certificate gets: its own client id and topics only."""
    stack = Stack(load())
    stack.parameters.update({})
    document = stack.resolve(stack.resources("AWS::IoT::Policy")["DevicePolicy"]["Properties"]["PolicyDocument"])
    text = json.dumps(document)
    assert "${iot:Connection.Thing.ThingName}" in text
    for statement in document["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in resources:
            assert resource != "*" and not resource.endswith(":*") and "/#" not in resource, resource
            assert "${iot:Connection.Thing.ThingName}" in resource, resource
    connect = next(s for s in document["Statement"] if s["Action"] == "iot:Connect")
    assert connect["Condition"] == {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}


def test_every_function_logs_to_a_log_group_with_retention():
    template = load()
    resources = template["Resources"]
    for logical, function in Stack(template).functions().items():
        group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert resources[group]["Type"] == "AWS::Logs::LogGroup"
        assert "RetentionInDays" in resources[group]["Properties"], logical


def test_shared_function_settings_are_declared_once_in_globals():
    """What every function shares lives in Globals.Function; a function
    declares only what differs. Readers of the template still see each
    function's full properties (infrastructure.cfn merges Globals)."""
    template = load()
    glob = template["Globals"]["Function"]
    assert {"Handler", "Runtime", "Architectures", "Layers", "Timeout", "Tracing", "Environment"} <= set(glob)
    for logical, res in Stack(template).resources("AWS::Serverless::Function").items():
        own = res["Properties"]
        repeated = [key for key in own if key in glob and own[key] == glob[key]]
        assert not repeated, f"{logical} repeats Globals: {repeated}"
        merged = Stack(template).functions()[logical]["Properties"]
        assert merged["Handler"] == glob["Handler"], logical
        # Every function has the shared layer first; a forecasting one adds the ML layer.
        assert merged["Layers"][: len(glob["Layers"])] == glob["Layers"], logical
        assert merged["Layers"][len(glob["Layers"]) :] in ([], [{"Ref": "ForecastLayer"}]), logical
        variables = merged["Environment"]["Variables"]
        assert set(glob["Environment"]["Variables"]) <= set(variables), logical
        assert set((own.get("Environment") or {}).get("Variables") or {}) <= set(variables), logical


def test_cors_origin_is_one_parameter_for_preflight_and_answers():
    """A deployment that sets CorsAllowOrigin (the dashboard's origin) gets it in
    API Gateway's preflight answers and in every function's answers alike."""
    template = load()
    api = next(iter(Stack(template).resources("AWS::Serverless::Api").values()))
    stack = Stack(template, parameters={"CorsAllowOrigin": "https://dash.example.com"})
    assert stack.resolve(api["Properties"]["Cors"]["AllowOrigin"]) == "'https://dash.example.com'"
    for logical, function in stack.functions().items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert stack.resolve(variables["CORS_ALLOW_ORIGIN"]) == "https://dash.example.com", logical


def test_caller_authentication_policy_goes_to_exactly_the_functions_with_bearer_routes():
    stack = Stack(load())
    assert stack.resources()["CallerAuthenticationPolicy"]["Type"] == "AWS::IAM::ManagedPolicy"
    spec = json.loads((ROOT / "openapi.json").read_text())
    bearer = {
        logical
        for method, path, logical in stack.api_routes()
        if any("bearer" in requirement for requirement in spec["paths"][path][method.lower()].get("security") or [])
    }
    attached = {
        logical
        for logical, function in stack.functions().items()
        if {"Ref": "CallerAuthenticationPolicy"} in (function["Properties"].get("Policies") or [])
    }
    assert attached == bearer


def test_every_sqs_source_has_its_own_dead_letter_queue_named_for_it():
    stack = Stack(load())
    queues = stack.resources("AWS::SQS::Queue")
    sources = {
        event["Properties"]["Queue"]["Fn::GetAtt"][0]
        for function in stack.functions().values()
        for event in (function["Properties"].get("Events") or {}).values()
        if event["Type"] == "SQS"
    }
    assert sources
    for source in sources:
        redrive = queues[source]["Properties"]["RedrivePolicy"]
        target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert target == source.removesuffix("Queue") + "DeadLetterQueue", source
        assert target not in sources, source
        name = stack.resolve(queues[target]["Properties"]["QueueName"])
        assert name == stack.resolve(queues[source]["Properties"]["QueueName"]) + "-dlq", source


def _allows(function: dict, resources: dict, action: str, resource: str) -> bool:
    for statement in _policy_statements(function, resources):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if action in actions and resource in [json.dumps(t, sort_keys=True) for t in targets]:
            return True
    return False


def test_functions_that_list_or_open_assigned_prepaid_meters_may_read_the_assignments():
    # Local moto does not enforce IAM: without these, GET /overview (TelemetryFunction) is a 500 in AWS for
    # every non-admin caller (its device list Queries BillingTable's by-user index, as GET /devices does).
    stack = Stack(load())
    functions, resources = stack.functions(), stack.resources()
    by_user = json.dumps({"Fn::Sub": "${BillingTable.Arn}/index/by-user"}, sort_keys=True)
    table = json.dumps({"Fn::GetAtt": ["BillingTable", "Arn"]}, sort_keys=True)
    for logical in ("DevicesFunction", "AlertsFunction", "AssistantFunction", "TelemetryFunction"):  # list_visible
        assert _allows(functions[logical], resources, "dynamodb:Query", by_user), logical
    for logical in ("DevicesFunction", "TelemetryFunction", "ForecastsFunction"):  # visible_or_assigned
        assert _allows(functions[logical], resources, "dynamodb:GetItem", table), logical
