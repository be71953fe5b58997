"""Liveness, readiness, info and the live model list."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx

from support.fake_ollama import FakeOllama
from support.server import LiveServer


def test_health_and_ready_when_everything_answers(api: httpx.Client) -> None:
    assert api.get("/health").json() == {"status": "ok"}
    ready = api.get("/ready")
    assert ready.status_code == 200
    assert {c["name"]: c["ok"] for c in ready.json()["checks"]} == {
        "database": True,
        "llm:ollama": True,
    }


def test_ready_names_the_failing_backend(
    start_server: Callable[..., LiveServer],
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = start_server(ollama_url=f"http://127.0.0.1:{port}")
    with server.client() as api:
        health = api.get("/health")
        ready = api.get("/ready")

    assert health.status_code == 200
    assert ready.status_code == 503
    error = ready.json()["error"]
    assert error["code"] == "not_ready"
    assert "llm:ollama" in error["message"]
    checks = {c["name"]: c["ok"] for c in error["details"]}
    assert checks == {"database": True, "llm:ollama": False}


def test_models_are_listed_live_from_the_backend(api: httpx.Client, ollama: FakeOllama) -> None:
    ollama.models.append("mistral:7b")
    try:
        body = api.get("/models").json()
    finally:
        ollama.models.remove("mistral:7b")

    names = [m["name"] for m in body["models"]]
    assert names == ["llama3.2:latest", "qwen2.5:0.5b", "mistral:7b"]
    assert all(m["backend"] == "ollama" for m in body["models"])
    assert body["default_model"] == "llama3.2:latest"


def test_info_reports_version_and_storage(api: httpx.Client, database_url: str) -> None:
    info = api.get("/info").json()

    assert info["name"] == "graphchat"
    assert info["version"]
    assert info["database"] == ("sqlite" if database_url.startswith("sqlite") else "postgresql")
