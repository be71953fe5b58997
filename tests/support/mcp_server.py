"""A small MCP server for tests (FastMCP, Streamable HTTP on loopback), run as a subprocess.

    python tests/support/mcp_server.py PORT MARKER_FILE

`add` answers at once; `slow` writes MARKER_FILE when it starts and then waits, so a test can
kill the server in the middle of a call.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from mcp.server.fastmcp import FastMCP


def build(port: int, marker: Path) -> FastMCP:
    server = FastMCP("demo", host="127.0.0.1", port=port, log_level="WARNING")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    async def slow(text: str) -> str:
        """Echo a text, slowly."""
        marker.write_text(text)
        await asyncio.sleep(60)
        return text

    return server


if __name__ == "__main__":
    build(int(sys.argv[1]), Path(sys.argv[2])).run(transport="streamable-http")
