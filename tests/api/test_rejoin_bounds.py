"""Rejoining with a `Last-Event-ID` beyond any id a run can have: a clean stream, not a broken one.

Found by `bench fuzz` on PostgreSQL: an id over 2**31 - 1 failed the 32-bit comparison after the
stream had started, and the client saw a broken chunked response.
"""

from __future__ import annotations

import httpx

from support.sse import frames


def test_a_last_event_id_beyond_every_event_ends_the_stream_cleanly(api: httpx.Client) -> None:
    turn = api.post("/chat", json={"message": "hello", "thread_id": "rejoin"})
    assert turn.status_code == 200, turn.text
    url = f"/threads/rejoin/runs/{turn.json()['run_id']}/stream"
    with api.stream("GET", url, headers={"Last-Event-ID": "3000000000"}) as response:
        assert response.status_code == 200
        events = [frame.event for frame in frames(response.iter_lines()) if frame.event]
    assert events[-1] == "end", events
    assert "messages" not in events  # nothing after that id to replay
