"""The shared layer has no import cycles: every `gridpulse.*` import, at
module level or inside a function, is an edge of the module graph, and the
graph is acyclic (a cycle means two contexts each need the other: one of
them is in the wrong place)."""

import ast
import pathlib

import gridpulse

LAYER = pathlib.Path(gridpulse.__file__).parent


def _module_name(path: pathlib.Path) -> str:
    parts = ["gridpulse", *path.relative_to(LAYER).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in LAYER.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # `from gridpulse.pkg import module` imports gridpulse.pkg.module when that is a module
                targets = [
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                    for a in node.names
                ]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name and t != "gridpulse"}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_graph_sees_the_layer():
    graph = _graph()
    assert "gridpulse.devices.lookup" in graph["gridpulse.groups.service"]
    assert "gridpulse.accounts.authentication" in graph["gridpulse.api"]


def test_the_shared_layer_has_no_import_cycles():
    cycle = _cycle(_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_authenticating_needs_no_password_mail_or_transaction_code():
    """What gridpulse.api imports (every API function) reaches neither the
    password hasher, the mailer nor the session and reset code."""
    graph = _graph()
    seen, todo = set(), ["gridpulse.api"]
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo += graph[node]
    forbidden = {
        "gridpulse.security.passwords",
        "gridpulse.mailer",
        "gridpulse.accounts.sessions",
        "gridpulse.accounts.password_reset",
        "gridpulse.accounts.users",
    }
    assert not seen & forbidden
