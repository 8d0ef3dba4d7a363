"""What a cold start imports (the budget `python -m bench --only imports` measures).

Each handler in template.yaml is imported in a fresh interpreter, as Lambda
does, and sys.modules is read afterwards:
- no function imports Argon2 (or computes a hash) at import: a password is
  hashed only by the routes that check or set one;
- no function imports the X-Ray SDK at import, with tracing off (local stack,
  tests) or on (in Lambda);
- in Lambda with tracing on, the first invocation loads the Powertools Tracer
  and every invocation is recorded as an X-Ray subsegment;
- the ingestion and event functions (no HTTP request to validate) do not
  import pydantic;
- in Lambda, no full garbage collection runs during a function's import, and
  collection is back on once it is imported (gridpulse/gc_pause.py).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys

import pytest

from infrastructure.cfn import ROOT, Stack, load

TEMPLATE = load()
STACK = Stack(TEMPLATE, name="gridpulse-test", parameters={"PublicUrl": "http://testserver"})
FUNCTIONS = sorted(STACK.functions())

IMPORT_HANDLER = r"""
import gc, importlib.util, json, sys
path, name, attr = sys.argv[1:4]
full_before = gc.get_stats()[2]["collections"]
spec = importlib.util.spec_from_file_location(name, path)
module = importlib.util.module_from_spec(spec)
sys.modules[name] = module
spec.loader.exec_module(module)
getattr(module, attr)
gc_state = {"enabled": gc.isenabled(), "full_collections": gc.get_stats()[2]["collections"] - full_before}
print(json.dumps({"modules": sorted(sys.modules), "gc": gc_state}))
"""


def _env(**changes: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "shared")]),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    env.pop("LAMBDA_TASK_ROOT", None)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _import(logical: str, env: dict[str, str]) -> dict:
    """The handler's import in a fresh interpreter: {"modules": sys.modules after it, "gc": {"enabled", "full_collections"}}."""
    props = STACK.functions()[logical]["Properties"]
    module_name, _, attr = props["Handler"].rpartition(".")
    path = ROOT / props["CodeUri"] / (module_name.replace(".", "/") + ".py")
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_HANDLER, str(path), f"fn_{logical}", attr],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _modules_after_import(logical: str, env: dict[str, str]) -> set[str]:
    return set(_import(logical, env)["modules"])


def _top_level(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


@functools.cache
def _imported_in_lambda(logical: str) -> dict:
    """The handler's import as in Lambda (LAMBDA_TASK_ROOT set, tracing off): one fresh
    interpreter per function, read by the argon2/X-Ray/gc test and the pydantic test alike."""
    return _import(logical, _env(LAMBDA_TASK_ROOT=str(ROOT)))


def _loaded_with_tracing_off(logical: str) -> frozenset[str]:
    return frozenset(_top_level(set(_imported_in_lambda(logical)["modules"])))


@pytest.mark.parametrize("logical", FUNCTIONS)
def test_no_function_imports_argon2_or_the_xray_sdk_at_import_nor_collects_garbage(logical):
    # In Lambda (tracing off here: see the tracing-on tests below).
    done = _imported_in_lambda(logical)
    assert not _top_level(set(done["modules"])) & {"argon2", "_argon2_cffi_bindings", "aws_xray_sdk"}, logical
    # A full collection would walk every object the import created (a tenth of a cold start); the
    # handler's wrapping turns collection back on, so invocations do collect garbage.
    assert done["gc"] == {"enabled": True, "full_collections": 0}, logical


def test_outside_lambda_garbage_collection_is_left_alone():
    import gc

    from gridpulse import gc_pause

    assert "LAMBDA_TASK_ROOT" not in os.environ and gc.isenabled()
    gc_pause.pause()  # what gridpulse/__init__.py does, here in the tests' process (the local stack alike)
    assert gc.isenabled()


EVENT_FUNCTIONS = sorted(
    logical
    for logical, res in STACK.functions().items()
    if not any(e.get("Type") == "Api" for e in (res["Properties"].get("Events") or {}).values())
)


@pytest.mark.parametrize("logical", EVENT_FUNCTIONS)
def test_event_functions_do_not_import_pydantic(logical):
    assert "IngestFunction" in EVENT_FUNCTIONS and "HealthFunction" not in EVENT_FUNCTIONS
    loaded = _loaded_with_tracing_off(logical)
    assert not loaded & {"pydantic", "pydantic_core"}, logical


@pytest.mark.parametrize("logical", ["HealthFunction", "IngestFunction"])
def test_in_lambda_with_tracing_on_no_function_imports_argon2_or_the_xray_sdk_at_import(logical, tmp_path):
    loaded = _top_level(
        _modules_after_import(logical, _env(POWERTOOLS_TRACE_DISABLED=None, LAMBDA_TASK_ROOT=str(tmp_path)))
    )
    assert not loaded & {"argon2", "_argon2_cffi_bindings", "aws_xray_sdk"}, logical


TRACED_INVOCATION = r"""
import json, sys
from gridpulse.observability import tracer

@tracer.capture_lambda_handler(capture_response=False)
def handler(event, context):
    return {"ok": True}

loaded_at_import = "aws_xray_sdk" in sys.modules
from aws_xray_sdk.core import xray_recorder

sent = []

class Emitter:
    def send_entity(self, entity):
        sent.append(json.loads(entity.serialize()))

    def set_daemon_address(self, address):
        pass

xray_recorder.configure(emitter=Emitter())
results = [handler({}, None), handler({}, None)]
print(json.dumps({"loaded_at_import": loaded_at_import, "results": results, "sent": sent}))
"""


def test_in_lambda_with_tracing_on_every_invocation_is_a_subsegment(tmp_path):
    env = _env(
        POWERTOOLS_TRACE_DISABLED=None,
        LAMBDA_TASK_ROOT=str(tmp_path),
        POWERTOOLS_SERVICE_NAME="gridpulse",
        _X_AMZN_TRACE_ID="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    )
    done = subprocess.run(
        [sys.executable, "-c", TRACED_INVOCATION],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["loaded_at_import"] is False
    assert out["results"] == [{"ok": True}, {"ok": True}]
    first, second = [e for e in out["sent"] if e.get("name") == "## handler"]
    assert first["annotations"] == {"ColdStart": True, "Service": "gridpulse"}
    assert second["annotations"] == {"ColdStart": False, "Service": "gridpulse"}
    assert first["trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"


def test_with_tracing_off_capture_lambda_handler_leaves_the_handler_as_it_is():
    from gridpulse.observability import tracer, tracing_enabled

    def handler(event, context):
        return event

    assert not tracing_enabled()
    assert tracer.capture_lambda_handler(handler) is handler
    assert tracer.capture_lambda_handler(capture_response=False)(handler) is handler


def test_the_timing_equaliser_is_computed_on_the_first_check_known_account_or_not():
    """A login for a known account computes the dummy hash too, so even the
    first login in a container takes as long for an unknown account as for a known one."""
    from gridpulse.security import passwords

    hashed = passwords.hash_password("correct-horse-1")
    passwords._dummy_hash.cache_clear()
    assert passwords.verify_password(hashed, "correct-horse-1")
    assert passwords._dummy_hash.cache_info().currsize == 1


def test_the_assistant_imports_its_language_model_only_on_a_question_the_templates_cannot_place():
    # gridpulse.assistant.llm (and the bedrock-runtime client it makes) is imported by
    # gridpulse.assistant.service on the first such question, and only when the model is on.
    assert "gridpulse.assistant.llm" not in _imported_in_lambda("AssistantFunction")["modules"]
