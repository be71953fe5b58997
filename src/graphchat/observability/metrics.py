"""The application's Prometheus metrics, in a registry owned by one app (several apps may coexist).

Other layers record through the small methods here rather than touching metric objects, so names
and labels stay in one place. Labels are bounded: route templates (never raw paths), model names
the operator configured, backend names.

Under several server workers (`GRAPHCHAT_WORKERS`) the serving command names a directory in
`PROMETHEUS_MULTIPROC_DIR` before the workers start: each worker's values then live in files
there, and `/metrics`, whichever worker answers, reports the sum of them all.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_BREAKER_STATES = ("closed", "half_open", "open")
_PROCESS_STATES = ("stopped", "starting", "ready", "restarting", "failed")

CONTENT_TYPE = CONTENT_TYPE_LATEST
SHARED_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's name; read at its import


def shared_by_workers() -> bool:
    """Whether this process's metrics are written for several workers to report together."""
    return bool(os.environ.get(SHARED_DIRECTORY))


def _all_workers() -> CollectorRegistry:
    """What `/metrics` renders when workers share their metrics: the values of all of them."""
    shared = CollectorRegistry()
    multiprocess.MultiProcessCollector(shared)  # type: ignore[no-untyped-call]
    return shared


def _forget_dead_workers() -> None:
    """Drop the live gauges of workers killed before they could close (a SIGKILL, a crash):
    their streams are gone, and a sum must not count them. Their counters stay counted."""
    for path in Path(os.environ[SHARED_DIRECTORY]).glob("gauge_live*_*.db"):
        pid = path.stem.rpartition("_")[2]
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _StateGauge:
    """A gauge labelled (backend, state): 1 for each backend's current state, 0 for the others,
    so a dashboard sees every state's series, not only the ones reached."""

    def __init__(self, gauge: Gauge, states: tuple[str, ...]) -> None:
        self._gauge = gauge
        self._states = states

    def set(self, backend: str, state: str) -> None:
        for known in self._states:
            self._gauge.labels(backend, known).set(1 if known == state else 0)


class Metrics:
    """Every metric graphchat exports, registered in a fresh `CollectorRegistry`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        counter = partial(Counter, namespace="graphchat", registry=self.registry)
        gauge = partial(Gauge, namespace="graphchat", registry=self.registry)
        latency = partial(
            Histogram, namespace="graphchat", buckets=_LATENCY_BUCKETS, registry=self.registry
        )
        # Each request's series, looked up once per (route, method, status) rather than
        # through `labels()` (argument checks and a lock) twice per request.
        self._request_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.requests = counter(
            "http_requests", "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
        )  # fmt: skip
        self.request_seconds = latency(
            "http_request_duration_seconds", "Time to the end of the HTTP response.",
            ["route", "method"],
        )  # fmt: skip
        self.rate_limited = counter("rate_limited_requests", "Requests refused by the rate limit.")
        self.model_seconds = latency(
            "model_call_duration_seconds", "Duration of one model call (all chunks).",
            ["model", "outcome"],
        )  # fmt: skip
        self.first_token_seconds = latency(
            "model_time_to_first_token_seconds", "From a model call to its first token.", ["model"]
        )
        self.tokens = counter(
            "model_tokens", "Tokens sent to (`in`) and produced by (`out`) models.",
            ["model", "direction"],
        )  # fmt: skip
        self.active_streams = gauge(  # with several workers: the sum of the live ones'
            "active_streams", "Event streams open to clients.", multiprocess_mode="livesum"
        )
        self.cache_lookups = counter(
            "reply_cache_lookups", "Reply cache lookups by result (`hit`/`miss`).", ["result"]
        )
        self.breaker_state = _StateGauge(
            gauge("breaker_state", "1 for the current circuit-breaker state of each backend.",
                  ["backend", "state"], multiprocess_mode="mostrecent"), _BREAKER_STATES,
        )  # fmt: skip
        self.model_process_state = _StateGauge(
            gauge("model_process_state", "1 for the current state of each local model process.",
                  ["backend", "state"], multiprocess_mode="mostrecent"), _PROCESS_STATES,
        )  # fmt: skip
        self.model_process_restarts = gauge(
            "model_process_restarts", "Times each local model process died and was restarted.",
            ["backend"], multiprocess_mode="livesum",
        )  # fmt: skip
        self._shared = shared_by_workers()
        self._exported = _all_workers() if self._shared else self.registry

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        series = self._request_series.get(key)
        if series is None:
            series = (
                self.requests.labels(route, method, str(status)),
                self.request_seconds.labels(route, method),
            )
            self._request_series[key] = series
        count, timing = series
        count.inc()
        timing.observe(seconds)

    def count_rate_limited(self) -> None:
        self.rate_limited.inc()

    def observe_model_call(
        self, model: str, outcome: str, seconds: float, first_token: float | None
    ) -> None:
        self.model_seconds.labels(model, outcome).observe(seconds)
        if first_token is not None:
            self.first_token_seconds.labels(model).observe(first_token)

    def count_tokens(self, model: str, prompt: int, completion: int) -> None:
        self.tokens.labels(model, "in").inc(prompt)
        self.tokens.labels(model, "out").inc(completion)

    def count_cache_lookup(self, hit: bool) -> None:
        """For the reply cache: one call per lookup."""
        self.cache_lookups.labels("hit" if hit else "miss").inc()

    def set_breaker_state(self, backend: str, state: str) -> None:
        """For the circuit breaker: call on every transition (`closed`, `half_open`, `open`)."""
        self.breaker_state.set(backend, state)

    def set_model_process(self, backend: str, state: str, restarts: int) -> None:
        """For a local model process (the embedded model): its state and restart count."""
        self.model_process_state.set(backend, state)
        self.model_process_restarts.labels(backend).set(restarts)

    def render(self) -> bytes:
        """The registry (every worker's, when shared) in Prometheus' text exposition format."""
        if self._shared:
            _forget_dead_workers()
        return generate_latest(self._exported)

    def close(self) -> None:
        """At the end of this process's serving: its live gauges leave the shared sum."""
        if self._shared:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
