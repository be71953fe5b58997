"""Browser fixtures: Debian's Chromium driven by Playwright (sync API), a fresh context per test.

Chromium comes from `GRAPHCHAT_TEST_CHROMIUM` (or /usr/bin/chromium); without it these tests skip,
unless `GRAPHCHAT_TEST_REQUIRE_POSTGRES=1` (CI), where they fail. They run on SQLite by default;
a test asks for PostgreSQL too by parametrizing `database_url` indirectly.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from support.server import LiveServer

CHROMIUM = os.environ.get("GRAPHCHAT_TEST_CHROMIUM") or "/usr/bin/chromium"
REQUIRE = os.environ.get("GRAPHCHAT_TEST_REQUIRE_POSTGRES") == "1"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# An ignored folder by default, so that a test run leaves the working tree as it found it;
# `make screenshots` points this at docs/screenshots to refresh the docs' pictures.
SCREENSHOTS = Path(
    os.environ.get("GRAPHCHAT_SCREENSHOT_DIR")
    or Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
)
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 760}


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite unless a test parametrizes `database_url` indirectly with "postgres".

    The PostgreSQL database is the session's shared one, not emptied: such a test must only look
    at the threads it made.
    """
    if getattr(request, "param", "sqlite") == "sqlite":
        return f"sqlite:///{tmp_path / 'graphchat.db'}"
    url: str = request.getfixturevalue("postgres_database")
    return url


@pytest.fixture
def browser(ui_server: LiveServer) -> Iterator[Browser]:
    """Chromium, started after the server: Playwright's sync API keeps an event loop running,
    which would stop later fixtures (PostgreSQL set-up) from using `asyncio.run`."""
    if shutil.which(CHROMIUM) is None:
        if REQUIRE:
            pytest.fail(f"Chromium not found at {CHROMIUM} (GRAPHCHAT_TEST_CHROMIUM)")
        pytest.skip("Chromium not installed (set GRAPHCHAT_TEST_CHROMIUM)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def ui_server(start_server: Callable[..., LiveServer]) -> LiveServer:
    # Tests seed data through the API faster than a person would: no rate limit.
    return start_server(rate_limit="")


@pytest.fixture
def page(browser: Browser, ui_server: LiveServer) -> Iterator[Page]:
    """A page in a fresh context (empty storage), light theme, with its base URL set."""
    context = browser.new_context(
        base_url=ui_server.url, viewport=DESKTOP, color_scheme="light", reduced_motion="reduce"
    )
    context.set_default_timeout(10_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def screenshot(page: Page, name: str) -> None:
    """Writes `<name>.png` under `SCREENSHOTS`."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png")
