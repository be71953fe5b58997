"""A `ChatProvider` wrapper that times every model call, counts tokens and logs one line per call.

The line carries the run's `request_id` / `run_id` / `thread_id` from the logging context.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator

import structlog

from graphchat.errors import GraphchatError
from graphchat.llm.base import ChatChunk, ChatProvider, ChatRequest, ModelInfo
from graphchat.observability.metrics import Metrics

log = structlog.get_logger("graphchat.llm")


class InstrumentedProvider:
    """Delegates to `inner`, recording latency, time to first token and token usage."""

    def __init__(
        self,
        inner: ChatProvider,
        metrics: Metrics,
        *,
        log_content: bool = False,
        count_cache: bool = False,
    ) -> None:
        self._inner = inner
        self._metrics = metrics
        self._log_content = log_content  # prompts and replies may hold secrets: opt-in only
        self._count_cache = count_cache  # with the reply cache on, every call is a hit or a miss
        self.name = inner.name

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        started = time.perf_counter()
        first_token: float | None = None
        outcome = "error"
        prompt = completion = 0
        cached = False
        reply: list[str] = []
        try:
            async for chunk in self._inner.stream(request):
                if self._log_content:
                    reply.append(chunk.content)
                if first_token is None and (chunk.content or chunk.tool_calls):
                    first_token = time.perf_counter() - started
                if chunk.usage is not None:
                    prompt, completion = chunk.usage.prompt_tokens, chunk.usage.completion_tokens
                cached = cached or chunk.cached
                yield chunk
            outcome = "ok"
        except GraphchatError as exc:
            outcome = exc.code
            raise
        except BaseException:
            outcome = "cancelled"
            raise
        finally:
            seconds = time.perf_counter() - started
            self._metrics.observe_model_call(request.model, outcome, seconds, first_token)
            self._metrics.count_tokens(request.model, prompt, completion)
            if self._count_cache and outcome == "ok":
                self._metrics.count_cache_lookup(cached)
            content = {}
            if self._log_content:
                last = request.messages[-1].content if request.messages else ""
                content = {"prompt": last, "reply": "".join(reply)}
            log.info(
                "model_call",
                **content,
                model=request.model,
                outcome=outcome,
                latency_ms=round(seconds * 1000, 3),
                first_token_ms=None if first_token is None else round(first_token * 1000, 3),
                prompt_tokens=prompt,
                completion_tokens=completion,
            )

    async def list_models(self) -> list[ModelInfo]:
        return await self._inner.list_models()

    async def check(self) -> None:
        await self._inner.check()

    async def aclose(self) -> None:
        await self._inner.aclose()
