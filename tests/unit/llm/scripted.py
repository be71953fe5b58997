"""A scripted `ChatProvider` for unit tests of the LLM layer: each call takes the next outcome."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from graphchat.errors import GraphchatError
from graphchat.llm.base import ChatChunk, ChatRequest, ModelInfo, Usage


@dataclass
class Outcome:
    tokens: tuple[str, ...] = ("ok",)
    error: GraphchatError | None = None
    error_after: int = 0  # tokens yielded before `error` is raised


@dataclass
class ScriptedProvider:
    name: str
    models: tuple[str, ...] = ("m",)
    outcomes: deque[Outcome] = field(default_factory=deque)
    calls: list[ChatRequest] = field(default_factory=list)
    listing_error: GraphchatError | None = None
    available: bool = True

    def script(self, *outcomes: Outcome) -> ScriptedProvider:
        self.outcomes.extend(outcomes)
        return self

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        self.calls.append(request)
        outcome = self.outcomes.popleft() if self.outcomes else Outcome()
        for index, token in enumerate(outcome.tokens):
            if outcome.error is not None and index == outcome.error_after:
                raise outcome.error
            yield ChatChunk(content=token)
        if outcome.error is not None:
            raise outcome.error
        yield ChatChunk(done=True, finish_reason="stop", usage=Usage(3, len(outcome.tokens)))

    async def list_models(self) -> list[ModelInfo]:
        if self.listing_error is not None:
            raise self.listing_error
        return [ModelInfo(name, self.name, self.available) for name in self.models]

    async def check(self) -> None:
        if self.listing_error is not None:
            raise self.listing_error

    async def aclose(self) -> None:
        pass
