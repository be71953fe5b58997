"""Search, export and import in the web UI."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from support.server import LiveServer

pytestmark = pytest.mark.browser

FIXTURES = Path(__file__).parents[1] / "api" / "fixtures"


@pytest.fixture
def api(ui_server: LiveServer) -> httpx.Client:
    with ui_server.client() as client:
        yield client


def test_a_search_hit_opens_its_thread_at_the_message(page: Page, api: httpx.Client) -> None:
    thread_id = api.post("/threads", json={"title": "Long one"}).json()["thread_id"]
    for index in range(40):  # the hit is far above the first page of the thread
        text = "the hidden walrus <b>here</b>" if index == 2 else f"filler {index}"
        assert api.post("/chat", json={"thread_id": thread_id, "message": text}).is_success
    page.goto("/")

    page.fill("#search-input", "walrus")
    hits = page.locator("#search-results .search-link")
    expect(hits.first).to_be_visible()
    expect(page.locator("#search-results mark").first).to_have_text("walrus")
    expect(hits.first).to_contain_text("<b>here</b>")  # the message's markup shown as text
    hits.first.click()

    hit = page.locator("#message-list .message.search-hit")
    expect(hit).to_have_count(1)
    expect(hit).to_contain_text("walrus")
    expect(hit).to_be_in_viewport()
    expect(page.locator("#thread-title")).to_have_text("Long one")


def test_export_downloads_every_thread_and_import_brings_one_in(
    page: Page, api: httpx.Client, tmp_path: Path
) -> None:
    assert api.post("/chat", json={"thread_id": "kept", "message": "keep me"}).is_success
    page.goto("/")

    with page.expect_download() as started:
        page.click("#export-button")
    saved = tmp_path / "export.json"
    started.value.save_as(saved)
    page.set_input_files("#import-file", str(FIXTURES / "openwebui_export.json"))

    assert [t["thread_id"] for t in json.loads(saved.read_text())["threads"]] == ["kept"]
    expect(page.locator("#search-status")).to_have_text("Imported 1, failed 0.")
    expect(page.locator("#thread-list .thread-link", has_text="Rust lifetimes")).to_be_visible()
