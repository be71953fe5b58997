"""The collector paused while modules load, and as it was afterwards."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from graphchat.collector import paused


@pytest.fixture
def collector_state() -> Iterator[None]:
    was_enabled = gc.isenabled()
    yield
    if was_enabled:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.usefixtures("collector_state")
def test_paused_inside_and_running_again_after() -> None:
    gc.enable()

    with paused():
        assert not gc.isenabled()

    assert gc.isenabled()


@pytest.mark.usefixtures("collector_state")
def test_running_again_after_an_exception_inside() -> None:
    gc.enable()

    with pytest.raises(ImportError), paused():
        raise ImportError("a module failed to load")

    assert gc.isenabled()


@pytest.mark.usefixtures("collector_state")
def test_a_collector_paused_before_stays_paused() -> None:
    gc.disable()

    with paused():
        pass

    assert not gc.isenabled()
