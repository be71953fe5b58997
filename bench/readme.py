"""The README's performance summary, generated from `bench/results/` with docs/performance.md.

Only the part between the two markers is rewritten; the prose around it is the README's own.
A test regenerates it from the committed results, so the README states the numbers measured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.svg import number

Results = dict[str, dict[str, Any]]
Verdicts = dict[str, list[dict[str, Any]]]

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN = "<!-- from bench/results/ by `python -m bench report`: edit bench/readme.py, not this -->"
END = "<!-- end of the generated performance summary -->"
NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def _cell(row: dict[str, Any] | None) -> str:
    """`17.25 ms: FAIL (backend alone 1.76; p50 19.006 ms)`: value, verdict, what it is of."""
    if row is None or "value" not in row:
        return "not measured"
    unit = row["limit"].rsplit(" ", 1)[-1]
    notes = [row["context"]] if row.get("context") else []
    if row.get("backend_alone") is not None:
        notes.insert(0, f"backend alone {number(row['backend_alone'])}")
    value = f"{shown(row['value'], row['limit'])} {unit}".replace(" ×", "×")
    return f"{value}: {row['verdict']}" + (f" ({'; '.join(notes)})" if notes else "")


def shown(value: float, limit: str) -> str:
    """`value` as the charts print it, unless that rounds it onto the limit (`≤ 3.0 ms`): a
    3.004 ms that failed ≤ 3 ms is not shown as `3 ms: FAIL`."""
    printed = number(value)
    bound = float(limit.split()[1])
    if value != bound and float(printed.replace(",", "")) == bound:
        return f"{value:,.3f}"
    return printed


def _targets(results: Results, verdicts: Verdicts) -> str:
    kinds = [kind for kind in NAMES if kind in verdicts]
    names = list(dict.fromkeys(row["target"] for kind in kinds for row in verdicts[kind]))
    lines = ["| target | " + " | ".join(NAMES[kind] for kind in kinds) + " | limit |"]
    lines.append("|---" * (len(kinds) + 2) + "|")
    for name in names:
        rows = {
            kind: next((r for r in verdicts[kind] if r["target"] == name), None) for kind in kinds
        }
        limit = next((r["limit"] for r in rows.values() if r and "limit" in r), "")
        lines.append(f"| {name} | " + " | ".join(_cell(rows[k]) for k in kinds) + f" | {limit} |")
    return "\n".join(lines) + "\n"


def _conditions(result: dict[str, Any], what: str) -> str:
    machine = result["machine"]
    cpu = f"{machine['cpu']}, {machine['cores']} cores, {machine['ram_gb']} GB RAM"
    # The CPU's name alone does not tell two VMs apart; their kernel builds may.
    system = str(machine.get("os", "")).split("-with-")[0]
    cpu += f", {system}" if system else ""
    load = f"{machine['load_at_start'][0]}–{machine['load_at_end'][0]}"
    return f"{what} on {machine['date']} ({cpu}; load average {load})"


def _embedded(result: dict[str, Any]) -> str:
    boundary = result.get("process_boundary")
    if not boundary:
        return ""
    out = f"\nThe embedded model, {_conditions(result, '`python -m bench embedded`')}: the worker"
    out += f" process decodes at {number(boundary['tokens_per_second_ratio'])}× the rate of"
    out += f" llama.cpp called in-process ({number(result['child']['tokens_per_second_median'])}"
    out += f" vs {number(result['direct']['tokens_per_second_median'])} tokens/s; target"
    out += (
        f" ≥ {number(boundary['target_ratio'])}×), first token {boundary['ttft_added_ms']:+} ms.\n"
    )
    return out


def summary(results: Results, verdicts: Verdicts) -> str:
    """The generated block, markers included."""
    if not verdicts:
        body = "No results yet: run `make bench`.\n"
    else:
        source = results.get("targets") or next(iter(results.values()))
        body = _conditions(source, "Last judged by `python -m bench targets`")
        if source.get("parameters", {}).get("from_results"):
            body += ", from each benchmark's last saved run"
        body += ". The machine is shared: read the load.\n\n" + _targets(results, verdicts)
    if "embedded" in results:
        body += _embedded(results["embedded"])
    if "turn" in results:
        measured = _conditions(results["turn"], "`python -m bench turn`")
        body += f"\nThroughput against clients, {measured}"
        body += ":\n\n![Throughput vs clients](docs/img/throughput-vs-clients.svg)\n"
    body += "\nCharts, every benchmark's tables and where the time goes:"
    body += " [docs/performance.md](docs/performance.md).\n"
    return f"{BEGIN}\n{body}{END}"


def replace(text: str, results: Results, verdicts: Verdicts) -> str:
    """`text` (the README) with its generated block rewritten."""
    before, found, rest = text.partition(BEGIN)
    _, closed, after = rest.partition(END)
    if not (found and closed):
        raise ValueError(f"README.md lacks the markers {BEGIN!r} … {END!r}")
    return before + summary(results, verdicts) + after


def write(results: Results, verdicts: Verdicts) -> Path:
    README.write_text(replace(README.read_text(), results, verdicts))
    return README
