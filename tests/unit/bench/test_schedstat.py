"""bench/schedstat.py: how long real processes ran, and waited for a CPU, read from the kernel."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from bench import schedstat

pytestmark = pytest.mark.skipif(
    not schedstat.available(), reason="this kernel keeps no scheduler statistics"
)

# Spins on the CPU until a line arrives on stdin, after starting a child that sleeps.
_SPINNER = """
import select, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(child.pid, flush=True)
while not select.select([sys.stdin], [], [], 0)[0]:
    pass
child.kill()
"""


@pytest.fixture
def spinners() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


def _spinner(started: list[subprocess.Popen[str]], cpu: int) -> tuple[int, int]:
    """A spinning process kept on `cpu`, and the pid of the child it started."""
    process = subprocess.Popen(
        [sys.executable, "-c", _SPINNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    started.append(process)
    os.sched_setaffinity(process.pid, {cpu})
    assert process.stdout is not None
    return process.pid, int(process.stdout.readline())


def _after(seconds: float, threads: list[str]) -> schedstat.Clocks:
    before = schedstat.clocks(threads)
    subprocess.run(["sleep", str(seconds)], check=True)
    return schedstat.clocks(threads) - before


def test_a_spinning_process_is_counted_as_running(
    spinners: list[subprocess.Popen[str]],
) -> None:
    pid, _child = _spinner(spinners, min(os.sched_getaffinity(0)))
    span = _after(0.4, schedstat.threads_of(pid))
    assert span.ran > 0.2  # spinning all along, or behind this process's own work
    assert span.ran + span.waited > 0.35


def test_two_processes_on_one_cpu_each_wait_for_it(
    spinners: list[subprocess.Popen[str]],
) -> None:
    cpu = min(os.sched_getaffinity(0))
    first, _ = _spinner(spinners, cpu)
    _spinner(spinners, cpu)
    span = _after(0.6, schedstat.threads_of(first))
    # Sharing one CPU, each runs about half of the time and waits the other half.
    assert span.waited > 0.15
    assert span.ran < 0.5


def test_the_threads_of_a_process_include_those_of_its_children(
    spinners: list[subprocess.Popen[str]],
) -> None:
    pid, child = _spinner(spinners, min(os.sched_getaffinity(0)))
    threads = schedstat.threads_of(pid)
    assert f"/proc/{pid}/task/{pid}/schedstat" in threads
    assert f"/proc/{child}/task/{child}/schedstat" in threads


def test_a_process_that_ended_counts_for_nothing() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    assert schedstat.clocks([f"/proc/{process.pid}/task/{process.pid}/schedstat"]) == (
        schedstat.Clocks(0.0, 0.0)
    )
