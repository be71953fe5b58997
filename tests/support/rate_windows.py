"""Rate-limit tests kept clear of a window's edge.

graphchat's limiter is the `limits` library's sliding window counter: a hit weighs the previous
window's count by the share of that window still inside the period, adds this window's count
and floors the sum. A hit just after a window's edge therefore does not see a lone hit just
before it (1 × 0.999 floors to 0), so a burst that crosses a minute's edge can be allowed one
hit more than the limit. A test that expects its Nth hit refused sends its hits in one window.
"""

from __future__ import annotations

import time

PERIOD = 60.0  # the tests' limits are per minute; the windows start at whole minutes
MARGIN = 5.0  # seconds a test's burst of hits needs, with room to spare


def clear_of_window_edge(*, period: float = PERIOD, margin: float = MARGIN) -> None:
    """Return at once, or sleep into the next window if less than `margin` of this one is left."""
    left = period - time.time() % period
    if left < margin:
        time.sleep(left + 0.05)
