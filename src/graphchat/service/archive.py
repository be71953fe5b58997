"""Export a caller's threads (graphchat JSON, lossless; or Markdown, readable) and import
archives (graphchat, ChatGPT, Open WebUI) conversation by conversation, each all or nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from graphchat.errors import GraphchatError
from graphchat.json_stream import MalformedArchive, json_array_items
from graphchat.service.archive_formats import archive_thread, parse_conversation
from graphchat.store import Store
from graphchat.store.records import Message, MessageWindow, Thread
from graphchat.store.threads import encode_cursor

ExportFormat = Literal["json", "markdown"]
ARCHIVE_VERSION = 1


@dataclass(frozen=True, slots=True)
class ImportedConversation:
    index: int
    source_id: str | None
    thread_id: str
    title: str | None
    messages: int
    renamed: bool  # the archive's ids were taken, so the thread got new ones


@dataclass(frozen=True, slots=True)
class FailedConversation:
    index: int
    source_id: str | None
    error: str


@dataclass(slots=True)
class ImportReport:
    imported: list[ImportedConversation] = field(default_factory=list)
    failed: list[FailedConversation] = field(default_factory=list)


def markdown_thread(thread: Thread, messages: list[Message]) -> str:
    """A thread as readable Markdown: a heading, then each message under its role."""
    lines = [f"# {thread.title or thread.id}", "", f"*Thread `{thread.id}`, "]
    lines[-1] += f"created {thread.created_at:%Y-%m-%d %H:%M} UTC*"
    for message in messages:
        who = message.role.capitalize() + (f" ({message.model})" if message.model else "")
        lines += ["", f"## {who} · {message.created_at:%Y-%m-%d %H:%M:%S}", ""]
        if message.content:
            lines.append(message.content)
        for call in message.tool_calls or []:
            function = call.get("function", call)
            arguments = json.dumps(function.get("arguments"), ensure_ascii=False)
            lines.append(f"- calls `{function.get('name')}` with `{arguments}`")
    return "\n".join(lines) + "\n"


def _header() -> str:
    stamp = datetime.now(UTC).isoformat()
    return f'{{"format": "graphchat", "version": {ARCHIVE_VERSION}, "exported_at": "{stamp}", '


class ArchiveService:
    # An export reads a thread's messages, and a caller's threads, a page at a time.
    _MESSAGE_PAGE = 500
    _THREAD_PAGE = 100

    def __init__(self, store: Store) -> None:
        self._store = store

    async def _messages(self, thread_id: str) -> list[Message]:
        messages: list[Message] = []
        while True:
            after = messages[-1].seq if messages else None
            page = await self._store.messages.page(
                thread_id, MessageWindow(self._MESSAGE_PAGE, after=after)
            )
            messages += page.items
            if not page.has_more:
                return messages

    async def _threads(self, owner: str) -> AsyncIterator[Thread]:
        cursor = None  # keyset paging: a thread touched meanwhile is never exported twice
        while True:
            page = await self._store.threads.page(owner, limit=self._THREAD_PAGE, cursor=cursor)
            for thread in page.items:
                yield thread
            if not page.has_more:
                return
            cursor = encode_cursor(page.items[-1].updated_at, page.items[-1].id)

    async def _archived(self, thread: Thread) -> dict[str, Any]:
        """The thread in graphchat's JSON format: every branch, and which one is current."""
        messages, leaf_id = await self._store.archive.conversation(thread.id)
        return archive_thread(thread, messages, leaf_id)

    async def export_thread(self, thread: Thread, format: ExportFormat) -> str:
        if format == "markdown":  # for reading: the current branch
            return markdown_thread(thread, await self._messages(thread.id))
        body = await self._archived(thread)
        return _header() + '"threads": [' + json.dumps(body, ensure_ascii=False) + "]}\n"

    async def export_all(self, owner: str, format: ExportFormat) -> AsyncIterator[str]:
        """Every thread of `owner`, one at a time, as one JSON document or Markdown file."""
        if format == "json":
            yield _header() + '"threads": ['
        first = True
        async for thread in self._threads(owner):
            if format == "markdown":
                messages = await self._messages(thread.id)
                yield ("" if first else "\n---\n\n") + markdown_thread(thread, messages)
            else:
                body = json.dumps(await self._archived(thread), ensure_ascii=False)
                yield ("\n" if first else ",\n") + body
            first = False
        if format == "json":
            yield "\n]}\n"

    async def import_archive(self, owner: str, chunks: AsyncIterable[bytes]) -> ImportReport:
        """Import each conversation in its own transaction; failures are reported, not raised."""
        report = ImportReport()
        index = 0
        try:
            async for item in json_array_items(chunks):
                await self._import_one(owner, index, item, report)
                index += 1
        except MalformedArchive as exc:
            report.failed.append(FailedConversation(exc.index, None, str(exc)))
        return report

    async def _import_one(self, owner: str, index: int, item: Any, report: ImportReport) -> None:
        source = item.get("thread_id") or item.get("id") if isinstance(item, dict) else None
        source_id = source if isinstance(source, str) else None
        try:
            thread, messages, leaf_id = parse_conversation(item, owner)
            stored = await self._store.archive.insert_conversation(thread, messages, leaf_id)
        except (ValueError, GraphchatError) as exc:
            report.failed.append(FailedConversation(index, source_id, str(exc)))
            return
        report.imported.append(
            ImportedConversation(
                index=index,
                source_id=source_id,
                thread_id=stored.id,
                title=stored.title,
                messages=len(messages),
                renamed=stored.id != thread.id,
            )
        )
