"""The LangGraph server API (`langgraph-sdk`, agent-chat-ui): views over graphchat's services.

Routes shared with the native API (thread create/read/update/delete, run read/list/cancel/
rejoin) live in `api/threads.py` and `api/runs.py`; `routes.ROUTERS` adds the rest.
"""
