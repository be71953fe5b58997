"""The machine a result was measured on: CPU, cores, memory, Python, databases, load, date, and
how fast it ran a fixed Python loop around the run."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench.databases import postgres_version, sqlite_version


def cpu_name(cpuinfo: str) -> str | None:
    """The first CPU's model name in `/proc/cpuinfo`'s text, with its family and model where
    given: a virtual machine may name two generations alike ("AMD EPYC" was family 25 in round
    54 and family 26 in round 55), and their numbers do not compare."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        if not line.strip():
            break  # the first processor's block ends
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    name = fields.get("model name")
    if name is None:
        return None
    if "cpu family" in fields and "model" in fields:
        return f"{name} (family {fields['cpu family']}, model {fields['model']})"
    return name


def _cpu_model() -> str:
    try:
        named = cpu_name(Path("/proc/cpuinfo").read_text())
    except OSError:
        named = None
    return named or platform.processor() or "unknown"


def load() -> list[float]:
    """The 1-, 5- and 15-minute load averages."""
    return [round(value, 2) for value in os.getloadavg()]


_LOOP_STEPS = 50_000
_LOOP_RUNS = 15
_LOOP_SPACING = 0.02  # seconds between runs: the median spans half a second, not one moment


def _loop() -> int:
    total = 0
    for index in range(_LOOP_STEPS):
        item = {"index": index, "text": str(index)}
        total += len(item["text"])
    return total


def loop_once_ms() -> float:
    """The loop's CPU time, once: the host's speed at this moment."""
    began = time.process_time()
    _loop()
    return (time.process_time() - began) * 1000


def python_loop_ms() -> float:
    """The CPU time of a fixed loop of Python work (dicts, calls, strings): the median of runs
    spread over half a second.

    On round 53's shared virtual machine the loop took ~7 ms in some seconds and ~13 ms in
    others, with nothing else running (bench/analysis.md): the host's speed, which the load
    average does not show, moves every CPU figure measured beside it."""
    times = []
    for _ in range(_LOOP_RUNS):
        times.append(loop_once_ms())
        time.sleep(_LOOP_SPACING)
    return round(statistics.median(times), 2)


def describe() -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        # Which build, not only which version: builds of one version differ by ~10 % here
        # (scripts/pick-python.sh).
        "python": f"{platform.python_version()} ({os.path.realpath(sys.executable)})",
        "sqlite": sqlite_version(),
        "postgresql": postgres_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


@dataclass(frozen=True)
class State:
    """What the machine was doing at one moment: its load, and how fast it ran Python."""

    load: list[float]
    python_loop_ms: float

    def named(self, moment: str) -> dict[str, Any]:
        """As a result's machine block holds it: `load_at_start`, `python_loop_ms_at_start`…"""
        return {f"load_{moment}": self.load, f"python_loop_ms_{moment}": self.python_loop_ms}


def now() -> State:
    return State(load(), python_loop_ms())
