"""Export and import: `GET /threads/{id}/export`, `GET /export` (streamed), `POST /import`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from graphchat.api.deps import OwnerDep, ServicesDep, ThreadDep
from graphchat.api.media import require_json
from graphchat.service.archive import ArchiveService

router = APIRouter(tags=["archive"])

_MEDIA = {"json": "application/json", "markdown": "text/markdown; charset=utf-8"}
_EXPORTED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "graphchat's JSON export, or Markdown with `format=markdown`.",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/markdown": {"schema": {"type": "string"}},
        },
    }
}
_SUFFIX = {"json": "json", "markdown": "md"}
Format = Annotated[
    Literal["json", "markdown"],
    Query(description="`json`: lossless, importable; `markdown`: for reading."),
]


async def get_archive(services: ServicesDep) -> ArchiveService:
    return services.archive


ArchiveDep = Annotated[ArchiveService, Depends(get_archive)]


def _attachment(name: str, format: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}.{_SUFFIX[format]}"'}


@router.get(
    "/threads/{thread_id}/export",
    responses={**_EXPORTED, 404: {"description": "No such thread"}},
)
async def export_thread(
    thread: ThreadDep, archive: ArchiveDep, format: Format = "json"
) -> Response:
    """One thread with all its messages."""
    body = await archive.export_thread(thread, format)
    headers = _attachment(f"graphchat-{thread.id}", format)
    return Response(body, media_type=_MEDIA[format], headers=headers)


@router.get("/export", responses=_EXPORTED)
async def export_all(owner: OwnerDep, archive: ArchiveDep, format: Format = "json") -> Response:
    """All of the caller's threads, streamed thread by thread."""
    body = (part.encode() async for part in archive.export_all(owner, format))
    headers = _attachment("graphchat-export", format)
    return StreamingResponse(body, media_type=_MEDIA[format], headers=headers)


class ImportedOut(BaseModel):
    index: int = Field(description="Position of the conversation in the archive, from 0.")
    source_id: str | None
    thread_id: str
    title: str | None
    messages: int
    renamed: bool = Field(description="The archive's ids were taken: new ids were given.")


class FailedOut(BaseModel):
    index: int
    source_id: str | None
    error: str


class ImportOut(BaseModel):
    imported: list[ImportedOut]
    failed: list[FailedOut]


@router.post("/import", dependencies=[Depends(require_json)])
async def import_archive(request: Request, owner: OwnerDep, archive: ArchiveDep) -> ImportOut:
    """Import a graphchat export, a ChatGPT `conversations.json` or an Open WebUI chat export.

    Each conversation is imported in its own transaction (never half); the answer lists the
    imported ones and, for the others, why. The body obeys `GRAPHCHAT_MAX_BODY_BYTES`.
    """
    report = await archive.import_archive(owner, request.stream())
    return ImportOut(
        imported=[ImportedOut.model_validate(i, from_attributes=True) for i in report.imported],
        failed=[FailedOut.model_validate(f, from_attributes=True) for f in report.failed],
    )
