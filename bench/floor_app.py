"""The least a chat turn costs on graphchat's stack: the floor `bench floor` measures.

A chat service as a competent engineer writes it in a hundred lines with the libraries graphchat
is built on (FastAPI and pydantic, SQLAlchemy on aiosqlite or asyncpg, LangGraph, httpx, uvicorn
with uvloop and httptools), and nothing else: no auth, rate limit, metrics, logs, events,
idempotency, titles, search index or context window rules. `POST /chat` stores the user's
message and reads the thread's last ten in one transaction, runs a one-node LangGraph graph whose
node streams the reply from an Ollama-protocol backend, and stores the reply in a second.

`python -m bench.floor_app` serves it; settings come from the environment:
`FLOOR_DATABASE_URL` (SQLAlchemy async URL), `FLOOR_OLLAMA_URL`, `FLOOR_PORT`, and
`FLOOR_LAYERS`, how much of the turn to do, each level adding to the one before:
`http` (the endpoint answers at once), `model` (+ the model call), `store` (+ the two
transactions), `graph` (+ LangGraph around the model call; the default).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypedDict

import httpx
import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MODEL = "llama3.2:latest"
HISTORY = 10

metadata = sa.MetaData()
threads = sa.Table("threads", metadata, sa.Column("id", sa.String, primary_key=True))
messages = sa.Table(
    "messages",
    metadata,
    sa.Column("thread_id", sa.String, sa.ForeignKey("threads.id"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("role", sa.String, nullable=False),
    sa.Column("content", sa.Text, nullable=False),
)
runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("thread_id", sa.String, sa.ForeignKey("threads.id"), nullable=False),
    sa.Column("status", sa.String, nullable=False),
)


class ChatIn(BaseModel):
    message: str
    thread_id: str


class ChatOut(BaseModel):
    thread_id: str
    run_id: str
    reply: str


def _add(left: list[dict[str, str]], right: list[dict[str, str]]) -> list[dict[str, str]]:
    return left + right


class State(TypedDict):
    messages: Annotated[list[dict[str, str]], _add]


def _engine(url: str) -> AsyncEngine:
    engine = create_async_engine(url)
    if engine.dialect.name == "sqlite":  # graphchat's own SQLite settings

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

    return engine


LAYERS = ("http", "model", "store", "graph")


def create_app(database_url: str, ollama_url: str, layers: str = "graph") -> FastAPI:
    depth = LAYERS.index(layers)
    engine = _engine(database_url)
    backend = httpx.AsyncClient(base_url=ollama_url, timeout=60.0)

    async def agent(state: State) -> dict[str, Any]:
        parts: list[str] = []
        body = {"model": MODEL, "stream": True, "messages": state["messages"]}
        async with backend.stream("POST", "/api/chat", json=body) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if line:
                    parts.append(json.loads(line).get("message", {}).get("content", ""))
        return {"messages": [{"role": "assistant", "content": "".join(parts)}]}

    builder = StateGraph(State)
    builder.add_node("agent", agent)
    builder.add_edge(START, "agent")
    builder.add_edge("agent", END)
    graph = builder.compile()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        yield
        await backend.aclose()
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/chat")
    async def chat(body: ChatIn) -> ChatOut:
        run_id = str(uuid.uuid4())
        if depth < LAYERS.index("store"):
            state: State = {"messages": [{"role": "user", "content": body.message}]}
            final = await agent(state) if depth else state
            return ChatOut(thread_id=body.thread_id, run_id=run_id, reply=_last(final))
        async with engine.begin() as connection:
            history, seq = await _begin(connection, body, run_id)
        state = {"messages": history}
        final = await graph.ainvoke(state) if depth == LAYERS.index("graph") else await agent(state)
        reply = _last(final)
        async with engine.begin() as connection:
            await connection.execute(
                messages.insert().values(
                    thread_id=body.thread_id,
                    seq=seq + 1,
                    role="assistant",
                    content=reply,
                )
            )
            await connection.execute(
                runs.update().where(runs.c.id == run_id).values(status="success")
            )
        return ChatOut(thread_id=body.thread_id, run_id=run_id, reply=reply)

    return app


def _last(state: Any) -> str:
    return str(state["messages"][-1]["content"])


async def _next_seq(connection: Any, thread_id: str) -> int:
    last = await connection.scalar(
        sa.select(sa.func.max(messages.c.seq)).where(messages.c.thread_id == thread_id)
    )
    return int(last or 0) + 1


async def _begin(connection: Any, body: ChatIn, run_id: str) -> tuple[list[dict[str, str]], int]:
    found = await connection.scalar(sa.select(threads.c.id).where(threads.c.id == body.thread_id))
    if found is None:
        await connection.execute(threads.insert().values(id=body.thread_id))
    await connection.execute(
        runs.insert().values(id=run_id, thread_id=body.thread_id, status="running")
    )
    seq = await _next_seq(connection, body.thread_id)
    await connection.execute(
        messages.insert().values(
            thread_id=body.thread_id, seq=seq, role="user", content=body.message
        )
    )
    rows = await connection.execute(
        sa.select(messages.c.role, messages.c.content)
        .where(messages.c.thread_id == body.thread_id)
        .order_by(messages.c.seq.desc())
        .limit(HISTORY)
    )
    return [{"role": role, "content": content} for role, content in reversed(rows.all())], seq


def main() -> None:
    app = create_app(
        os.environ["FLOOR_DATABASE_URL"],
        os.environ["FLOOR_OLLAMA_URL"],
        os.environ.get("FLOOR_LAYERS", "graph"),
    )
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(os.environ["FLOOR_PORT"]),
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
