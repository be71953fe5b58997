"""The direction of imports (STYLE.md): api → service → agent / llm / store; only api knows HTTP."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "src" / "graphchat"
WEB_FRAMEWORKS = ("fastapi", "starlette", "sse_starlette", "uvicorn")

# package → graphchat packages it must never import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "service": ("graphchat.api", "graphchat.cli"),
    "agent": ("graphchat.api", "graphchat.cli", "graphchat.service", "graphchat.store"),
    "llm": ("graphchat.api", "graphchat.cli", "graphchat.service", "graphchat.agent"),
    "store": (
        "graphchat.api",
        "graphchat.cli",
        "graphchat.service",
        "graphchat.agent",
        "graphchat.llm",
    ),
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_lower_layers_know_no_http_and_no_upper_layer(package: str) -> None:
    offences = []
    for path in sorted((PACKAGE / package).rglob("*.py")):
        for name in _imports(path):
            root = name.split(".")[0]
            if root in WEB_FRAMEWORKS or name.startswith(FORBIDDEN[package]):
                offences.append(f"{path.relative_to(PACKAGE)} imports {name}")

    assert offences == []


def test_the_rule_sees_real_imports() -> None:
    imported = _imports(PACKAGE / "api" / "chat.py")

    assert "fastapi" in imported
    assert "graphchat.service.chat" in imported
