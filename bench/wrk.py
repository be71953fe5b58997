"""Closed-loop load from `wrk` (Debian's package): the throughput levels of `bench turn`.

The benchmark's own client is Python (httpx) and spends about a millisecond of CPU per request:
on a 2-core machine that is CPU the server and the backend stand-in do not get, and it caps the
backend alone at a fraction of what it serves. wrk, in C, costs a few microseconds per request.
Each wrk thread holds one connection and sends its own body (its own graphchat thread), so no
two requests meet on one thread.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

# Each wrk thread (one connection each) sends `body` with THREAD replaced by its own name.
_SCRIPT = """
local count = 0
function setup(thread)
  count = count + 1
  thread:set("number", count)
end
function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = string.gsub(args[1], "THREAD", args[2] .. "-" .. number)
end
"""
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def available() -> str | None:
    """The wrk command, if installed (`make bench` installs it where it may)."""
    return shutil.which("wrk")


def closed_loop(
    url: str, body: dict[str, Any], *, connections: int, duration: float, prefix: str = ""
) -> dict[str, Any]:
    """`connections` clients POSTing `body` back to back for `duration` seconds (rounded up to
    whole ones); a body holding
    the string THREAD gets each client's own `prefix-N` there."""
    command = available()
    if command is None:
        raise RuntimeError("wrk is not installed")
    with tempfile.TemporaryDirectory() as directory:
        script = Path(directory) / "post.lua"
        script.write_text(_SCRIPT)
        seconds = max(1, math.ceil(duration))  # wrk takes whole seconds
        arguments = [command, f"-t{connections}", f"-c{connections}", f"-d{seconds}s"]
        arguments += ["--latency", "-s", str(script), url, "--", json.dumps(body), prefix]
        done = subprocess.run(arguments, capture_output=True, text=True, check=True)
    return parse(done.stdout)


def parse(output: str) -> dict[str, Any]:
    """wrk's report as numbers: requests, throughput, latency percentiles, failures."""
    requests = re.search(r"(\d+) requests in ([\d.]+)(\w+)", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if requests is None or rate is None:
        raise RuntimeError(f"wrk's output is not understood: {output[-500:]}")
    latency = {
        f"p{int(float(share))}_ms": round(float(value) * _UNITS[unit], 3)
        for share, value, unit in re.findall(r"^\s+([\d.]+)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    }
    mean = re.search(r"^\s+Latency\s+([\d.]+)(us|ms|s)", output, re.M)
    if mean is not None:
        latency["mean_ms"] = round(float(mean.group(1)) * _UNITS[mean.group(2)], 3)
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    broken = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "n": int(requests.group(1)),
        "throughput_rps": float(rate.group(1)),
        **latency,
        "errors": (int(refused.group(1)) if refused else 0)
        + (sum(int(count) for count in broken.groups()) if broken else 0),
    }
