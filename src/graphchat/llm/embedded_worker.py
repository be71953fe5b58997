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
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
from typing import IO, Any

_PROBE_MESSAGES: Any = [{"role": "user", "content": "Hi"}]


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


def _generate(llama: Any, command: dict[str, Any], commands: _Commands, out: _Channel) -> None:
    request_id = int(command["id"])
    if commands.cancelled(request_id):
        out.send({"type": "done", "id": request_id, "finish_reason": "cancelled"})
        return
    stream = llama.create_chat_completion(
        messages=command["messages"], stream=True, **command.get("options", {})
    )
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
        except ValueError as exc:  # llama.cpp: "Requested tokens (…) exceed context window …"
            out.send({"type": "error", "id": request_id, "kind": "invalid", "message": str(exc)})
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            out.send({"type": "error", "id": request_id, "kind": "failed", "message": message})
        finally:
            commands.forget(request_id)


def main(argv: list[str]) -> int:
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
