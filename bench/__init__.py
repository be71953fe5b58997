"""graphchat's benchmarks: `python -m bench <name>` or `python -m bench all` (see `make bench`).

Each benchmark starts the real parts (graphchat as a `graphchat serve` subprocess, the
Ollama-protocol test double in its own process, SQLite files and a scratch PostgreSQL database),
drives them from this process with an async httpx client, writes `bench/results/<name>.json` and
regenerates `docs/performance.md`. Benchmarks report numbers; they assert nothing about speed.
"""
