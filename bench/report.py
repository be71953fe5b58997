"""`docs/performance.md`, regenerated from `bench/results/*.json` (`python -m bench report`),
with its charts (`bench/charts.py`) and the README's summary (`bench/readme.py`).

Hand-written analysis (profiles, causes of missed targets) lives in `bench/analysis.md` and is
copied in verbatim, so regenerating the numbers never loses it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import charts, readme
from bench.databases import KINDS
from bench.markdown import table
from bench.results import load_all
from bench.sections import SECTIONS
from bench.targets import evaluate

ROOT = Path(__file__).resolve().parent
OUTPUT = ROOT.parent / "docs" / "performance.md"
ANALYSIS = ROOT / "analysis.md"

INTRO = """\
# Performance

What graphchat adds on top of the model, and how it scales. Every number below comes from
`bench/results/*.json`, written by `make bench` (or `python -m bench <name>`); this page is
regenerated from those files (`python -m bench report`). The benchmarks drive the real parts:
graphchat as a `graphchat serve` subprocess (`GRAPHCHAT_LOG_LEVEL=warning`, rate limit off), the
Ollama-protocol test double (`tests/support/fake_ollama.py`) in a process of its own as the
"instant backend", SQLite files and a scratch PostgreSQL database. The load generator is an async
httpx client in the benchmark process. Benchmarks report numbers; nothing asserts on speed.

Quick runs: every benchmark takes its own flags, e.g.
`python -m bench turn --databases sqlite --concurrency 1 --duration 2`,
`python -m bench listing --threads 10000 --messages 100000 --big 10000`
(`python -m bench <name> --help`). PostgreSQL runs when `GRAPHCHAT_TEST_POSTGRES_URL` (or
`GRAPHCHAT_BENCH_POSTGRES_URL`) holds an admin URL: `source scripts/test-services.sh` sets it.
"""


def _machine(results: dict[str, dict[str, Any]]) -> str:
    """The machines the results were measured on (a session may land on another CPU), and each
    benchmark's run: which CPU, when, and the load around it."""
    machines = [result["machine"] for result in results.values()]

    def seen(key: str) -> str:
        # A run that reached no server of this kind (`bench targets --from-results` without the
        # services' environment) did not measure it: the runs that did say what it was.
        known = [str(m[key]) for m in machines if m.get(key)]
        return " · ".join(dict.fromkeys(known)) if known else "not measured"

    rows = [
        ("CPU", seen("cpu")),
        ("Cores", seen("cores")),
        ("RAM", " · ".join(dict.fromkeys(f"{m['ram_gb']} GB" for m in machines))),
        ("OS", seen("os")),
        ("Python", seen("python")),
        ("SQLite", seen("sqlite")),
        ("PostgreSQL", seen("postgresql")),
    ]
    loads = [
        (
            name,
            result["machine"]["cpu"],
            result["machine"]["date"],
            result["seconds"],
            _load(result["machine"]["load_at_start"]),
            _load(result["machine"]["load_at_end"]),
            _loop(result["machine"]),
        )
        for name, result in results.items()
    ]
    return (
        "## Machine\n\n"
        + table(("", ""), rows)
        + "\nEach benchmark's run: the CPU it ran on (numbers from different CPUs do not compare),"
        " when, and the load average (1/5/15 min) around it. The machine has few cores and is"
        " shared: a load far above the core count means the numbers include waiting for a CPU."
        " The last column is the CPU time of a fixed Python loop before and after the run"
        " (`bench/machine.py`): the host's own speed, which on round 53's quiet machine"
        " switched between ~7 and ~13 ms within seconds (bench/analysis.md) and moves every CPU"
        " figure with it.\n\n"
        + table(
            ("benchmark", "CPU", "date", "seconds", "load at start", "load at end", "loop, ms"),
            loads,
        )
    )


def _loop(machine: dict[str, Any]) -> str:
    """`7.4 → 12.9`; a dash for a result measured before the loop was timed."""
    if "python_loop_ms_at_start" not in machine:
        return "—"
    return f"{machine['python_loop_ms_at_start']:.1f} → {machine['python_loop_ms_at_end']:.1f}"


def _load(values: list[float]) -> str:
    return " / ".join(f"{value:.2f}" for value in values)


def verdicts(results: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The last `python -m bench targets` run's verdicts, else judged from the other results."""
    if "targets" in results:
        judged: dict[str, list[dict[str, Any]]] = results["targets"]["verdicts"]
        return judged
    return evaluate(results, list(KINDS))


def _targets(results: dict[str, dict[str, Any]]) -> str:
    """The targets of issue 14 as `python -m bench targets` judges them (bench/targets.py)."""
    rows = [
        (
            row["target"],
            kind,
            row.get("limit"),
            readme.shown(row["value"], row["limit"]) if "value" in row else None,
            row.get("backend_alone"),
            row.get("context"),
            row["verdict"],
        )
        for kind, kind_rows in verdicts(results).items()
        for row in kind_rows
    ]
    header = ("target", "database", "limit", "measured", "backend alone", "scale / note", "verdict")
    intro = "## Targets\n\n"
    if "targets" in results:
        run = results["targets"]["machine"]
        intro += f"From `python -m bench targets` ({run['date']}, load average"
        intro += f" {run['load_at_start'][0]} at start, {run['load_at_end'][0]} at the end"
        if results["targets"].get("parameters", {}).get("from_results"):
            intro += "; `--from-results`: judged from each benchmark's last saved run"
        intro += "); the sections below come from each benchmark's own last run.\n\n"
    return intro + table(header, rows)


def _pictures() -> str:
    out = "## At a glance\n\nDrawn from the result files named under each title"
    out += " (`python -m bench charts`, SVG in `docs/img/`).\n\n"
    return out + "\n".join(f"![{title}](img/{name})\n" for name, title in charts.CHARTS)


def render(results: dict[str, dict[str, Any]]) -> str:
    parts = [INTRO, _pictures()]
    if results:
        parts += [_machine(results), _targets(results)]
    parts += [SECTIONS[name](results[name]) for name in SECTIONS if name in results]
    if ANALYSIS.exists():
        parts.append(ANALYSIS.read_text())
    return "\n".join(parts)


def write() -> list[Path]:
    """docs/performance.md, its charts and the README's summary, from the results on disk."""
    results = load_all()
    OUTPUT.write_text(render(results))
    return [OUTPUT, *charts.write(results), readme.write(results, verdicts(results))]
