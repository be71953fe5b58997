"""The direction of imports (STYLE.md): api → service → agent / llm / store; only api knows HTTP.

Every module of `src/graphchat` is checked: which graphchat packages it may import, that the
settings import nothing of graphchat, and that no two modules import each other, even through
others (imports under `if TYPE_CHECKING:` are left out: they never run).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "src" / "graphchat"
WEB_FRAMEWORKS = ("fastapi", "starlette", "sse_starlette", "uvicorn")
NO_HTTP = (
    "service",
    "agent",
    "llm",
    "store",
    "security",
    "observability",
    "settings",
    "errors",
    "json_stream",
    "json_text",
    "ids",
)

# Top-level package or module → the graphchat packages/modules it may import ("graphchat" itself
# is `from graphchat import __version__`).
ALLOWED: dict[str, frozenset[str]] = {
    "settings": frozenset(),
    "errors": frozenset(),
    "json_stream": frozenset(),  # a streaming JSON reader the CLI and the service share
    "json_text": frozenset(),  # JSON writing every layer shares (orjson, bigints as well)
    "ids": frozenset(),  # the ids of what is stored, made by the service and the store
    "collector": frozenset(),  # the garbage collector paused while a process loads its modules
    "ui": frozenset(),
    "logging": frozenset({"settings"}),
    "store": frozenset({"errors", "ids", "json_text", "settings"}),
    "llm": frozenset({"errors", "json_text", "settings"}),
    "agent": frozenset({"errors", "json_text", "llm"}),
    "observability": frozenset({"errors", "llm"}),
    "security": frozenset({"errors", "settings", "store"}),
    "service": frozenset({"agent", "errors", "ids", "json_stream", "json_text", "llm", "store"}),
    "wiring": frozenset(
        {"graphchat", "agent", "llm", "observability", "service", "settings", "store"}
    ),
    "api": frozenset(
        {
            "graphchat",
            "errors",
            "json_text",
            "logging",
            "observability",
            "security",
            "service",
            "settings",
            "ui",
            "wiring",
        }
    ),
    "app": frozenset({"graphchat", "api", "observability", "security", "settings", "wiring"}),
    # Runs the server: one app, or several workers that each build their own from `app` (and
    # set up their logging, as the command line does for one process).
    "http_protocol": frozenset(),  # uvicorn's HTTP protocol, its writes batched per loop turn
    "serving": frozenset(
        {"app", "collector", "http_protocol", "logging", "observability", "settings", "store"}
    ),
    "cli": frozenset(
        {
            "graphchat",
            "collector",
            "errors",
            "json_stream",
            "logging",
            "security",
            "serving",
            "settings",
            "store",
        }
    ),
    "__init__": frozenset(),
    "__main__": frozenset({"cli"}),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            yield from (n for o in child.orelse for n in _import_nodes_of(o))
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        yield from _import_nodes(child)


def _import_nodes_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    yield from _import_nodes(node)


def _imports(path: Path) -> set[str]:
    """Modules the file imports at run time (absolute names; `from m import sub` → `m.sub`)."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path.parent)
    return _imports_of(path.read_text(), package)


def _imports_of(source: str, package: str) -> set[str]:
    names: set[str] = set()
    for node in _import_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*anchor, base] if base else anchor)
        names.add(base)
        names.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES)
    return names


def _unit(module: str) -> str:
    """`graphchat.api.chat` → `api`; `graphchat` → `graphchat`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_every_package_is_covered() -> None:
    assert {_unit(name) for name in MODULES if name != "graphchat"} <= set(ALLOWED)


@pytest.mark.parametrize("unit", sorted(ALLOWED))
def test_packages_import_only_what_their_layer_allows(unit: str) -> None:
    offences = []
    for module, path in MODULES.items():
        if _unit(module) != unit or module == "graphchat":
            continue
        for name in _imports(path):
            if not name.startswith("graphchat"):
                continue
            target = _unit(name)
            where = str(path.relative_to(PACKAGE))
            if target == unit:
                continue
            if target not in ALLOWED[unit]:
                offences.append(f"{where} imports {name}")

    assert offences == []


@pytest.mark.parametrize("unit", NO_HTTP)
def test_lower_layers_know_no_http(unit: str) -> None:
    offences = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for module, path in MODULES.items()
        if _unit(module) == unit
        for name in _imports(path)
        if name.split(".")[0] in WEB_FRAMEWORKS
    ]

    assert offences == []


def _graph() -> dict[str, set[str]]:
    return {
        module: {name for name in _imports(path) if name in MODULES and name != module}
        for module, path in MODULES.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_modules_import_each_other() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_rules_see_real_imports() -> None:
    imported = _imports(PACKAGE / "api" / "chat.py")

    assert "fastapi" in imported
    assert "graphchat.service.chat" in imported


def test_imports_inside_functions_count_and_type_checking_ones_do_not() -> None:
    source = """
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from graphchat.store import Store
def load():
    from graphchat.cli.main import load_settings
from . import keys
"""
    imported = _imports_of(source, "graphchat.cli")

    assert {"graphchat.cli.main", "graphchat.cli.keys"} <= imported
    assert "graphchat.store" not in imported
