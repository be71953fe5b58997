"""bench/compare.py: the start order's bias cancels over the two passes, and trees export."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.compare import _sources, difference


def test_the_start_orders_bias_cancels_over_the_two_passes() -> None:
    # The server started second gains 0.35 ms; "after" is truly 0.15 ms faster than "before".
    first_pass = {"before": [(4.0, 9.0), (4.2, 9.2)], "after": [(3.6, 9.1), (3.6, 9.3)]}
    second_pass = {"after": [(4.0, 9.5), (4.0, 9.5)], "before": [(3.8, 9.0), (3.8, 9.0)]}

    found = difference([first_pass, second_pass], "before", "after")

    assert found.per_pass == pytest.approx([-0.5, 0.2])
    assert found.mean == pytest.approx(-0.15)
    assert found.start_order == pytest.approx(0.35)
    assert found.cpu == pytest.approx(0.3)


def test_a_tree_is_a_directory_or_an_exported_revision(tmp_path: Path) -> None:
    with _sources("HEAD", tmp_path) as exported:
        assert (exported / "graphchat" / "app.py").is_file()
    with _sources(str(exported.parent), tmp_path) as given:
        assert given == exported
