"""How long a process ran, and how long it was ready to run but waited for a CPU, from the
kernel's per-thread scheduler statistics (`/proc/<pid>/task/<tid>/schedstat`).

On two shared CPUs, a socket write that wakes an idle peer (the model's server, PostgreSQL)
often puts that peer on the writer's CPU, where it runs first while the writer waits
(round 31 in bench/analysis.md: 0.5 ms at the model request's write). A first token's time is
then graphchat's own CPU, the time it waited for a CPU while it had work, and the time it had
nothing to do (the model and the database at work). The kernel counts the first two per thread:
the wait includes being preempted by a woken peer, which no CPU-time reading shows.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class Clocks:
    """Seconds a set of threads ran on a CPU, and waited ready to run."""

    ran: float
    waited: float

    def __sub__(self, earlier: Clocks) -> Clocks:
        return Clocks(self.ran - earlier.ran, self.waited - earlier.waited)


def available() -> bool:
    """Whether this kernel keeps the statistics (`CONFIG_SCHED_INFO`)."""
    return os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/schedstat")


def threads_of(pid: int) -> list[str]:
    """The statistics files of every thread of `pid` and of the processes it started
    (graphchat's workers): listed once, read by `clocks` as often as needed."""
    return [
        f"/proc/{process}/task/{tid}/schedstat"
        for process in _family(pid)
        for tid in _threads(process)
    ]


def clocks(threads: list[str]) -> Clocks:
    """The clocks of `threads` (`threads_of`) summed. A thread that ended meanwhile counts for
    nothing: compare readings taken while the same threads live (a warmed-up workload)."""
    ran = waited = 0
    for path in threads:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            with open(path) as stats:
                fields = stats.read().split()
            ran += int(fields[0])
            waited += int(fields[1])
    return Clocks(ran / 1e9, waited / 1e9)


def _family(pid: int) -> list[int]:
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [pid, *(child.pid for child in children)]


def _threads(pid: int) -> list[str]:
    try:
        return os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return []
