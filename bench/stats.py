"""Latency summaries: percentiles, mean and throughput from `time.perf_counter` samples."""

from __future__ import annotations

import statistics
from typing import Any


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile of `samples` (already in the unit reported)."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary_ms(seconds: list[float], elapsed: float | None = None) -> dict[str, Any]:
    """p50/p99/mean/min/max in milliseconds, the sample count and (given `elapsed`) req/s."""
    ms = [s * 1000 for s in seconds]
    result: dict[str, Any] = {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 0.50), 3),
        "p99_ms": round(percentile(ms, 0.99), 3),
        "mean_ms": round(statistics.fmean(ms), 3) if ms else None,
        "min_ms": round(min(ms), 3) if ms else None,
        "max_ms": round(max(ms), 3) if ms else None,
    }
    if elapsed:
        result["throughput_rps"] = round(len(ms) / elapsed, 1)
    return result
