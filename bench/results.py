"""Result files: `bench/results/<name>.json`, each with the machine it was measured on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import machine

RESULTS = Path(__file__).resolve().parent / "results"


def save(name: str, data: dict[str, Any], *, seconds: float, load_at_start: list[float]) -> Path:
    """Write one benchmark's numbers with the machine, the load before/after and its duration."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": name,
        "machine": machine.describe()
        | {"load_at_start": load_at_start, "load_at_end": machine.load()},
        "seconds": round(seconds, 1),
        **data,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path


def load_all() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(RESULTS.glob("*.json"))}
