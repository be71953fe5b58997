"""bench/placement.py: processes kept on CPUs apart for a measurement, then put back."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
from bench import databases, procs
from bench.placement import NotMoved, apart, measured_apart, split_cpus

# A process with a second thread and a child process; on a line from stdin it starts another
# thread and prints that thread's id.
_FAMILY = """
import subprocess, sys, threading, time
threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(child.pid, flush=True)
sys.stdin.readline()
later = threading.Thread(target=time.sleep, args=(60,), daemon=True)
later.start()
print(later.native_id, flush=True)
sys.stdin.readline()
"""

needs_two_cpus = pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < 2, reason="keeping processes apart needs two CPUs"
)


def _masks(pid: int) -> dict[int, frozenset[int]]:
    threads = [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    return {tid: frozenset(os.sched_getaffinity(tid)) for tid in threads}


def _as_before(before: dict[int, frozenset[int]], pid: int) -> bool:
    """Whether each thread of `pid` that was there `before` (this test process may end a thread
    of an earlier test meanwhile) has its mask back."""
    after = _masks(pid)
    return all(after[tid] == mask for tid, mask in before.items() if tid in after)


@pytest.fixture
def family() -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", _FAMILY], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    yield process
    for child in psutil.Process(process.pid).children(recursive=True):
        child.kill()
    process.kill()
    process.wait()


def _set_up(family: subprocess.Popen[str]) -> int:
    """The family's child's pid, once the family has started its second thread and its child:
    masks read before then would miss that thread."""
    assert family.stdout is not None
    return int(family.stdout.readline())


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], text=True)
    yield process
    process.kill()
    process.wait()


def test_the_cpus_are_split_in_two_disjoint_halves() -> None:
    four = split_cpus([3, 0, 2, 1])
    three = split_cpus([0, 1, 2])

    assert four is not None and three is not None
    assert (four.system, four.others) == ({2, 3}, {0, 1})
    assert (three.system, three.others) == ({1, 2}, {0})
    assert four.describe() == {"graphchat_cpus": [2, 3], "other_cpus": [0, 1]}
    assert split_cpus([5]) is None


@needs_two_cpus
def test_each_side_runs_on_its_own_cpus_and_is_put_back_after(
    family: subprocess.Popen[str], sleeper: subprocess.Popen[str]
) -> None:
    assert family.stdin is not None and family.stdout is not None
    grandchild = _set_up(family)
    split = split_cpus()
    assert split is not None
    before = {pid: _masks(pid) for pid in (family.pid, grandchild, sleeper.pid)}

    with apart([family.pid], [sleeper.pid], split):
        family.stdin.write("\n")
        family.stdin.flush()
        later = int(family.stdout.readline())  # a thread started while kept apart
        for pid in (family.pid, grandchild):
            assert set(_masks(pid).values()) == {split.system}
        assert set(_masks(sleeper.pid).values()) == {split.others}

    after = {pid: _masks(pid) for pid in (family.pid, grandchild, sleeper.pid)}
    assert after[family.pid].pop(later) == os.sched_getaffinity(0)
    assert after == before


@needs_two_cpus
def test_the_processes_are_put_back_when_the_measurement_fails(
    family: subprocess.Popen[str], sleeper: subprocess.Popen[str]
) -> None:
    split = split_cpus()
    assert split is not None
    _set_up(family)
    before = {pid: _masks(pid) for pid in (family.pid, sleeper.pid)}

    with pytest.raises(RuntimeError), apart([family.pid], [sleeper.pid], split):
        raise RuntimeError("the measurement failed")

    assert {pid: _masks(pid) for pid in (family.pid, sleeper.pid)} == before


@needs_two_cpus
def test_this_process_moves_alone_and_the_others_with_their_children(
    family: subprocess.Popen[str], sleeper: subprocess.Popen[str]
) -> None:
    # The bench process started the servers it measures: they are not on its side.
    grandchild = _set_up(family)
    split = split_cpus()
    assert split is not None
    ours = _masks(os.getpid())

    with apart([sleeper.pid], [os.getpid(), family.pid], split):
        assert set(_masks(sleeper.pid).values()) == {split.system}
        for pid in (os.getpid(), family.pid, grandchild):
            assert set(_masks(pid).values()) == {split.others}

    assert _as_before(ours, os.getpid())


def test_the_backend_serving_a_url_is_found_by_its_port() -> None:
    with procs.backend() as url:
        pid = procs.backend_pid(url)

        assert "bench.backend" in " ".join(psutil.Process(pid).cmdline())
        assert psutil.Process(pid).ppid() == os.getpid()
    with pytest.raises(LookupError):
        procs.backend_pid(url)


@pytest.mark.skipif(not databases.postgres_admin_url(), reason="no PostgreSQL")
def test_a_local_postgresql_is_found_by_its_main_process() -> None:
    postmaster = databases.local_server("postgres")

    assert postmaster is not None
    process = psutil.Process(postmaster)
    assert "postgres" in process.name()
    assert process.children()  # its backends and helpers
    assert databases.local_server("sqlite") is None


def _kernel_pinned_thread() -> int | None:
    """A kernel thread bound to its CPU (`migration/0`): the kernel refuses to move it."""
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/comm") as comm:
                if comm.read().strip() == "migration/0":
                    return int(entry)
        except (OSError, ValueError):  # not a process, or one that ended
            continue
    return None


@needs_two_cpus
def test_a_refused_move_raises_and_leaves_nothing_pinned(
    family: subprocess.Popen[str], sleeper: subprocess.Popen[str]
) -> None:
    refusing = _kernel_pinned_thread()
    if refusing is None:
        pytest.skip("no kernel thread bound to a CPU is visible here")
    split = split_cpus()
    assert split is not None
    _set_up(family)
    before = {pid: _masks(pid) for pid in (family.pid, sleeper.pid)}

    # `family` is moved first; the kernel then refuses `refusing` (EINVAL, not EPERM).
    with (
        pytest.raises(NotMoved, match=f"process {refusing}"),
        apart([family.pid, refusing], [sleeper.pid], split),
    ):
        pytest.fail("the block ran though a process could not be moved")

    assert {pid: _masks(pid) for pid in (family.pid, sleeper.pid)} == before


@needs_two_cpus
def test_a_measurement_apart_is_returned_with_where_each_side_went(
    sleeper: subprocess.Popen[str],
) -> None:
    split = split_cpus()
    assert split is not None

    def measure() -> dict[str, Any]:
        return {
            "server": set(_masks(sleeper.pid).values()),
            "bench": set(_masks(os.getpid()).values()),
        }

    with procs.backend() as url:
        measured = measured_apart("sqlite", url, [sleeper.pid], measure)

    assert measured == {
        "server": {split.system},
        "bench": {split.others},
        "graphchat_cpus": sorted(split.system),
        "other_cpus": sorted(split.others),
        "database_moved": False,
    }


@needs_two_cpus
def test_a_measurement_that_cannot_be_kept_apart_is_skipped_with_the_reason(
    sleeper: subprocess.Popen[str],
) -> None:
    refusing = _kernel_pinned_thread()
    if refusing is None:
        pytest.skip("no kernel thread bound to a CPU is visible here")
    ours, before = _masks(os.getpid()), _masks(sleeper.pid)

    def measure() -> dict[str, Any]:
        pytest.fail("measured though graphchat could not be kept apart")

    with procs.backend() as url:
        measured = measured_apart("sqlite", url, [sleeper.pid, refusing], measure)

    assert measured == {
        "skipped": f"a process could not be moved: process {refusing}: Invalid argument"
    }
    assert _masks(sleeper.pid) == before
    assert _as_before(ours, os.getpid())
