"""The application's Prometheus metrics, in a registry owned by one app (several apps may coexist).

Other layers record through the small methods here rather than touching metric objects, so names
and labels stay in one place. Labels are bounded: route templates (never raw paths), model names
the operator configured, backend names.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_BREAKER_STATES = ("closed", "half_open", "open")
_PROCESS_STATES = ("stopped", "starting", "ready", "restarting", "failed")

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """Every metric graphchat exports, registered in a fresh `CollectorRegistry`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "graphchat_http_requests", "HTTP requests by route template, method and status.",
            ["route", "method", "status"], registry=r,
        )  # fmt: skip
        self.request_seconds = Histogram(
            "graphchat_http_request_duration_seconds", "Time to the end of the HTTP response.",
            ["route", "method"], buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.rate_limited = Counter(
            "graphchat_rate_limited_requests", "Requests refused by the rate limit.", registry=r
        )
        self.model_seconds = Histogram(
            "graphchat_model_call_duration_seconds", "Duration of one model call (all chunks).",
            ["model", "outcome"], buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.first_token_seconds = Histogram(
            "graphchat_model_time_to_first_token_seconds", "From a model call to its first token.",
            ["model"], buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.tokens = Counter(
            "graphchat_model_tokens", "Tokens sent to (`in`) and produced by (`out`) models.",
            ["model", "direction"], registry=r,
        )  # fmt: skip
        self.active_streams = Gauge(
            "graphchat_active_streams", "Event streams currently open to clients.", registry=r
        )
        self.cache_lookups = Counter(
            "graphchat_reply_cache_lookups", "Reply cache lookups by result (`hit`/`miss`).",
            ["result"], registry=r,
        )  # fmt: skip
        self.breaker_state = Gauge(
            "graphchat_breaker_state", "1 for the current circuit-breaker state of each backend.",
            ["backend", "state"], registry=r,
        )  # fmt: skip
        self.model_process_state = Gauge(
            "graphchat_model_process_state", "1 for the current state of each local model process.",
            ["backend", "state"], registry=r,
        )  # fmt: skip
        self.model_process_restarts = Gauge(
            "graphchat_model_process_restarts",
            "Times each local model process died and was restarted.", ["backend"], registry=r,
        )  # fmt: skip

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.request_seconds.labels(route, method).observe(seconds)

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
        for known in _BREAKER_STATES:
            self.breaker_state.labels(backend, known).set(1 if known == state else 0)

    def set_model_process(self, backend: str, state: str, restarts: int) -> None:
        """For a local model process (the embedded model): its state and restart count."""
        for known in _PROCESS_STATES:
            self.model_process_state.labels(backend, known).set(1 if known == state else 0)
        self.model_process_restarts.labels(backend).set(restarts)

    def render(self) -> bytes:
        """The registry in Prometheus' text exposition format."""
        return generate_latest(self.registry)
