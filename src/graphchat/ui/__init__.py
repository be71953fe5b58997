"""The web UI: static files (HTML, ES modules, CSS, vendored libraries) served by the app."""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"

__all__ = ["STATIC_DIR"]
