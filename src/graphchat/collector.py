"""Python's cyclic garbage collector, paused while a process loads its modules.

Loading allocates hundreds of thousands of objects and frees almost none, so the collections
their count triggers find next to nothing: ~100 ms of a served process's ~1.2 s start-up
(bench/analysis.md, round 38). Paused only around loading, never while serving.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """No automatic collection inside; the collector as it was afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
