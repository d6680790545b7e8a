"""The supervisors' per-agent view and assigning from the waiting list, in chromium: a waiting customer is
listed with their group and wait, a supervisor hands them to an agent, whose console opens the chat; the
per-agent table counts it; a refusal (the agent at their limit) is said on the dashboard
(docs/bridge-protocol.md, "Per-agent view and assigning").

A bridge of its own (own key prefix, no Rasa: "talk to a person" queues with the bridge's own summary).
"""

from __future__ import annotations

import uuid
from typing import Iterator

import pytest
from playwright.sync_api import expect

from harness.servers import add_agent, running_bridge
from tests.browser.conftest import screenshot
from tests.browser.test_assignment import NO_RASA, console_of, queued


@pytest.fixture(scope="module")
def view_site(redis_url: str) -> Iterator[str]:
    """ava (an agent shown as Ava Stone, one chat at a time) and sal (an agent and supervisor)."""
    prefix = f"hbwebagents{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "ava", "--display-name", "Ava Stone", "--max-chats", "1")
    add_agent(redis_url, prefix, "sal", "--roles", "agent,supervisor")
    with running_bridge(redis_url, NO_RASA, "bridge-web-agents", prefix, HANDOFF_AGENT_GRACE_SECONDS="30") as address:
        yield f"http://{address}"


def test_a_supervisor_assigns_a_waiting_customer_and_sees_it_per_agent(browser, view_site, background_loop):
    ava = console_of(browser, view_site, "ava")
    sal = console_of(browser, view_site, "sal")
    sal.page.get_by_role("button", name="Dashboard").click()
    waiting = sal.page.locator("#waiting-list")
    expect(waiting).to_contain_text("Nobody is waiting.")
    figures = sal.page.locator('#agent-figures tr[data-agent="ava"]')
    expect(figures).to_contain_text("Ava Stone")
    expect(figures.locator(".agent-taken")).to_have_text("0")

    first = queued(background_loop, view_site)
    row = waiting.locator(f'tr[data-conversation="{first.client.conversation_id}"]')
    expect(row).to_contain_text("general")
    expect(row).to_contain_text("Asked for a person")
    row.get_by_role("button", name="Assign").click()
    expect(sal.page.locator(".waiting-list .inline-error")).to_have_text("Choose an agent first.")
    row.get_by_role("combobox").select_option(label="Ava Stone")
    screenshot(sal.page, "console-waiting-list")
    row.get_by_role("button", name="Assign").click()
    expect(ava.transcript).to_contain_text("Ava Stone from our support team has joined the chat.")
    # Ava is told who gave it to her, not that a colleague transferred it (trial 16).
    expect(ava.page.locator(".toasts")).to_contain_text("Sal assigned you a chat.")
    first.expect("status", state="agent")
    expect(waiting).to_contain_text("Nobody is waiting.")
    expect(figures.locator(".agent-taken")).to_have_text("1")
    expect(figures.locator(".agent-closed")).to_have_text("0")

    # ava serves her one chat: the bridge refuses another, and the dashboard says why.
    second = queued(background_loop, view_site)
    row = waiting.locator(f'tr[data-conversation="{second.client.conversation_id}"]')
    row.get_by_role("combobox").select_option(label="Ava Stone")
    row.get_by_role("button", name="Assign").click()
    expect(sal.page.locator(".waiting-list .inline-error")).to_contain_text("limit")
    expect(row).to_be_visible()  # still waiting
    figures.scroll_into_view_if_needed()
    screenshot(sal.page, "console-agent-figures")
    for console in (ava, sal):
        console.assert_no_errors()
    for customer in (first, second):
        background_loop.run(customer.client.close())
    for console in (ava, sal):
        console.page.context.close()
