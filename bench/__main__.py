"""`python -m bench <name> [options]`, `python -m bench all`, `python -m bench report|charts`,
`python -m bench compare TREE...`."""

from __future__ import annotations

import argparse
import sys
import time
from types import ModuleType

from bench import (
    charts,
    compare,
    databases,
    embedded,
    floor,
    fuzz,
    history,
    listing,
    machine,
    procs,
    protocols,
    report,
    search,
    soak,
    startup,
    streaming,
    targets,
    turn,
)
from bench.results import load_all, save

BENCHMARKS: dict[str, ModuleType] = {
    "turn": turn,
    "streaming": streaming,
    "protocols": protocols,
    "history": history,
    "listing": listing,
    "search": search,
    "startup": startup,
    "embedded": embedded,
    "soak": soak,
    "fuzz": fuzz,
    "floor": floor,
    "targets": targets,  # last: in `all` it judges what the others just measured
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, module in BENCHMARKS.items():
        sub = commands.add_parser(name, help=(module.__doc__ or "").splitlines()[0])
        sub.add_argument("--databases", nargs="+", default=list(databases.KINDS))
        module.add_arguments(sub)
    every = commands.add_parser("all", help="every benchmark with its default parameters")
    every.add_argument("--databases", nargs="+", default=list(databases.KINDS))
    commands.add_parser(
        "report", help="regenerate docs/performance.md, its charts and README's summary"
    )
    commands.add_parser("charts", help="redraw docs/img/*.svg from bench/results/")
    compared = commands.add_parser("compare", help=(compare.__doc__ or "").splitlines()[0])
    compare.add_arguments(compared)
    return parser


def _run_one(name: str, args: argparse.Namespace) -> None:
    print(f"== {name}", flush=True)
    at_start = machine.now()
    began = time.monotonic()
    data = BENCHMARKS[name].run(args)
    save(name, data, seconds=time.monotonic() - began, at_start=at_start)
    print(f"== {name}: {time.monotonic() - began:.0f} s", flush=True)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    procs.raise_fd_limit()
    if not databases.postgres_admin_url() and "postgres" in args.__dict__.get("databases", []):
        print("PostgreSQL skipped: source scripts/test-services.sh first", file=sys.stderr)
    if args.command == "all":
        for name, module in BENCHMARKS.items():
            sub = argparse.ArgumentParser()
            module.add_arguments(sub)
            defaults = sub.parse_args([])
            defaults.databases = args.databases
            if module is targets:
                defaults.from_results = True
            _run_one(name, defaults)
    elif args.command == "compare":
        compare.run(args)  # prints; saves no result
        return
    elif args.command == "charts":
        for path in charts.write(load_all()):
            print(f"chart: {path}")
        return
    elif args.command != "report":
        _run_one(args.command, args)
    for path in report.write():
        print(f"written: {path}")


if __name__ == "__main__":
    main()
