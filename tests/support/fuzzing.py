"""schemathesis over the whole OpenAPI document, as its CLI runs it (every check, every phase).

Imported by the CLI as its hooks module (`SCHEMATHESIS_HOOKS`): one check replaces
`positive_data_acceptance` so that a schema-valid request may get the error codes its operation
documents as depending on state (`x-state-dependent-errors`), and nothing else.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

STATE_DEPENDENT = "x-state-dependent-errors"
PHASES = "examples,coverage,fuzzing,stateful"


def _error_code(response: Any) -> str | None:
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) else None


@schemathesis.check
def positive_data_acceptance_unless_state_dependent(
    ctx: Any, response: Any, case: Any
) -> bool | None:
    """Valid data is accepted, unless the answer is a documented state-dependent rejection."""
    documented = case.operation.definition.raw.get(STATE_DEPENDENT, [])
    if response.status_code < 500 and _error_code(response) in documented:
        return None
    result: bool | None = positive_data_acceptance(ctx, response, case)
    return result


@dataclass(frozen=True)
class FuzzResult:
    returncode: int
    generated: int
    output: str


def run_schemathesis(
    url: str, max_examples: int, *, headers: dict[str, str], timeout: float = 900
) -> FuzzResult:
    """`schemathesis run` against `url`, with every check and phase; the CLI's result."""
    command = [str(Path(sys.executable).with_name("schemathesis")), "run", f"{url}/openapi.json"]
    command += ["--checks", "all", "--exclude-checks", "positive_data_acceptance"]
    command += ["--max-examples", str(max_examples), "--phases", PHASES, "--no-color"]
    command += ["--seed", os.environ.get("GRAPHCHAT_FUZZ_SEED", "20")]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    tests = str(Path(__file__).resolve().parent.parent)
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "support.fuzzing",
        "PYTHONPATH": os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")]),
    }
    with tempfile.TemporaryDirectory() as workdir:  # its caches, out of the checkout
        done = subprocess.run(
            command,
            env=env,
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    output = done.stdout + done.stderr
    generated = re.search(r"(\d+) generated", output)
    return FuzzResult(done.returncode, int(generated.group(1)) if generated else 0, output)
