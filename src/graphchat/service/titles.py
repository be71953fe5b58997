"""Thread titles written by the model: after a thread's first reply, a short title is asked for
in the background. It never delays or fails the turn, and a rename by the user always wins."""

from __future__ import annotations

import asyncio
import re

import structlog

from graphchat.errors import GraphchatError
from graphchat.llm.base import ChatMessage, ChatProvider, ChatRequest, SamplingParams
from graphchat.service.turn import Turn
from graphchat.service.turn_rules import title_from
from graphchat.store import Store

log = structlog.get_logger(__name__)

TITLE_PROMPT = (
    "Write a short title (at most six words) for the conversation below. "
    "Answer with the title only: no quotes, no final punctuation."
)
_TITLE_CHARS = 80
_EXCERPT_CHARS = 2_000


# Small models echo the instruction ("Title: …", "The title: The title: …"): peeled off.
_LABEL = re.compile(
    r"^\s*[*_#]*\s*(?:the\s+)?(?:short\s+)?title\s*(?:is\s+|[*_]*\s*[:\-–]\s*[*_]*\s*)",
    re.IGNORECASE,
)
_TITLE_MAX_WORDS = 12  # twice what is asked for: longer is not a title


def clean_title(text: str) -> str | None:
    """The model's answer as a title: one line, no label, quotes or trailing dot; None if it is
    empty or too long to be a title (the first message's title is then kept)."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    while (peeled := _LABEL.sub("", line, count=1)) != line:
        line = peeled
    line = line.strip().strip("\"'“”*#").rstrip(".").strip()
    if not line or len(line.split()) > _TITLE_MAX_WORDS:
        return None
    return line if len(line) <= _TITLE_CHARS else line[: _TITLE_CHARS - 1].rstrip() + "…"


class TitleWriter:
    def __init__(
        self, store: Store, model: ChatProvider, *, max_tokens: int, timeout: float
    ) -> None:
        self._store = store
        self._model = model
        self._max_tokens = max_tokens
        self._timeout = timeout
        self._tasks: set[asyncio.Task[None]] = set()

    def after_reply(self, turn: Turn) -> None:
        """Start titling `turn`'s thread if this was its first turn (returns at once)."""
        first = next((m for m in turn.input_messages if m.seq == 1 and m.role == "user"), None)
        if first is None or turn.run.model is None:
            return  # a kept thread's turn: the reply need not be looked for
        reply = next((m for m in reversed(turn.output_messages) if m.content), None)
        if reply is None:
            return
        request = ChatRequest(
            model=turn.run.model,
            messages=(
                ChatMessage(role="system", content=TITLE_PROMPT),
                ChatMessage(role="user", content=first.content[:_EXCERPT_CHARS]),
                ChatMessage(role="assistant", content=reply.content[:_EXCERPT_CHARS]),
                ChatMessage(role="user", content="The title:"),
            ),
            params=SamplingParams(max_tokens=self._max_tokens, temperature=0.2),
        )
        automatic = title_from(first.content)  # what the store titled it: replaced only if kept
        task = asyncio.create_task(
            self._write(turn.thread.id, automatic, request), name="thread-title"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(self, thread_id: str, automatic: str, request: ChatRequest) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                parts = [chunk.content async for chunk in self._model.stream(request)]
            title = clean_title("".join(parts))
            if title is not None:
                written = await self._store.threads.replace_title(thread_id, automatic, title)
                log.info("thread_titled", thread_id=thread_id, written=written)
        except (GraphchatError, TimeoutError) as exc:
            log.info("thread_title_skipped", thread_id=thread_id, error=str(exc))

    @property
    def pending(self) -> int:
        """Titles being written now."""
        return len(self._tasks)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
