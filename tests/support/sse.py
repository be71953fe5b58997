"""A small, strict SSE reader for tests: parses frames exactly as the wire carries them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Frame:
    event: str | None = None
    data: str | None = None
    id: str | None = None
    retry: int | None = None
    comments: list[str] = field(default_factory=list)

    def json(self) -> Any:
        assert self.data is not None
        return json.loads(self.data)


def frames(lines: Iterator[str]) -> Iterator[Frame]:
    """Frames from the response's lines; comment-only blocks come out as frames too."""
    frame = Frame()
    dirty = False
    for line in lines:
        if line == "":
            if dirty:
                yield frame
            frame, dirty = Frame(), False
            continue
        dirty = True
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "":
            frame.comments.append(value)
        elif name == "event":
            frame.event = value
        elif name == "data":
            assert frame.data is None, "one data line per event"
            frame.data = value
        elif name == "id":
            frame.id = value
        elif name == "retry":
            frame.retry = int(value)
    if dirty:
        yield frame
