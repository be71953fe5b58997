"""`Translating`: an exception leaving its block becomes ours, or passes as it was."""

from __future__ import annotations

import asyncio

import pytest

from graphchat.errors import ProviderError, Translating


def _ours_for_os_errors(error: BaseException) -> None:
    if isinstance(error, OSError):
        raise ProviderError("the backend failed") from error


def test_an_error_it_knows_becomes_ours_with_the_original_as_cause() -> None:
    original = ConnectionResetError("reset by peer")
    with pytest.raises(ProviderError) as raised, Translating(_ours_for_os_errors):
        raise original
    assert raised.value.__cause__ is original
    assert raised.value.__context__ is original


def test_an_error_it_does_not_know_passes_unchanged() -> None:
    with pytest.raises(KeyError) as raised, Translating(_ours_for_os_errors):
        raise KeyError("x")
    assert raised.value.__cause__ is None


def test_a_cancellation_passes_unchanged() -> None:
    with pytest.raises(asyncio.CancelledError), Translating(_ours_for_os_errors):
        raise asyncio.CancelledError


def test_a_block_that_succeeds_is_not_translated() -> None:
    seen: list[BaseException] = []
    with Translating(seen.append):
        value = 1 + 1
    assert value == 2
    assert seen == []


def test_one_instance_serves_nested_and_repeated_blocks() -> None:
    translating = Translating(_ours_for_os_errors)
    for _ in range(2):
        with pytest.raises(ProviderError), translating, translating:
            raise OSError("down")
