"""Docs, docstrings and comments name only files and modules that exist.

Scanned: every Markdown file of the repo, and the docstrings and comments of
the Python code under layers/, functions/, infrastructure/, bench/ and tests/.

* A file path (`<dir>/<name>.<ext>`, or a bare `<name>.<ext>`, with one of
  EXTENSIONS) or a directory (`<dir>/`) must be a tracked file or directory, or its tail:
  `alerts/service.py` matches layers/shared/gridpulse/alerts/service.py, so
  paths written relative to the package they describe still count; a moved
  or deleted file does not.
* A dotted name under one of this repo's packages (`gridpulse.<...>`,
  `infrastructure.<...>`, `bench.<...>`) must be a module or package, or a name
  defined at the top of one (`gridpulse.api.parse_json_body`).

ALLOWED lists what is named on purpose but not in the repo (build outputs,
files created at run time, example names).
"""

from __future__ import annotations

import ast
import io
import re
import subprocess
import tokenize
from functools import cache
from pathlib import Path

import pytest

from infrastructure.cfn import ROOT

EXTENSIONS = "py|md|yaml|yml|sql|json|toml|txt|pem|cpp|h|ini|csv|in|hex|cfg"
PATH = re.compile(
    r"(?<![\w/.<>{}$*+#:@-])"
    rf"((?:[\w.-]+/)+(?:[\w-]+(?:\.[\w-]+)*\.(?:{EXTENSIONS}))?|[\w-]+(?:\.[\w-]+)*\.(?:{EXTENSIONS}))"
    r"(?![\w/<>{}*+#-])"
)
DOTTED = re.compile(r"(?<![\w./-])((?:gridpulse|infrastructure|bench)(?:\.\w+)+)")
CODE_DIRS = ("layers", "functions", "infrastructure", "bench", "tests")

# Named on purpose, not in the repo.
ALLOWED = {
    "meter.json",  # README/firmware README: where the example saves a registration answer
    "firmware/build/",  # CMake build output
    "firmware/provisioning/",  # written by firmware/tools/provision.py, git-ignored
    "esptool.py",  # Espressif's flashing tool
    "ca.pem",  # written by infrastructure/local/iot/ca.py into its directory at run time
    "server.pem",  # same
    "topicfilter/",  # an IoT policy resource ARN, not a path
    "gridpulse.example.com",  # a mail domain
    "gridpulse.pkg",  # an example in a docstring
    "gridpulse.pkg.module",  # same
    "gridpulse.simulator",  # a logger name
    "statsmodels/tsa/stl/tests/results/mstl_elec_vic.csv",  # inside the statsmodels package (make backtest)
    "web/dist/",  # the web dashboard's build output (make web), uploaded by make deploy-web
    "config.json",  # written into web/dist by infrastructure/web_build.py, and into the web bucket by deploy_web
    "web/dist/vendor/",  # the libraries the web build copies from web/node_modules
    "test-artifacts/web/",  # the browser tests' screenshots, git-ignored
}


@cache
def tracked() -> tuple[frozenset[str], frozenset[str]]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    files = frozenset(out.split())
    dirs = set()
    for f in files:
        parent = Path(f).parent
        while str(parent) != ".":
            dirs.add(str(parent))
            parent = parent.parent
    return files, frozenset(dirs)


def _exists(path: str) -> bool:
    files, dirs = tracked()
    path = path.removeprefix("./")
    pool = dirs if path.endswith("/") else files | dirs
    path = path.rstrip("/")
    return any(p == path or p.endswith("/" + path) for p in pool)


def _prose(relative: str) -> list[tuple[int, str]]:
    """(line, text) of what a file says in prose: all of a Markdown file; a
    Python file's docstrings and comments."""
    source = (ROOT / relative).read_text()
    if relative.endswith(".md"):
        return [(n, line) for n, line in enumerate(source.splitlines(), 1)]
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                out.append((getattr(node, "lineno", 1), doc))
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            out.append((token.start[0], token.string))
    return out


def _scanned() -> list[str]:
    files, _ = tracked()
    return sorted(f for f in files if f.endswith(".md") or (f.endswith(".py") and f.split("/")[0] in CODE_DIRS))


def _defines(module: Path, name: str) -> bool:
    pattern = rf"^(?:\s*(?:async\s+)?(?:def|class)\s+{name}\b|\s*{name}\s*[:=]|.*\bimport\b.*\b{name}\b)"
    return re.search(pattern, module.read_text(), re.M) is not None


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        for base in (ROOT, ROOT / "layers" / "shared"):
            path = base.joinpath(*parts[:cut])
            module = path / "__init__.py" if (path / "__init__.py").is_file() else path.with_suffix(".py")
            if not module.is_file():
                continue
            rest = parts[cut:]
            return not rest or _defines(module, rest[0])
    return False


def _missing() -> tuple[list[str], list[str]]:
    paths, names = [], []
    for relative in _scanned():
        for line, text in _prose(relative):
            for match in PATH.finditer(text):
                found = match.group(1)
                if found not in ALLOWED and not _exists(found):
                    paths.append(f"{relative}:{line}: {found}")
            for match in DOTTED.finditer(text):
                found = match.group(1)
                if found not in ALLOWED and not _resolves(found):
                    names.append(f"{relative}:{line}: {found}")
    return paths, names


def test_every_file_path_in_docs_and_comments_exists():
    paths, _ = _missing()
    assert paths == []


def test_every_dotted_module_name_in_docs_and_comments_exists():
    _, names = _missing()
    assert names == []


@pytest.mark.parametrize(
    "text, found",
    [
        ("see `gridpulse/domain/users.py`", "gridpulse/domain/users.py"),
        ("the old bench/ingestion.py", "bench/ingestion.py"),
        ("infrastructure/local/broker.py", "infrastructure/local/broker.py"),
        ("(api.md, Roles)", "api.md"),
        ("under `gridpulse/iot/`", "gridpulse/iot/"),
    ],
)
def test_a_path_that_is_gone_is_caught(text, found):
    assert [m.group(1) for m in PATH.finditer(text)] == [found]
    assert not _exists(found)


@pytest.mark.parametrize(
    "text",
    [
        "gridpulse/+/telemetry",
        "hotels -> floors",
        "MQTT 3.1.1",
        "`r#<bucket ms>#<first ts>`",
        "$aws/events/presence/+/+",
    ],
)
def test_what_is_not_a_path_is_left_alone(text):
    assert [m.group(1) for m in PATH.finditer(text)] == []


def test_a_dotted_name_that_is_gone_is_caught():
    assert _resolves("gridpulse.accounts.authentication.authenticate")
    assert _resolves("gridpulse.telemetry")
    assert not _resolves("gridpulse.accounts.users.authenticate")
    assert not _resolves("gridpulse.domain.users")
