"""The web UI."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from graphchat.settings.base import Group

# The page runs only our own scripts and talks only to this origin: even markup that slipped
# past the sanitiser could neither run inline code nor send data elsewhere.
DEFAULT_UI_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


class UiSettings(Group):
    title: ClassVar[str] = "UI"

    enabled: bool = Field(True, alias="ui_enabled", description="Serve the web UI at `/`.")
    csp: str = Field(
        DEFAULT_UI_CSP, alias="ui_csp", description="Content-Security-Policy of the web UI's pages."
    )
