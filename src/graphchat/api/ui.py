"""The web UI: `GET /` serves the page, `/ui/…` its assets (only when `GRAPHCHAT_UI_ENABLED`)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles

from graphchat.ui import STATIC_DIR

# No Content-Security-Policy here: the security headers add `GRAPHCHAT_UI_CSP` to HTML.
_PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> FileResponse:
    """The single page of the web UI."""
    return FileResponse(STATIC_DIR / "index.html", headers=_PAGE_HEADERS)


def mount_ui(app: FastAPI) -> None:
    """Serve the page at `/` and its static assets under `/ui/`."""
    app.include_router(router)
    app.mount("/ui", StaticFiles(directory=STATIC_DIR), name="ui")
