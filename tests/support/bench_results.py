"""A machine record as `bench/results/*.json` carry it, for tests of what is drawn from them."""

from __future__ import annotations

from typing import Any

MACHINE: dict[str, Any] = {
    "cpu": "Test CPU 9000",
    "cores": 2,
    "ram_gb": 4.0,
    "date": "2026-01-02 03:04 UTC",
    "load_at_start": [1.5, 1.0, 1.0],
    "load_at_end": [2.25, 1.0, 1.0],
}
