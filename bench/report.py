"""`docs/performance.md`, regenerated from `bench/results/*.json` (see `python -m bench report`)."""

from __future__ import annotations

from pathlib import Path

from bench.results import load_all

OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def write() -> Path:
    results = load_all()
    OUTPUT.write_text("# Performance\n\n" + "\n".join(sorted(results)) + "\n")
    return OUTPUT
