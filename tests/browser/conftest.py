"""Debian's chromium driven by Playwright, against a real bridge, Rasa and Redis.

Set SCREENSHOT_DIR (``make screenshots`` sets it to docs/screenshots) to keep
the screenshots the tests take at the key screens.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.handoff.conftest import AGENT_PASSWORD, add_agent, running_bridge

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
def site(redis_url: str, rasa_url: str) -> Iterator[str]:
    """A bridge of its own (own key prefix) with an agent (ann) and a supervisor who is also an agent (sue); its http URL."""
    prefix = f"hbweb{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "ann")
    add_agent(redis_url, prefix, "sue", "--roles", "agent,supervisor")
    with running_bridge(redis_url, rasa_url, "bridge-web", prefix, HANDOFF_AGENT_GRACE_SECONDS="30") as address:
        yield f"http://{address}"


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
