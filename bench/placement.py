"""Where a benchmark's processes run: graphchat on CPUs of its own, apart from the client and
the model that load it and the database it waits on.

On a small machine the bench's client, the backend, the database and graphchat share the same
few CPUs, and each wake-up of one (a socket write) may land it on the CPU another is using: in
round 27 (bench/analysis.md) that contention was 0.3-1.0 ms of a streamed first token on two
CPUs. Measured again with graphchat kept apart, the difference is the machine's share, and what
is left is graphchat's. A deployment whose clients, model and database run elsewhere, or on more
cores, sees the second figure; the targets stay judged on the first. (With PostgreSQL on
graphchat's CPU instead, the two take turns on one CPU: round 27 measured that too.)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psutil

from bench import databases, procs


@dataclass(frozen=True)
class Split:
    """Two disjoint sets of CPUs: graphchat's, and everything else's."""

    system: frozenset[int]
    others: frozenset[int]

    def describe(self) -> dict[str, list[int]]:
        return {"graphchat_cpus": sorted(self.system), "other_cpus": sorted(self.others)}


def split_cpus(available: Iterable[int] | None = None) -> Split | None:
    """The CPUs this process may use, in two halves (graphchat gets the larger); None with
    fewer than two."""
    cpus = sorted(os.sched_getaffinity(0) if available is None else available)
    if len(cpus) < 2:
        return None
    half = len(cpus) // 2
    return Split(system=frozenset(cpus[half:]), others=frozenset(cpus[:half]))


def with_descendants(pid: int) -> list[int]:
    """`pid` and every process it started (a server's workers, a database's backends)."""
    process = psutil.Process(pid)
    return [pid, *(child.pid for child in process.children(recursive=True))]


def _threads(pid: int) -> list[int]:
    try:
        return [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    except FileNotFoundError:  # ended meanwhile
        return []


class NotMoved(Exception):
    """A process may not be moved: another user's without the right to (EPERM), or a thread
    pinned by the kernel or held in another cpuset (EINVAL)."""


def _pin(pids: Iterable[int], cpus: frozenset[int], before: dict[int, set[int]]) -> None:
    """Every thread of `pids` onto `cpus` (threads and processes they start later inherit it),
    each thread's mask before it kept in `before` as it goes; raises `NotMoved` at the first
    refusal, leaving the rest."""
    for pid in pids:
        for tid in _threads(pid):
            try:
                mask = os.sched_getaffinity(tid)
                os.sched_setaffinity(tid, cpus)
            except ProcessLookupError:  # a thread that ended meanwhile
                continue
            except OSError as exc:
                raise NotMoved(f"process {pid}: {exc.strerror}") from exc
            before[tid] = mask


def _restore(pids: Iterable[int], before: dict[int, set[int]], default: set[int]) -> None:
    """Each thread back to its mask before; one started meanwhile to `default`. A thread that
    ended, or that may not be moved (and so never was), is passed over."""
    for pid in pids:
        for tid in _threads(pid):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(tid, before.get(tid, default))


@contextmanager
def apart(system: list[int], others: list[int], split: Split) -> Iterator[None]:
    """The processes of `system` on `split.system` and those of `others` on `split.others`,
    each with every process it started (a server's workers, a database's backends) but this
    one (the processes it started are the ones it measures), until the block ends; then back
    where they were. Raises `NotMoved` (nothing left pinned) where one may not be moved."""
    default = os.sched_getaffinity(0)
    before: dict[int, set[int]] = {}
    try:
        _pin(_family(system), split.system, before)
        _pin(_family(others), split.others, before)
        yield
    finally:
        _restore([*_family(system), *_family(others)], before, default)


def _family(roots: list[int]) -> list[int]:
    pids: list[int] = []
    for root in roots:
        if root == os.getpid():
            pids.append(root)
            continue
        with contextlib.suppress(psutil.NoSuchProcess):  # ended meanwhile
            pids += with_descendants(root)
    return pids


class NotApart(Exception):
    """This machine cannot keep graphchat apart (fewer than two CPUs)."""


@contextmanager
def graphchat_apart(kind: str, backend_url: str, servers: list[int]) -> Iterator[dict[str, Any]]:
    """graphchat's `servers` on CPUs of their own; this process (the client), the backend at
    `backend_url` and a local database of `kind` on the others; yields where each went. Raises
    `NotApart`, or `NotMoved` where a process may not be moved."""
    split = split_cpus()
    if split is None:
        raise NotApart("fewer than two CPUs")
    database = databases.local_server(kind)
    others = [os.getpid(), procs.backend_pid(backend_url)]
    others += [database] if database is not None else []
    with apart(servers, others, split):
        yield split.describe() | {"database_moved": database is not None}


def measured_apart(
    kind: str, backend_url: str, servers: list[int], measure: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """`measure()` with graphchat's `servers` kept apart (`graphchat_apart`), and where each
    side went; `skipped`, and why, where this machine cannot keep them apart."""
    try:
        with graphchat_apart(kind, backend_url, servers) as placed:
            return measure() | placed
    except NotApart as exc:
        return {"skipped": str(exc)}
    except NotMoved as exc:
        return {"skipped": f"a process could not be moved: {exc}"}
