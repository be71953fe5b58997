"""The LangGraph routers, in the order the app registers them."""

from __future__ import annotations

from graphchat.api.langgraph import assistants, runs, threads

ROUTERS = (assistants.router, threads.router, runs.router)
