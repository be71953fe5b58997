"""Markdown for docs/performance.md: its tables and the databases a result measured."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bench.databases import KINDS


def table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    """A Markdown table; None shows as a dash, floats with thousands separators."""
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def measured_kinds(result: dict[str, Any]) -> list[str]:
    """The databases `result` measured, SQLite first."""
    return [kind for kind in KINDS if kind in result]
