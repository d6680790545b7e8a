"""Debian's chromium driven by Playwright, against a real bridge, Rasa and Redis.

Set SCREENSHOT_DIR (``make screenshots`` sets it to docs/screenshots) to keep
the screenshots the tests take at the key screens.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import uuid
from pathlib import Path
from typing import Any, Coroutine, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from handoff_client import Agent
from harness.clients import staff
from harness.servers import AGENT_PASSWORD, add_agent, running_bridge

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
                  "--disable-component-update", "--disable-sync", "--disable-quic"]
SCREENSHOT_DIR = os.environ.get("SCREENSHOT_DIR", "")
# Playwright's default of 30 s is far beyond any step here; failures should be quick and clear.
STEP_TIMEOUT_MS = 15_000


# Package scope: Playwright's sync API runs an event loop in the main thread
# while it is open, which the other tests' asyncio.run() must not find.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def site_prefix() -> str:
    """The key prefix of the browser tests' bridge (its accounts are managed under it; a test may set up
    the queue in Redis)."""
    return f"hbweb{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def site(redis_url: str, rasa_url: str, site_prefix: str) -> Iterator[str]:
    """A bridge of its own (own key prefix) with an agent (ann), a supervisor who is also an agent (sue)
    and an agent of the cards team only (cody); its http URL."""
    prefix = site_prefix
    add_agent(redis_url, prefix, "ann", "--display-name", "Ann Lee")  # customers see "Ann Lee", never "ann"
    add_agent(redis_url, prefix, "sue", "--roles", "agent,supervisor")
    add_agent(redis_url, prefix, "cody", "--groups", "cards")
    with running_bridge(redis_url, rasa_url, "bridge-web", prefix, HANDOFF_AGENT_GRACE_SECONDS="30") as address:
        yield f"http://{address}"


@pytest.fixture(scope="package")
def address(site: str) -> str:
    """The bridge's host:port, for websocket clients."""
    return site.removeprefix("http://")


class BackgroundLoop:
    """An asyncio event loop in a thread: websocket clients live there while Playwright's sync API runs here."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, Any], timeout: float = 45.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="package")
def background_loop() -> Iterator[BackgroundLoop]:
    loop = BackgroundLoop()
    yield loop
    loop.stop()


async def close_chat(agent: Agent, conversation_id: str) -> None:
    await agent.send("close", {"conversation_id": conversation_id}, id=f"close-{conversation_id}")
    await agent.acknowledged(f"close-{conversation_id}")


async def tidy_bridge(address: str) -> None:
    """Closes every chat ann and sue still serve and empties the queue, so the next test starts clean."""
    for name in ("ann", "sue"):
        agent = await staff(address, name)
        try:
            await agent.send("queue", {}, id="tidy-queue")
            # The reply comes after the conversations this agent serves.
            queue = await agent.next_matching(lambda envelope: envelope["type"] == "queue" and envelope["id"] == "tidy-queue",
                                             "the queue", 30)
            served = [envelope["data"]["conversation_id"] for envelope in agent.received if envelope["type"] == "conversation"]
            for conversation_id in served:
                await close_chat(agent, conversation_id)
            for item in queue["data"]["items"]:
                await agent.send("claim", {"conversation_id": item["conversation_id"]}, id=f"tidy-claim-{item['conversation_id']}")
                await agent.acknowledged(f"tidy-claim-{item['conversation_id']}")
                await close_chat(agent, item["conversation_id"])
        finally:
            await agent.close()


def new_context(browser: Browser, **options: object) -> BrowserContext:
    context = browser.new_context(**options)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    return context


@pytest.fixture
def customer_context(browser: Browser) -> Iterator[BrowserContext]:
    context = new_context(browser, viewport={"width": 1280, "height": 800})
    yield context
    context.close()


@pytest.fixture
def agent_context(browser: Browser) -> Iterator[BrowserContext]:
    context = new_context(browser, viewport={"width": 1440, "height": 900})
    yield context
    context.close()


def watch_for_errors(page: Page) -> list:
    """Collects the page's uncaught exceptions, so a test can assert there were none."""
    errors: list = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def screenshot(page: Page, name: str) -> None:
    """Kept under SCREENSHOT_DIR when set (docs/screenshots via ``make screenshots``)."""
    if SCREENSHOT_DIR:
        Path(SCREENSHOT_DIR).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / f"{name}.png"))


def log_in(page: Page, site: str, name: str, password: str = AGENT_PASSWORD) -> None:
    """Opens the console and logs in through its form."""
    page.goto(f"{site}/console")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
