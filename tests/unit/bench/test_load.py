"""The load generator's bookkeeping, and the order `bench turn` alternates its sides in."""

from __future__ import annotations

from bench.load import Run
from bench.turn import sides_in_order


def test_a_later_round_is_counted_into_the_run() -> None:
    first = Run(latencies=[0.001, 0.002], errors=1, completed=5, elapsed=2.0, first_error="A")
    later = Run(latencies=[0.003], errors=2, completed=4, elapsed=1.5, first_error="B")

    first.add(later)

    assert first.latencies == [0.001, 0.002, 0.003]
    assert (first.errors, first.completed, first.elapsed) == (3, 9, 3.5)
    assert first.first_error == "A"  # the first failure seen stays the one reported


def test_the_first_error_may_come_from_a_later_round() -> None:
    run = Run(latencies=[0.001], completed=1, elapsed=1.0)

    run.add(Run(errors=1, completed=1, elapsed=1.0, first_error="HTTP 500"))

    assert run.first_error == "HTTP 500"


def test_sides_alternate_so_each_comes_first_as_often() -> None:
    order = sides_in_order(4)

    assert order == ["backend", "graphchat", "graphchat", "backend"] * 2
    assert order.count("backend") == order.count("graphchat") == 4
    mean_position = {side: sum(i for i, s in enumerate(order) if s == side) for side in order}
    assert mean_position["backend"] == mean_position["graphchat"]  # no side later on average
