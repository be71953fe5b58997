"""The generated documents match their sources (the settings class, the benchmark results); the
API reference names every route."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bench import charts, readme, report
from bench.results import load_all

from graphchat.api import ui
from graphchat.app import create_app
from graphchat.cli.config import render_env_example, render_markdown, settings_reference
from graphchat.settings import Settings, group_fields
from graphchat.settings.base import variable

ROOT = Path(__file__).resolve().parents[2]
STALE = "is stale: run `make docs` and commit the result"


def test_configuration_doc_is_generated_from_the_settings_class() -> None:
    expected = render_markdown(settings_reference())
    actual = (ROOT / "docs/configuration.md").read_text(encoding="utf-8")

    assert actual == expected, f"docs/configuration.md {STALE}"


def test_env_example_is_generated_from_the_settings_class() -> None:
    expected = render_env_example(settings_reference())
    actual = (ROOT / ".env.example").read_text(encoding="utf-8")

    assert actual == expected, f".env.example {STALE}"


def test_every_setting_is_documented_with_a_description_and_a_group() -> None:
    reference = settings_reference()

    assert len(reference) == len(list(group_fields()))
    assert [s.variable for s in reference if not s.description] == []
    assert [s.variable for s in reference if not s.group] == []
    assert all(s.variable.startswith("GRAPHCHAT_") for s in reference)


def test_env_example_defaults_are_accepted_by_the_settings_class(tmp_path: Path) -> None:
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    unset = {
        f"{variable(name, f)}=" for _, name, f in group_fields() if f.default is None
    }  # an empty value is not "unset" for every type
    settings_lines = [
        line.removeprefix("# ")
        for line in lines
        if re.match(r"^# GRAPHCHAT_[A-Z0-9_]+=", line) and line.removeprefix("# ") not in unset
    ]
    env_file = tmp_path / "defaults.env"
    env_file.write_text("\n".join(settings_lines) + "\n", encoding="utf-8")

    from_file = Settings(_env_file=env_file)  # type: ignore[call-arg]

    assert from_file.model_dump() == Settings(_env_file=None).model_dump()  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def api_reference() -> str:
    return (ROOT / "docs/api.md").read_text(encoding="utf-8")


def _routes() -> list[tuple[str, str]]:
    app = create_app(Settings(_env_file=None))  # type: ignore[call-arg]
    paths: dict[str, dict[str, object]] = app.openapi()["paths"]
    return sorted((method.upper(), path) for path, ops in paths.items() for method in ops)


def test_api_reference_has_a_section_for_every_route(api_reference: str) -> None:
    documented = set(re.findall(r"^### `([A-Z]+) (/\S*)`", api_reference, re.MULTILINE))

    missing = [f"{method} {path}" for method, path in _routes() if (method, path) not in documented]

    assert missing == [], f"docs/api.md has no `### \\`METHOD /path\\`` section for {missing}"


GUIDES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
VARIABLE = re.compile(r"\bGRAPHCHAT_[A-Z0-9_]*[A-Z0-9]\b")


def _variables_read_by(*folders: str) -> set[str]:
    """Variables the code of `folders` names: the CLI client's, the tests' and benchmarks'."""
    return {
        name
        for folder in folders
        for path in (ROOT / folder).rglob("*.py")
        for name in VARIABLE.findall(path.read_text(encoding="utf-8"))
    }


@pytest.mark.parametrize("doc", GUIDES)
def test_variables_named_in_the_guides_exist(doc: str) -> None:
    named = set(VARIABLE.findall((ROOT / doc).read_text(encoding="utf-8")))
    known = {setting.variable for setting in settings_reference()}
    known |= _variables_read_by("src/graphchat/cli", "tests", "bench")

    assert named - known == set()


# How the guides state a setting's default: `VAR` (default 10 s), `VAR` (1 MiB by default),
# `VAR=json` (default; …), `VAR=off|on`, default `off`, `VAR` rounds (default 4).
DEFAULT_CLAIMS = [
    re.compile(r"`(GRAPHCHAT_[A-Z0-9_]+)`(?: \w+)? \(default ([^;),]+)"),
    re.compile(r"`(GRAPHCHAT_[A-Z0-9_]+)` \(([^;),]+) by default\)"),
    re.compile(r"`(GRAPHCHAT_[A-Z0-9_]+)=([^`|]+)` \(default[;)]"),
    re.compile(r"`(GRAPHCHAT_[A-Z0-9_]+)=[^`]*`, default ([^;),]+)"),
]
UNITS = {"s": 1, "KiB": 2**10, "MiB": 2**20}


def _value(stated: str) -> str:
    """A default as the settings reference prints it: `1 MiB` → 1048576, `10 s` → 10.0."""
    stated = stated.strip("` ")
    if stated == "none":
        return ""
    number, _, unit = stated.partition(" ")
    if unit in UNITS and re.fullmatch(r"\d+(\.\d+)?", number):
        return str(float(number) * UNITS[unit])
    return stated


def _same(stated: str, default: str) -> bool:
    try:
        return float(stated) == float(default)
    except ValueError:
        return stated == default


@pytest.mark.parametrize("doc", GUIDES)
def test_defaults_stated_in_the_guides_are_the_settings_defaults(doc: str) -> None:
    text = " ".join((ROOT / doc).read_text(encoding="utf-8").split())
    defaults = {setting.variable: setting.default or "" for setting in settings_reference()}
    claims = {(var, stated) for claim in DEFAULT_CLAIMS for var, stated in claim.findall(text)}

    wrong = sorted(
        f"{var}: says {stated!r}, is {defaults[var]!r}"
        for var, stated in claims
        if var in defaults and not _same(_value(stated), defaults[var])
    )

    assert wrong == [], f"{doc} states defaults the settings do not have: {wrong}"


# A guide's table of settings: `| Variable | Default | …` (or `Setting`), one row per setting or
# per group, `GRAPHCHAT_A` / `_B` | `1` / `2` s. A single default in a row of several variables is
# the first one's; a default in words ("first model listed") is not checked.
DEFAULTS_TABLE = re.compile(r"^\| (variable|setting) \| default \|", re.IGNORECASE)
TABLE_ROW = re.compile(r"^\| ([^|]*`GRAPHCHAT_[^|]*) \| ([^|]*) \|")
LITERAL = re.compile(r"`([^`]*)`(?: s)?|([\d.,]+(?: (?:s|KiB|MiB))?)|(—|empty)")


def _table_variables(cell: str, known: set[str]) -> list[str]:
    """`GRAPHCHAT_LLM_CONNECT_TIMEOUT`, `_STALL_TIMEOUT` → both full names."""
    first, *rest = re.findall(r"`(GRAPHCHAT_[A-Z0-9_]+|_[A-Z0-9_]+)`", cell)
    names = [first]
    for name in rest:
        stems = [first[:i] for i, char in enumerate(first) if char == "_"]
        names.append(next((s + name for s in reversed(stems) if s + name in known), name))
    return names


def _table_default(stated: str) -> str | None:
    found = LITERAL.fullmatch(stated.strip())
    if found is None:
        return None
    quoted, number, none = found.groups()
    return quoted if quoted is not None else "" if none else _value(number.replace(",", ""))


def _table_claims(text: str, known: set[str]) -> Iterator[tuple[str, str]]:
    in_defaults = False
    for line in text.splitlines():
        if not line.startswith("|"):
            in_defaults = False
        elif DEFAULTS_TABLE.match(line):
            in_defaults = True
        elif in_defaults and (row := TABLE_ROW.match(line)):
            names = _table_variables(row.group(1), known)
            for name, stated in zip(names, re.split(r" / |, ", row.group(2)), strict=False):
                value = _table_default(stated)
                if value is not None:
                    yield name, value


@pytest.mark.parametrize("doc", GUIDES)
def test_defaults_in_the_guides_tables_are_the_settings_defaults(doc: str) -> None:
    defaults = {setting.variable: setting.default or "" for setting in settings_reference()}
    claims = list(_table_claims((ROOT / doc).read_text(encoding="utf-8"), set(defaults)))

    wrong = [
        f"{name}: says {stated!r}, is {defaults.get(name)!r}"
        for name, stated in claims
        if name not in defaults or not _same(stated, defaults[name])
    ]

    assert wrong == [], f"{doc}'s tables state defaults the settings do not have: {wrong}"


def test_the_table_check_reads_groups_units_and_words() -> None:
    text = """| Variable | Default | Meaning |
|---|---|---|
| `GRAPHCHAT_LLM_CONNECT_TIMEOUT`, `_STALL_TIMEOUT` | 5, 60 s | … |
| `GRAPHCHAT_MAX_BODY_BYTES` / `GRAPHCHAT_PORT` | 1 MiB / `8000` | … |
| `GRAPHCHAT_RATE_LIMIT`, `GRAPHCHAT_REDIS_URL` | — | … |
| `GRAPHCHAT_DEFAULT_MODEL` | first model listed | … |
"""
    known = {"GRAPHCHAT_LLM_CONNECT_TIMEOUT", "GRAPHCHAT_LLM_STALL_TIMEOUT"}

    assert list(_table_claims(text, known)) == [
        ("GRAPHCHAT_LLM_CONNECT_TIMEOUT", "5"),
        ("GRAPHCHAT_LLM_STALL_TIMEOUT", "60.0"),
        ("GRAPHCHAT_MAX_BODY_BYTES", "1048576.0"),
        ("GRAPHCHAT_PORT", "8000"),
        ("GRAPHCHAT_RATE_LIMIT", ""),
    ]


def _shape(path: str) -> str:
    """`/threads/{id}/runs` and `/threads/{thread_id}/runs` are the same route."""
    return re.sub(r"\{[^}]*\}", "{}", path.rstrip("/") or "/")


def _served() -> set[tuple[str, str]]:
    """Every route of the schema, and the web UI's page and assets, which it leaves out."""
    served = {(method, _shape(path)) for method, path in _routes()}
    served |= {(method, _shape(r.path)) for r in ui.router.routes for method in r.methods}
    return served | {("GET", "/ui")}  # the static assets, mounted under /ui/


def _named(text: str) -> set[tuple[str, str]]:
    """`METHOD /path` in a guide; `…/regenerate|edit` names two routes."""
    found = re.findall(r"\b(GET|POST|PUT|PATCH|DELETE) (/[^\s`)\"',;?]*)", text)
    return {
        (method, f"{path.rsplit('/', 1)[0]}/{last}")
        for method, path in found
        for last in path.rsplit("/", 1)[1].split("|")
    }


def _is_served(method: str, path: str, served: set[tuple[str, str]]) -> bool:
    """`/threads/…` stands for any route under `/threads/`."""
    if path.endswith("…"):
        prefix = _shape(path.removesuffix("…")) + "/"
        return any(m == method and (p + "/").startswith(prefix) for m, p in served)
    return (method, _shape(path)) in served


@pytest.mark.parametrize("doc", GUIDES)
def test_routes_named_in_the_guides_exist(doc: str) -> None:
    named = _named((ROOT / doc).read_text(encoding="utf-8"))
    served = _served()

    missing = sorted(f"{m} {p}" for m, p in named if not _is_served(m, p, served))

    assert missing == [], f"{doc} names routes the app does not serve: {missing}"


BENCH_STALE = "is stale: run `python -m bench report` and commit the result"
RESULTS_DIR = "bench/results/: quote the numbers of the committed results"


@pytest.fixture(scope="module")
def results() -> dict[str, dict[str, Any]]:
    return load_all()


def test_performance_doc_states_the_numbers_of_the_committed_results(
    results: dict[str, dict[str, Any]],
) -> None:
    actual = (ROOT / "docs/performance.md").read_text(encoding="utf-8")

    assert actual == report.render(results), f"docs/performance.md {BENCH_STALE}"


def test_performance_charts_are_drawn_from_the_committed_results(
    results: dict[str, dict[str, Any]],
) -> None:
    drawn = charts.render(results, charts.read_profile())
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in charts.IMAGES.glob("*.svg")}

    assert on_disk == drawn, f"docs/img/*.svg {BENCH_STALE}"


def test_readme_performance_summary_states_the_numbers_of_the_committed_results(
    results: dict[str, dict[str, Any]],
) -> None:
    actual = (ROOT / "README.md").read_text(encoding="utf-8")

    assert actual == readme.replace(actual, results, report.verdicts(results)), (
        f"README.md's performance summary {BENCH_STALE}"
    )


def _row(doc: str, label: str) -> list[str]:
    """The cells after the label of a Markdown table row `| label | … |`."""
    line = next((line for line in doc.splitlines() if line.startswith(f"| {label} |")), "")
    return [cell.strip() for cell in line.strip().strip("|").split("|")][1:]


def _per_database(result: dict[str, Any], cell: Any) -> list[str]:
    return [cell(result[kind]) for kind in ("sqlite", "postgres")]


def test_reliability_doc_states_the_soak_and_fuzz_numbers_of_the_committed_results(
    results: dict[str, dict[str, Any]],
) -> None:
    doc = (ROOT / "docs/reliability.md").read_text(encoding="utf-8")
    soak, fuzz = results["soak"], results["fuzz"]
    memory = "{rss_idle_mb:.0f} → {rss_after_load_mb:.0f} → {rss_after_rest_mb:.0f} MB"
    expected = {
        "requests (all answered)": _per_database(soak, lambda r: f"{r['requests']:,}"),
        "5xx / unanswered": _per_database(
            soak, lambda r: f"{r['server_errors']} / {r['unanswered']}"
        ),
        "requests per second": _per_database(soak, lambda r: str(r["requests_per_second"])),
        "accepted turns (checked: not in a deleted thread)": _per_database(
            soak, lambda r: f"{r['accepted_turns']:,} ({r['checked_turns']:,})"
        ),
        "user message or reply not exactly once": _per_database(
            soak, lambda r: str(r["user_message_not_once"] + r["reply_not_once"])
        ),
        "runs left `running` (settled after)": _per_database(
            soak, lambda r: f"{r['runs_left_running']} ({r['settle_s']} s)"
        ),
        "server memory: idle → after load → after 10 s rest": _per_database(
            soak, lambda r: memory.format(**r)
        ),
        "cases generated": _per_database(fuzz, lambda r: f"{r['generated']:,}"),
        "failures (any check) / server errors / network errors": _per_database(
            fuzz, lambda r: "0 / 0 / 0" if not r["failed"] else "failed"
        ),
        "time": _per_database(fuzz, lambda r: f"{r['seconds']:.0f} s"),
    }

    assert {label: _row(doc, label) for label in expected} == expected, (
        f"docs/reliability.md's tables differ from {RESULTS_DIR}"
    )


def test_reliability_doc_states_the_soak_actions_and_fuzz_budget_of_the_committed_results(
    results: dict[str, dict[str, Any]],
) -> None:
    doc = " ".join((ROOT / "docs/reliability.md").read_text(encoding="utf-8").split())
    actions = results["soak"]["sqlite"]["actions"]
    examples = results["fuzz"]["parameters"]["examples"]

    assert (
        f"{actions['chat']} chats, {actions['stream']} streams, {actions['drop']} dropped and"
        f" rejoined, {actions['cancel']} cancels, {actions['list']} listings,"
        f" {actions['delete']} deletes"
    ) in doc
    assert f"`python -m bench fuzz` ({examples} examples per operation" in doc
