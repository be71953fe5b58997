"""One name per class across `src/graphchat`: a reader (and the OpenAPI document, which spells a
clash as `graphchat__api__…__Name`) never has to ask which of two classes a name means."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "src" / "graphchat"


def _classes_by_name(sources: dict[str, str]) -> dict[str, list[str]]:
    where: dict[str, list[str]] = defaultdict(list)
    for name, source in sources.items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef):
                where[node.name].append(f"{name}:{node.lineno}")
    return where


def _defined_twice(sources: dict[str, str]) -> dict[str, list[str]]:
    return {name: places for name, places in _classes_by_name(sources).items() if len(places) > 1}


def test_no_class_name_is_defined_twice() -> None:
    sources = {
        str(path.relative_to(PACKAGE)): path.read_text(encoding="utf-8")
        for path in sorted(PACKAGE.rglob("*.py"))
    }

    assert _defined_twice(sources) == {}


def test_the_check_finds_a_name_defined_in_two_modules() -> None:
    sources = {"a.py": "class ApproveIn: ...\nclass Other: ...", "b.py": "class ApproveIn: ..."}

    assert _defined_twice(sources) == {"ApproveIn": ["a.py:1", "b.py:1"]}
