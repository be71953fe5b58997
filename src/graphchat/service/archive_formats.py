"""Conversations from export files: graphchat's own JSON, ChatGPT's `conversations.json` and
Open WebUI's chat export, each turned into a thread and its messages (or a `ValueError`)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from graphchat.ids import new_id
from graphchat.json_text import writable
from graphchat.store.records import Message, Thread

ArchiveFormat = Literal["graphchat", "chatgpt", "openwebui"]
_ROLES = {"user", "assistant", "system", "tool"}
_TITLE_MAX = 200
# The API's thread id pattern (api.schemas.ID_PATTERN): an imported thread must be addressable.
THREAD_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
# JSON of the archive's, refused as the API refuses it where it could not be shown again.
_JsonObject = Annotated[dict[str, Any], AfterValidator(writable)]


class ArchiveMessage(BaseModel):
    """A message in graphchat's export (v1); `parent_id` is carried for branched threads."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=36)
    seq: int = Field(ge=1)
    role: Literal["user", "assistant", "system", "tool"]
    content: str
    created_at: datetime
    run_id: str | None = Field(default=None, max_length=36)
    parent_id: str | None = None
    tool_calls: list[_JsonObject] | None = None
    tool_call_id: str | None = Field(default=None, max_length=128)
    name: str | None = Field(default=None, max_length=128)
    model: str | None = Field(default=None, max_length=200)
    status: str = Field(default="complete", max_length=16)
    finish_reason: str | None = Field(default=None, max_length=16)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float | None = None
    cached: bool = False


class ArchiveThread(BaseModel):
    """A thread in graphchat's export (v1); `leaf_message_id` names a branched thread's leaf."""

    model_config = ConfigDict(extra="forbid")

    thread_id: str = Field(pattern=THREAD_ID_PATTERN)
    title: str | None = Field(default=None, max_length=_TITLE_MAX)
    model: str | None = Field(default=None, max_length=200)
    metadata: _JsonObject = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    leaf_message_id: str | None = None
    messages: list[ArchiveMessage]


def archive_thread(
    thread: Thread, messages: list[Message], leaf_id: str | None = None
) -> dict[str, Any]:
    """A thread and its messages (every branch) in graphchat's export format (JSON-ready)."""
    body = ArchiveThread(
        leaf_message_id=leaf_id,
        messages=[
            ArchiveMessage.model_validate(message, from_attributes=True) for message in messages
        ],
        **thread.public_fields(),
    )
    return body.model_dump(mode="json", exclude_none=True)


def _from_graphchat(item: dict[str, Any], owner: str) -> tuple[Thread, list[Message]]:
    parsed = ArchiveThread.model_validate(item)
    thread = Thread.from_public(owner, parsed.model_dump(exclude={"messages"}))
    messages = [
        Message(thread_id=parsed.thread_id, **m.model_dump())
        for m in sorted(parsed.messages, key=lambda m: m.seq)
    ]
    if len({m.seq for m in messages}) != len(messages):
        raise ValueError("two messages share a `seq`")
    if len({m.id for m in messages}) != len(messages):
        raise ValueError("two messages share an `id`")
    return thread, messages


def _stamp(value: Any, fallback: datetime) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC)
    return fallback


def _text(content: Any) -> str:
    """ChatGPT's `content` (parts of text, or other kinds) as plain text."""
    if not isinstance(content, dict):
        return str(content or "")
    parts = content.get("parts")
    if isinstance(parts, list):
        return "\n".join(part if isinstance(part, str) else "" for part in parts).strip()
    return str(content.get("text") or "")


def _object(item: dict[str, Any], key: str) -> dict[str, Any]:
    value = item.get(key)
    if not isinstance(value, dict):
        raise ValueError(f"`{key}` is missing or not an object")
    return value


def _branch(nodes: dict[str, Any], leaf: Any, parent_key: str) -> list[dict[str, Any]]:
    """The path from the root to `leaf` through `parent_key` links (cycles refused)."""
    path: list[dict[str, Any]] = []
    seen: set[str] = set()
    while isinstance(leaf, str) and leaf in nodes:
        if leaf in seen:
            raise ValueError("the message tree has a cycle")
        seen.add(leaf)
        node = nodes[leaf]
        if not isinstance(node, dict):
            raise ValueError(f"node {leaf!r} is not an object")
        path.append(node)
        leaf = node.get(parent_key)
    return path[::-1]


def _conversation(
    owner: str, source_id: Any, title: Any, created: datetime, updated: datetime, turns: list[Any]
) -> tuple[Thread, list[Message]]:
    usable = isinstance(source_id, str) and re.fullmatch(THREAD_ID_PATTERN, source_id)
    thread_id = source_id if usable else new_id()
    messages = [
        Message(
            id=turn["id"],
            thread_id=thread_id,
            seq=seq,
            role=turn["role"],
            content=turn["content"],
            created_at=turn["created_at"] or created,
            model=turn["model"],
        )
        for seq, turn in enumerate(turns, start=1)
    ]
    name = str(title)[:_TITLE_MAX] if isinstance(title, str) and title else None
    return Thread(
        thread_id, owner, name, None, {"imported_from": source_id}, created, updated
    ), messages


def _turn(
    message_id: Any, role: Any, content: str, created: datetime | None, model: Any
) -> dict[str, Any]:
    if role not in _ROLES:
        raise ValueError(f"message {message_id!r} has an unknown role {role!r}")
    return {
        "id": str(message_id)[:36],
        "role": role,
        "content": content,
        "created_at": created,
        "model": str(model)[:200] if isinstance(model, str) else None,
    }


def _from_chatgpt(item: dict[str, Any], owner: str) -> tuple[Thread, list[Message]]:
    mapping = _object(item, "mapping")
    created = _stamp(item.get("create_time"), datetime.now(UTC))
    leaf = item.get("current_node")
    if leaf is None:  # no current node: the last node of the first-child chain
        leaf = next((k for k, node in mapping.items() if not node.get("children")), None)
    turns = []
    for node in _branch(mapping, leaf, "parent"):
        message = node.get("message")
        if not isinstance(message, dict):
            continue  # the root is an empty node
        role = (message.get("author") or {}).get("role")
        text = _text(message.get("content"))
        if not text:
            continue
        model = (message.get("metadata") or {}).get("model_slug")
        stamp = _stamp(message.get("create_time"), created) if message.get("create_time") else None
        turns.append(_turn(message.get("id") or node.get("id"), role, text, stamp, model))
    conversation_id = item.get("conversation_id") or item.get("id")
    updated = _stamp(item.get("update_time"), created)
    return _conversation(owner, conversation_id, item.get("title"), created, updated, turns)


def _from_openwebui(item: dict[str, Any], owner: str) -> tuple[Thread, list[Message]]:
    chat = _object(item, "chat")
    created = _stamp(item.get("created_at"), datetime.now(UTC))
    history = chat.get("history")
    if isinstance(history, dict) and isinstance(history.get("messages"), dict):
        nodes = _branch(history["messages"], history.get("currentId"), "parentId")
    elif isinstance(chat.get("messages"), list):
        nodes = chat["messages"]
    else:
        raise ValueError("the chat has neither `history.messages` nor `messages`")
    turns = []
    for index, node in enumerate(nodes):
        if not isinstance(node, dict) or not isinstance(node.get("content"), str):
            raise ValueError(f"message {index} has no text `content`")
        stamp = _stamp(node.get("timestamp"), created) if node.get("timestamp") else None
        model = node.get("model") or (node.get("models") or [None])[0]
        turns.append(
            _turn(node.get("id") or f"m{index}", node.get("role"), node["content"], stamp, model)
        )
    updated = _stamp(item.get("updated_at"), created)
    return _conversation(
        owner, item.get("id"), item.get("title") or chat.get("title"), created, updated, turns
    )


def detect_format(item: dict[str, Any]) -> ArchiveFormat:
    if "mapping" in item:
        return "chatgpt"
    if "chat" in item:
        return "openwebui"
    return "graphchat"


def linked(messages: list[Message], leaf_id: Any) -> tuple[list[Message], str | None]:
    """The messages with their parents (one straight branch by `seq` when none names a parent,
    as in archives of other apps) and the thread's leaf (the last message when not named)."""
    if not messages:
        return messages, None
    ids = {message.id for message in messages}
    if any(message.parent_id for message in messages):
        if any(m.parent_id is not None and m.parent_id not in ids for m in messages):
            raise ValueError("a message's `parent_id` names no message of its thread")
        return messages, leaf_id if leaf_id in ids else messages[-1].id
    chained: list[Message] = []
    for message in messages:
        chained.append(replace(message, parent_id=chained[-1].id if chained else None))
    return chained, chained[-1].id


def parse_conversation(item: Any, owner: str) -> tuple[Thread, list[Message], str | None]:
    """One exported conversation in any known format (the thread, its messages and its leaf),
    or `ValueError` saying what is wrong."""
    if not isinstance(item, dict):
        raise ValueError("a conversation must be a JSON object")
    readers = {"graphchat": _from_graphchat, "chatgpt": _from_chatgpt, "openwebui": _from_openwebui}
    try:
        thread, messages = readers[detect_format(item)](item, owner)
        return (thread, *linked(messages, item.get("leaf_message_id")))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"{where}: {first['msg']}") from exc
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"unexpected shape ({exc.__class__.__name__}: {exc})") from exc
