"""`/assistants`: the one built-in assistant, graph `agent`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path

from graphchat.api.langgraph.body import JsonBodyRoute
from graphchat.api.langgraph.schemas import AssistantOut, AssistantSearch
from graphchat.api.langgraph.shapes import GRAPH_ID, assistant, resolve_assistant

router = APIRouter(prefix="/assistants", tags=["langgraph"], route_class=JsonBodyRoute)


@router.post("/search")
async def search_assistants(
    body: Annotated[AssistantSearch | None, Body()] = None,
) -> list[AssistantOut]:
    """The assistants matching the filters: at most the built-in one."""
    body = body or AssistantSearch()
    found = assistant()
    matches = (
        body.graph_id in (None, GRAPH_ID)
        and body.name in (None, GRAPH_ID)
        and all(found.metadata.get(key) == value for key, value in (body.metadata or {}).items())
    )
    return [found][body.offset : body.offset + body.limit] if matches else []


@router.get("/{assistant_id}", responses={404: {"description": "No such assistant"}})
async def get_assistant(assistant_id: Annotated[str, Path(max_length=200)]) -> AssistantOut:
    """The assistant, by its id or by its graph's name (`agent`)."""
    return resolve_assistant(assistant_id)
