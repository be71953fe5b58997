"""Size budgets (STYLE.md): modules ≤ 400 lines, functions ≤ 50 lines, over src/graphchat."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "src" / "graphchat"
MODULE_LINES = 400
FUNCTION_LINES = 50
# Migrations are frozen history: never edited once released, so never split either.
FROZEN = PACKAGE / "store" / "migrations" / "versions"

# Nothing is over budget; an entry here needs a reason written beside it.
KNOWN_LONG_MODULES: set[str] = set()
KNOWN_LONG_FUNCTIONS: set[str] = set()


def _sources() -> list[Path]:
    return [path for path in sorted(PACKAGE.rglob("*.py")) if FROZEN not in path.parents]


def _name(path: Path) -> str:
    return str(path.relative_to(PACKAGE))


def test_modules_stay_within_their_budget() -> None:
    long = {
        _name(path): lines
        for path in _sources()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MODULE_LINES
    }

    assert set(long) - KNOWN_LONG_MODULES == set(), long


def test_functions_stay_within_their_budget() -> None:
    long = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > FUNCTION_LINES:
                    long[f"{_name(path)}:{node.name}"] = lines

    assert set(long) - KNOWN_LONG_FUNCTIONS == set(), long
