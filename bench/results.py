"""Result files: `bench/results/<name>.json`, each with the machine it was measured on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import machine

RESULTS = Path(__file__).resolve().parent / "results"


def save(name: str, data: dict[str, Any], *, seconds: float, at_start: machine.State) -> Path:
    """Write one benchmark's numbers with the machine, its state before/after and the run's
    duration."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": name,
        "machine": machine.describe() | at_start.named("at_start") | machine.now().named("at_end"),
        "seconds": round(seconds, 1),
        **data,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path


def load_all() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(RESULTS.glob("*.json"))}
