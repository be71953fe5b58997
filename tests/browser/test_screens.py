"""Screens of the web UI: themes, phone width, the API-key prompt; screenshots for the docs."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from support.fake_ollama import FakeOllama, Reply
from support.server import LiveServer

from .conftest import PHONE, screenshot

pytestmark = pytest.mark.browser

REPLY = """Sure. A **generator** yields values lazily:

```python
def countdown(n: int):
    while n > 0:
        yield n  # paused here until the next value is asked for
        n -= 1
```

- memory stays flat however long the sequence
- works with `for`, `list()` and `sum()`
"""


@pytest.fixture
def phone(browser: Browser, ui_server: LiveServer) -> Iterator[BrowserContext]:
    context = browser.new_context(
        base_url=ui_server.url,
        viewport=PHONE,
        color_scheme="dark",
        reduced_motion="reduce",
        is_mobile=True,
        has_touch=True,
        device_scale_factor=1,
    )
    context.set_default_timeout(10_000)
    yield context
    context.close()


def seed_conversation(page: Page, ui_server: LiveServer, ollama: FakeOllama) -> None:
    with ui_server.client() as api:
        for title in ("Trip to Lisbon", "SQL window functions", "Birthday ideas"):
            api.post("/threads", json={"title": title})
    ollama.queue(Reply(tokens=[REPLY]))
    page.goto("/")
    box = page.get_by_label("Message", exact=True)
    box.fill("How do Python generators work?")
    box.press("Enter")
    expect(page.locator(".message.assistant pre code.hljs")).to_be_visible()
    expect(page.locator(".message.streaming")).to_have_count(0)


def background(page: Page) -> str:
    return str(page.evaluate("getComputedStyle(document.body).backgroundColor"))


def test_desktop_themes(page: Page, ui_server: LiveServer, ollama: FakeOllama) -> None:
    seed_conversation(page, ui_server, ollama)
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    light = background(page)
    screenshot(page, "desktop-light")

    toggle = page.get_by_role("button", name="Dark theme")
    toggle.click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert background(page) != light
    screenshot(page, "desktop-dark")

    page.reload()  # the choice is remembered
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(page.get_by_role("button", name="Light theme")).to_have_attribute("aria-pressed", "true")


def test_phone_width_collapses_the_sidebar(
    phone: BrowserContext, ui_server: LiveServer, ollama: FakeOllama
) -> None:
    page = phone.new_page()
    seed_conversation(page, ui_server, ollama)
    # No choice made: the OS preference (dark here) decides.
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(page.locator("#sidebar")).to_be_hidden()
    composer = page.get_by_label("Message", exact=True).bounding_box()
    assert composer is not None and composer["x"] + composer["width"] <= PHONE["width"]
    screenshot(page, "phone-dark")

    menu = page.get_by_role("button", name="Show conversations")
    menu.click()
    expect(page.locator("#sidebar")).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("button", name="New chat")).to_be_focused()
    screenshot(page, "phone-dark-sidebar")

    page.locator(".thread-link", has_text="Trip to Lisbon").click()
    expect(page.locator("#sidebar")).to_be_hidden()
    expect(page.locator("#thread-title")).to_have_text("Trip to Lisbon")

    menu.click()
    page.get_by_role("button", name="Light theme").click()
    page.keyboard.press("Escape")
    expect(page.locator("#sidebar")).to_be_hidden()
    expect(menu).to_be_focused()
    page.go_back()
    expect(page.locator(".message.assistant")).to_have_count(1)
    screenshot(page, "phone-light")


def test_keyboard_reaches_the_controls_in_order(page: Page) -> None:
    page.goto("/")
    expect(page.locator("#model-select option")).not_to_have_count(0)
    expect(page.get_by_label("Message", exact=True)).to_be_focused()  # ready to type
    page.locator(".skip-link").focus()
    order = []
    for _ in range(11):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id"))
    assert order == [
        "new-chat",
        "search-input",
        "theme-toggle",
        "key-button",
        "export-button",
        "import-button",
        "model-select",
        "settings-button",
        "messages",
        "composer-input",
        "send-button",
    ]
    page.locator(".skip-link").focus()
    page.keyboard.press("Enter")  # the skip link jumps to the message box
    expect(page.get_by_label("Message", exact=True)).to_be_focused()


def test_asks_for_an_api_key_when_the_server_wants_one(
    browser: Browser, start_server: Callable[..., LiveServer]
) -> None:
    secret = "browser-test-secret-0123456789"
    server = start_server(auth="on", api_keys=[f"tester:{secret}"], rate_limit="")
    with httpx.Client(base_url=server.url) as api:
        assert api.get("/threads").status_code == 401
        api.post(
            "/threads",
            json={"title": "Behind a key"},
            headers={"Authorization": f"Bearer {secret}"},
        )
    context = browser.new_context(base_url=server.url)
    try:
        page = context.new_page()
        page.goto("/")
        key = page.get_by_label("Key", exact=True)
        expect(key).to_be_focused()
        key.fill("wrong-key-wrong-key-wrong")
        key.press("Enter")
        expect(page.locator("#key-text")).to_contain_text("refused")
        key.fill(secret)
        key.press("Enter")
        expect(page.locator(".thread-link")).to_have_text(["Behind a key"])

        page.reload()  # the key is remembered: no prompt this time
        expect(page.locator(".thread-link")).to_have_text(["Behind a key"])
        expect(page.get_by_role("dialog")).to_be_hidden()
    finally:
        context.close()
