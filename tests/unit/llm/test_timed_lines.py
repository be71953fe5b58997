"""A streamed reply's lines as `timed_lines` cuts them from its reads: lines split across reads
or several to a read, and the timeouts bounding each read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from graphchat.errors import ProviderTimeout
from graphchat.llm.timeouts import Timeouts
from graphchat.llm.transport import timed_lines

_FAR = 3600.0


class _ScriptedReply:
    """An `HttpReply` whose body arrives as the given reads, with the given waits before each."""

    status_code = 200

    def __init__(self, reads: list[tuple[float, bytes]]) -> None:
        self._reads = reads

    async def aread(self) -> bytes:
        return b"".join(data for _, data in self._reads)

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        for wait, data in self._reads:
            await asyncio.sleep(wait)
            yield data

    async def aclose(self) -> None:
        return None


async def _lines(reads: list[tuple[float, bytes]], timeouts: Timeouts, into: list[bytes]) -> None:
    deadline = asyncio.get_running_loop().time() + _FAR
    async for line in timed_lines(_ScriptedReply(reads), timeouts, deadline):
        into.append(line)


async def test_lines_are_cut_from_reads_whatever_their_bounds() -> None:
    reads = [
        b'{"a": 1}\n{"b": 2}\n{"c"',  # two lines and the start of a third
        b": 3}\r",  # its end, but for half of its \r\n
        b"\n\n   \n",  # the other half, and blank lines
        b'{"d": 4}\r\n{"e": 5}',  # the last line has no end
    ]
    lines: list[bytes] = []

    await _lines([(0.0, data) for data in reads], Timeouts(), lines)

    assert lines == [b'{"a": 1}', b'{"b": 2}', b'{"c": 3}', b'{"d": 4}', b'{"e": 5}']


async def test_lines_that_came_in_one_read_pass_before_a_stall_times_out() -> None:
    reads = [(0.0, b"one\ntwo\nthree\n"), (1.0, b"four\n")]
    lines: list[bytes] = []

    with pytest.raises(ProviderTimeout, match="stalled"):
        await _lines(reads, Timeouts(first_token=_FAR, stall=0.1), lines)

    assert lines == [b"one", b"two", b"three"]


async def test_the_first_token_bound_holds_until_a_line_that_is_not_blank() -> None:
    """Blank lines (an SSE keep-alive, say) are not the first token: the stall bound, shorter
    here, does not apply to the wait after them."""
    reads = [(0.0, b"\n\n"), (0.3, b"first\n")]
    lines: list[bytes] = []

    await _lines(reads, Timeouts(first_token=5.0, stall=0.1), lines)

    assert lines == [b"first"]


async def test_a_first_token_later_than_its_bound_times_out() -> None:
    lines: list[bytes] = []

    with pytest.raises(ProviderTimeout, match="first token"):
        await _lines([(0.3, b"late\n")], Timeouts(first_token=0.1, stall=_FAR), lines)

    assert lines == []
