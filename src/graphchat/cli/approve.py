"""`graphchat chat` asks for each tool call a paused run waits on: approve, edit or reject."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

_CHOICES = "[y]es / [n]o / [e]dit"


def _read(prompt: str) -> str | None:
    try:
        return input(prompt).strip()
    except EOFError:
        return None


def _edited_args(console: Console) -> dict[str, Any] | None:
    while True:
        line = _read("arguments (JSON object): ")
        if line is None:
            return None
        try:
            value = json.loads(line)
        except ValueError as exc:
            console.print(f"not JSON: {exc}", style="red", markup=False)
            continue
        if isinstance(value, dict):
            return value
        console.print("the arguments must be a JSON object", style="red", markup=False)


def _decision(console: Console, call: dict[str, Any]) -> dict[str, Any] | None:
    arguments = json.dumps(call.get("args", {}), ensure_ascii=False)
    console.print(f"tool {call.get('name')} wants to run with {arguments}", markup=False)
    while True:
        answer = _read(f"run it? {_CHOICES}: ")
        if answer is None:
            return None
        choice = answer.lower()[:1]
        if choice == "y":
            return {"type": "approve"}
        if choice == "n":
            return {"type": "reject", "message": _read("reason (optional): ") or ""}
        if choice == "e":
            edited = _edited_args(console)
            return None if edited is None else {"type": "edit", "args": edited}
        console.print(f"answer {_CHOICES}", style="dim", markup=False)


def ask_decisions(console: Console, pending: dict[str, Any]) -> list[dict[str, Any]] | None:
    """One decision per pending call, in order; None when the user leaves (Ctrl-D)."""
    decisions = []
    for call in pending.get("calls", []):
        decision = _decision(console, call)
        if decision is None:
            return None
        decisions.append(decision)
    return decisions
