"""The hooks the LLM layer calls: breaker states and reply-cache lookups."""

from __future__ import annotations

from graphchat.observability.metrics import Metrics


def _value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_breaker_state_marks_exactly_the_current_state() -> None:
    metrics = Metrics()

    metrics.set_breaker_state("ollama", "open")
    metrics.set_breaker_state("ollama", "half_open")

    states = {
        s: _value(metrics, "graphchat_breaker_state", backend="ollama", state=s)
        for s in ("closed", "half_open", "open")
    }
    assert states == {"closed": 0, "half_open": 1, "open": 0}


def test_cache_lookups_are_counted_by_result_in_separate_registries() -> None:
    first, second = Metrics(), Metrics()

    first.count_cache_lookup(hit=True)
    first.count_cache_lookup(hit=False)
    first.count_cache_lookup(hit=True)

    assert _value(first, "graphchat_reply_cache_lookups_total", result="hit") == 2
    assert _value(first, "graphchat_reply_cache_lookups_total", result="miss") == 1
    assert _value(second, "graphchat_reply_cache_lookups_total", result="hit") is None
