"""The embedded model's own process: `python -m graphchat.llm.embedded_worker CONFIG_JSON`.

llama.cpp is native code: an instruction this CPU withholds, a bad GGUF or running out of memory
kills the process it runs in. Here that process is this small worker, not the service
(`embedded_process.py` supervises it, as Ollama runs its runners).

It speaks JSON lines. On start it loads the model and generates one token (the probe), then writes
`{"type": "ready"}`, or `{"type": "failed", "reason": …}` and exits. Then, from its standard input:
`{"type": "generate", "id": N, "messages": […], "options": {…}}` answered by `token`* then `done`
(or `error`) lines carrying the same id, and `{"type": "cancel", "id": N}`, which stops that
reply between two tokens. End of input ends the worker. Only the standard library and llama_cpp are
imported, so it starts fast.

A conversation longer than the model's context window loses its oldest messages here, as Ollama
does: the service's window is an estimate for any model, and only this process counts this
model's tokens.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

_PROBE_MESSAGES: Any = [{"role": "user", "content": "Hi"}]

# Tokens a chat template adds around each message, and around the whole prompt (BOS, the
# reply's opening, a default system prompt some templates insert): counted generously, so a
# conversation that fits here fits once formatted.
_TEMPLATE_TOKENS_PER_MESSAGE = 8
_TEMPLATE_TOKENS = 48
_REPLY_ROOM = 512  # tokens kept free for a reply that sets no `max_tokens`


class ContextOverflow(ValueError):
    """The newest message alone does not fit the context window."""


def fit_to_context(
    messages: list[dict[str, Any]],
    count_tokens: Callable[[str], int],
    n_ctx: int,
    max_tokens: int | None,
) -> list[dict[str, Any]]:
    """The system messages and the newest others that fit `n_ctx` with room for the reply."""
    room = min(max_tokens or _REPLY_ROOM, n_ctx // 2)
    budget = n_ctx - room - _TEMPLATE_TOKENS

    def cost(message: dict[str, Any]) -> int:
        return count_tokens(message["content"]) + _TEMPLATE_TOKENS_PER_MESSAGE

    system = [m for m in messages if m["role"] == "system"]
    others = [m for m in messages if m["role"] != "system"]
    budget -= sum(cost(m) for m in system)
    kept = 0
    for message in reversed(others):
        budget -= cost(message)
        if budget < 0:
            break
        kept += 1
    if kept == 0 and others:
        raise ContextOverflow(
            f"the newest message (with the system prompt) does not fit the model's context "
            f"window of {n_ctx} tokens (GRAPHCHAT_EMBEDDED_N_CTX) with {room} left for the reply"
        )
    return system + others[len(others) - kept :]


class _Channel:
    """The protocol's output, on a private copy of stdout: native code printing to fd 1 would
    otherwise corrupt it, so fd 1 itself is pointed at stderr."""

    def __init__(self) -> None:
        self._out: IO[str] = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
        os.dup2(2, 1)

    def send(self, message: dict[str, Any]) -> None:
        self._out.write(json.dumps(message, separators=(",", ":")) + "\n")


class _Commands:
    """Reads standard input in a thread: replies to generate are queued, cancels flagged at once."""

    def __init__(self) -> None:
        self.pending: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._cancelled: set[int] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._read, name="commands", daemon=True).start()

    def _read(self) -> None:
        for line in sys.stdin:
            try:
                command = json.loads(line)
            except ValueError:
                continue
            if command.get("type") == "cancel":
                with self._lock:
                    self._cancelled.add(int(command["id"]))
            elif command.get("type") == "generate":
                self.pending.put(command)
        self.pending.put(None)  # the parent closed our input: finish

    def cancelled(self, request_id: int) -> bool:
        with self._lock:
            return request_id in self._cancelled

    def forget(self, request_id: int) -> None:
        with self._lock:
            self._cancelled.discard(request_id)


def _load(config: dict[str, Any]) -> Any:
    from llama_cpp import Llama  # the native library loads here

    llama = Llama(
        model_path=config["model_path"],
        n_ctx=config["n_ctx"],
        n_threads=config.get("n_threads"),
        verbose=False,
    )
    # The probe: a token generated proves this CPU runs the build, not only that it loads.
    llama.create_chat_completion(messages=_PROBE_MESSAGES, max_tokens=1, temperature=0)
    return llama


def _count(llama: Any, text: str) -> int:
    return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))


def _generate(llama: Any, command: dict[str, Any], commands: _Commands, out: _Channel) -> None:
    request_id = int(command["id"])
    if commands.cancelled(request_id):
        out.send({"type": "done", "id": request_id, "finish_reason": "cancelled"})
        return
    options = command.get("options", {})
    messages = fit_to_context(
        command["messages"],
        lambda text: _count(llama, text),
        llama.n_ctx(),
        options.get("max_tokens"),
    )
    stream = llama.create_chat_completion(messages=messages, stream=True, **options)
    produced, reason = 0, "stop"
    for part in stream:
        if commands.cancelled(request_id):
            stream.close()
            reason = "cancelled"
            break
        choice = part["choices"][0]
        text = choice.get("delta", {}).get("content") or ""
        if text:
            produced += 1
            out.send({"type": "token", "id": request_id, "text": text})
        reason = choice.get("finish_reason") or reason
    # The context holds the prompt plus what was generated: the rest is the prompt.
    out.send(
        {
            "type": "done",
            "id": request_id,
            "finish_reason": reason,
            "prompt_tokens": max(0, llama.n_tokens - produced),
            "completion_tokens": produced,
        }
    )


def _serve(llama: Any, commands: _Commands, out: _Channel) -> None:
    while (command := commands.pending.get()) is not None:
        request_id = int(command["id"])
        try:
            _generate(llama, command, commands, out)
        except ContextOverflow as exc:
            out.send({"type": "error", "id": request_id, "kind": "context", "message": str(exc)})
        except ValueError as exc:  # llama.cpp refusing the request's options
            out.send({"type": "error", "id": request_id, "kind": "invalid", "message": str(exc)})
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            out.send({"type": "error", "id": request_id, "kind": "failed", "message": message})
        finally:
            commands.forget(request_id)


def main(argv: list[str]) -> int:
    # A terminal's Ctrl-C reaches the whole process group. The server stops this worker itself
    # as it shuts down (its standard input closes), so the worker leaves SIGINT to the server;
    # dying of it first was logged as a crash, and the model restarted during the shutdown.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = _Channel()
    config = json.loads(argv[1])
    try:
        llama = _load(config)
    except Exception as exc:
        out.send({"type": "failed", "reason": f"{type(exc).__name__}: {exc}"})
        return 3
    out.send({"type": "ready", "pid": os.getpid()})
    _serve(llama, _Commands(), out)
    llama.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
