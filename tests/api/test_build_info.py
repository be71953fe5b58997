"""`/info` and `graphchat --version` report the same version, and `/info` the build."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from support.server import LiveServer

GRAPHCHAT = Path(sys.executable).with_name("graphchat")


def test_info_reports_the_build_baked_into_the_settings(
    start_server: Callable[..., LiveServer],
) -> None:
    with start_server(build="3f2a9c1").client() as api:
        info = api.get("/info").json()

    assert info["build"] == "3f2a9c1"


def test_info_version_is_the_one_the_cli_prints_and_build_defaults_to_dev(
    api: httpx.Client,
) -> None:
    printed = subprocess.run(
        [GRAPHCHAT, "--version"], capture_output=True, text=True, check=True
    ).stdout

    info = api.get("/info").json()

    assert printed.strip() == f"graphchat {info['version']}"
    assert info["version"] != "0.0.0"
    assert info["build"] == "dev"
