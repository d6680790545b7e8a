"""Automatic assignment in chromium: a supervisor switches a skill group to automatic on the dashboard, an
agent gets a waiting customer offered (with the customer's context and the time left), accepts it and
the chat opens as after a claim; a colleague's decline passes the next one on (docs/bridge-protocol.md,
"Automatic assignment").

A bridge of its own (own key prefix, no Rasa behind it: "talk to a person" queues with the bridge's own
summary), so that the group's mode and who is online are this module's alone.
"""

from __future__ import annotations

import re
import uuid
from typing import Iterator

import pytest
from playwright.sync_api import Browser, expect

import handoff_client
from harness.servers import add_agent, running_bridge
from tests.browser.conftest import BackgroundLoop, new_context, screenshot
from tests.browser.test_console import Console, Customer, open_console

NO_RASA = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def assign_site(redis_url: str) -> Iterator[str]:
    """ava (an agent, shown as Ava Stone) and sal (an agent and supervisor); offers wait a minute."""
    prefix = f"hbwebassign{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "ava", "--display-name", "Ava Stone")
    add_agent(redis_url, prefix, "sal", "--roles", "agent,supervisor")
    with running_bridge(redis_url, NO_RASA, "bridge-web-assign", prefix, HANDOFF_ASSIGN_ACCEPT_SECONDS="60",
                        HANDOFF_AGENT_GRACE_SECONDS="30") as address:
        yield f"http://{address}"


def console_of(browser: Browser, site: str, name: str) -> Console:
    context = new_context(browser, viewport={"width": 1440, "height": 900})
    console = open_console(context, site, name)
    expect(console.tab(r"^Queue")).to_be_visible()
    return console


def queued(loop: BackgroundLoop, site: str) -> Customer:
    customer = Customer(loop, loop.run(handoff_client.Customer.connect(site.removeprefix("http://"))))
    customer.ask_for_person()
    return customer


def mode_choice(console: Console, group: str, label: str):
    return console.page.locator(f'.assignment-row[data-group="{group}"]').get_by_label(label)


def test_a_supervisor_turns_on_automatic_assignment_and_an_agent_accepts_an_offer(browser, assign_site, background_loop):
    ava = console_of(browser, assign_site, "ava")
    sal = console_of(browser, assign_site, "sal")  # connected after ava: ava has been idle longer
    sal.page.get_by_role("button", name="Dashboard").click()
    expect(sal.page.get_by_role("heading", name="Assigning chats")).to_be_visible()
    expect(mode_choice(sal, "general", "Agents claim")).to_be_checked()
    mode_choice(sal, "general", "Automatic").check()
    expect(mode_choice(sal, "general", "Automatic")).to_be_checked()
    expect(sal.page.locator(".assignment-modes .team-summary")).to_contain_text("0 offers open now")
    screenshot(sal.page, "console-assignment-modes")

    first = queued(background_loop, assign_site)
    offers = ava.page.get_by_role("list", name="Chats offered to you")
    card = offers.get_by_role("listitem")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Offered to you: Asked for a person")
    # The header's alert says it is offered to them, not that a chat waits to be claimed (trial 16).
    expect(ava.page.locator(".alert-banner .alert-text")).to_have_text("Offered to you: Asked for a person")
    ava.page.locator(".alert-banner").get_by_role("button", name="Show").click()
    expect(ava.page.get_by_role("button", name="Accept chat: Asked for a person")).to_be_focused()
    expect(card.locator(".offer-left")).to_have_text(re.compile(r"^\d+ s to accept$"))
    expect(card.locator(".queue-summary")).not_to_be_empty()  # the customer's context, as a queue card has it
    expect(sal.page.locator(".assignment-modes .team-summary")).to_contain_text("1 offer open now")
    # The waiting list names whom it is offered to as people know them (trial 16: the login was shown).
    expect(sal.page.locator("#waiting-list")).to_contain_text("offered to Ava Stone")
    # Its queue card stays (the customer still waits, in their place), but agents do not claim it by hand.
    expect(ava.queue.get_by_role("button")).to_have_text("Assigned automatically")
    expect(ava.queue.get_by_role("button")).to_be_disabled()
    screenshot(ava.page, "console-assignment-offer")
    ava.page.get_by_role("button", name="Accept chat: Asked for a person").click()
    expect(ava.transcript).to_contain_text("Ava Stone from our support team has joined the chat.")
    expect(ava.page.get_by_role("tab", name=re.compile("Asked for a person"), selected=True)).to_be_visible()
    expect(offers).to_be_hidden()
    first.expect("status", state="agent")

    # The next one goes to sal (now the least busy); declined, it goes to ava, who takes it too.
    sal.page.get_by_role("button", name="Chats").click()
    second = queued(background_loop, assign_site)
    sal.page.get_by_role("button", name="Decline chat: Asked for a person").click()
    expect(sal.page.get_by_role("list", name="Chats offered to you")).to_be_hidden()
    ava.page.get_by_role("button", name="Accept chat: Asked for a person").click()
    expect(ava.page.get_by_role("tab", name=re.compile("Asked for a person"))).to_have_count(2)
    second.expect("status", state="agent")

    # A third customer whose page has gone: their card (left, its countdown, assigned automatically) keeps
    # everything within its edge (trial 16: the countdown and the button were cut off).
    third = queued(background_loop, assign_site)
    background_loop.run(third.client.close())
    card = ava.queue.filter(has_text="Left")
    expect(card.locator(".sla-chip")).to_be_visible()
    assert card.evaluate("(card) => { const edge = card.closest('.sidebar').getBoundingClientRect().right; "
                         "return [card, ...card.querySelectorAll('*')].every((each) => "
                         "each.getBoundingClientRect().right <= edge + 0.5); }"), \
        "something on the queue card reaches beyond the sidebar's edge"

    sal.page.get_by_role("button", name="Dashboard").click()
    mode_choice(sal, "general", "Agents claim").check()
    expect(mode_choice(sal, "general", "Agents claim")).to_be_checked()
    for console in (ava, sal):
        console.assert_no_errors()
    for customer in (first, second):
        background_loop.run(customer.client.close())
    for console in (ava, sal):
        console.page.context.close()
