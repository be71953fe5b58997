"""bench/procs.py's CPU clocks: a server's CPU split into its own code's and the kernel's."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass

from bench import procs

_COMPUTES = "import time\nend = time.time() + 3\nwhile time.time() < end: sum(range(1000))"
# Reading /dev/zero is the kernel filling the buffer: nearly all of it is system time.
_CALLS = (
    "import os, time\nzero = os.open('/dev/zero', os.O_RDONLY)\nend = time.time() + 3\n"
    "while time.time() < end: os.read(zero, 1 << 16)"
)


@dataclass
class _Started:
    process: subprocess.Popen[bytes]


def test_the_kernel_s_share_is_told_apart_from_the_process_s_own() -> None:
    computing = subprocess.Popen([sys.executable, "-c", _COMPUTES])
    calling = subprocess.Popen([sys.executable, "-c", _CALLS])
    try:
        time.sleep(1.5)
        computed = procs.cpu_split(_Started(computing))
        called = procs.cpu_split(_Started(calling))
        total = procs.cpu_seconds(_Started(calling))
    finally:
        computing.kill()
        calling.kill()
        computing.wait()
        calling.wait()

    assert computed[0] > 0.3 and computed[1] < computed[0] / 3
    assert called[1] > 0.3 and called[0] < called[1]
    assert total >= sum(called)  # read a moment later, from the same clocks
