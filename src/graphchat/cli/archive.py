"""`graphchat export` and `graphchat import`: archives to and from a server, with progress."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from graphchat.cli.client import DEFAULT_URL, GraphchatClient
from graphchat.cli.connection import ApiKeyOption, UrlOption, connected
from graphchat.json_stream import MalformedArchive, json_array_items

_READ_SIZE = 64 * 1024
BatchBytes = Annotated[
    int,
    typer.Option(
        min=1024, help="Most bytes per request: keep it under the server's body limit (1 MiB)."
    ),
]


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=True,
    )


def export(
    thread: Annotated[str | None, typer.Option(help="One thread (default: all yours).")] = None,
    format: Annotated[Literal["json", "markdown"], typer.Option(help="json or markdown.")] = "json",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File (default: stdout).")
    ] = None,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Export threads as JSON (lossless, importable) or Markdown (readable)."""
    console = Console(stderr=True)
    with connected(url, api_key) as client, client.export(thread, format) as chunks:
        sink = output.open("wb") if output else sys.stdout.buffer
        try:
            with _progress(console) as progress:
                task = progress.add_task("exporting", total=None)
                for chunk in chunks:
                    sink.write(chunk)
                    progress.advance(task, len(chunk))
        finally:
            if output:
                sink.close()
    if output:
        console.print(f"exported to {output}", highlight=False)


async def _file_chunks(path: Path, advance: Callable[[int], None]) -> AsyncIterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(_READ_SIZE):
            advance(len(chunk))
            yield chunk


class _Importer:
    """Sends conversations in batches under `batch_bytes`, keeping the server's answers."""

    def __init__(self, client: GraphchatClient, batch_bytes: int) -> None:
        self._client, self._limit = client, batch_bytes
        self._batch: list[str] = []
        self._size, self._sent = 2, 0
        self.imported: list[dict[str, Any]] = []
        self.failed: list[dict[str, Any]] = []

    def add(self, item: Any) -> None:
        text = json.dumps(item, ensure_ascii=False)
        if self._batch and self._size + len(text.encode()) + 1 > self._limit:
            self.flush()
        self._batch.append(text)
        self._size += len(text.encode()) + 1

    def flush(self) -> None:
        if not self._batch:
            return
        answer = self._client.import_archive(("[" + ",".join(self._batch) + "]").encode())
        for key, into in (("imported", self.imported), ("failed", self.failed)):
            into += [entry | {"index": entry["index"] + self._sent} for entry in answer[key]]
        self._sent += len(self._batch)
        self._batch, self._size = [], 2


async def _send(path: Path, importer: _Importer, advance: Callable[[int], None]) -> None:
    async for item in json_array_items(_file_chunks(path, advance)):
        importer.add(item)
    importer.flush()


def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The archive.")],
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
    batch_bytes: BatchBytes = 512 * 1024,
) -> None:
    """Import a graphchat export, a ChatGPT conversations.json or an Open WebUI export."""
    console = Console(stderr=True)
    with connected(url, api_key) as client, _progress(console) as progress:
        task = progress.add_task("importing", total=file.stat().st_size)
        importer = _Importer(client, batch_bytes)
        try:
            asyncio.run(_send(file, importer, lambda size: progress.advance(task, size)))
        except MalformedArchive as exc:
            importer.flush()
            importer.failed.append({"index": exc.index, "source_id": None, "error": str(exc)})
    for entry in importer.failed:
        console.print(f"failed #{entry['index']} {entry['source_id'] or ''}: {entry['error']}")
    console.print(f"imported {len(importer.imported)}, failed {len(importer.failed)}")
    if importer.failed:
        raise typer.Exit(1)
