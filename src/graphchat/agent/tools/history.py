"""`search_messages`: a search over the caller's own earlier messages, in every thread.

The search function in the tool context is bound to the run's owner by the service, so the
tool cannot ask for anyone else's messages.
"""

from __future__ import annotations

from typing import Any

from graphchat.agent.tools.base import Tool, ToolContext, ToolError, string_argument

MAX_RESULTS = 20
DEFAULT_RESULTS = 5
SNIPPET_CHARS = 300


def _limit(arguments: dict[str, Any]) -> int:
    value = arguments.get("limit", DEFAULT_RESULTS)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ToolError("argument 'limit' must be a positive integer")
    return min(value, MAX_RESULTS)


def _snippet(text: str) -> str:
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"


async def _run(arguments: dict[str, Any], context: ToolContext) -> dict[str, Any]:
    query = string_argument(arguments, "query").strip()
    if not query:
        raise ToolError("argument 'query' must not be empty")
    if context.search_messages is None:
        raise ToolError("message search is not available on this server")
    hits = await context.search_messages(query, limit=_limit(arguments))
    return {
        "query": query,
        "results": [
            {
                "thread_id": hit.thread_id,
                "seq": hit.seq,
                "role": hit.role,
                "created_at": hit.created_at.isoformat(timespec="seconds"),
                "content": _snippet(hit.content),
            }
            for hit in hits
        ],
    }


SEARCH_MESSAGES = Tool(
    name="search_messages",
    description=(
        "Search the user's own earlier messages (all their conversations) for a word or "
        "phrase, case-insensitively; newest first."
    ),
    parameters={
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "Text to look for."},
            "limit": {
                "type": "integer",
                "description": f"Most results to return (1-{MAX_RESULTS}, default "
                f"{DEFAULT_RESULTS}).",
            },
        },
        "required": ["query"],
    },
    run=_run,
)
