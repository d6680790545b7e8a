"""Who is there, in chromium: the agent's status control in the console's header, the team's statuses on
the supervisors' dashboard, and the customer's presence (connected, typing, gone and since when) on the
queue card and in the chat's header (docs/bridge-protocol.md, "Agents' status and customers' presence")."""

from __future__ import annotations

import time
from typing import Any

import redis
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_console import Console, ann, claimed_by, customers, sue, tidy  # noqa: F401 - fixtures
from tests.browser.test_widget import agent, open_chat, open_demo, queue_for_a_person, stored_conversation  # noqa: F401

__all__: list = []


def team_row(console: Console, name: str) -> Any:
    return console.page.locator(f'#team-status tr[data-agent="{name}"]')


async def card_shows(client: Any, conversation_id: str, presence: str) -> None:
    """Until the agent's queue shows the customer ``presence``."""
    while (await client.queue_item(conversation_id, timeout=15))["customer_presence"] != presence:
        pass


def test_an_agent_goes_away_from_the_header_and_the_supervisor_sees_it_live(ann, sue):
    page = ann.page
    status = page.get_by_label("Your status")
    expect(status).to_have_value("available")
    expect(status).to_be_enabled()
    expect(page.locator(".account-agent")).to_have_text("Ann Lee")  # the name customers see

    sue.page.get_by_role("button", name="Dashboard").click()
    expect(team_row(sue, "ann")).to_have_attribute("data-status", "available")
    expect(team_row(sue, "ann")).to_contain_text("Ann Lee")
    available = int(sue.page.get_by_role("group", name="Agents available").locator(".kpi-value").inner_text())

    status.select_option("away")
    expect(page.locator(".agent-status")).to_have_attribute("data-status", "away")
    expect(team_row(sue, "ann")).to_have_attribute("data-status", "away")
    expect(team_row(sue, "ann").get_by_role("cell").first).to_have_text("Away")
    expect(team_row(sue, "ann").locator(".team-since")).to_have_text("less than a minute")
    expect(sue.page.get_by_role("group", name="Agents available").locator(".kpi-value")).to_have_text(str(available - 1))
    expect(sue.page.locator(".team-status .team-summary")).to_contain_text("1 away")
    screenshot(sue.page, "console-team-status")

    page.reload()  # a reload keeps the agent's choice
    expect(page.get_by_label("Your status")).to_have_value("away")
    screenshot(page, "console-agent-away")
    page.get_by_label("Your status").select_option("available")
    expect(team_row(sue, "ann")).to_have_attribute("data-status", "available")
    expect(sue.page.get_by_role("group", name="Agents available").locator(".kpi-value")).to_have_text(str(available))


def test_the_queue_card_and_the_chat_header_show_whether_the_customer_is_still_there(
        ann, customers, redis_url, site_prefix):
    page = ann.page
    customer = customers()
    customer.ask_for_person()
    card = ann.queue_item("Asked for a person")
    presence = card.locator(".presence-chip")
    expect(presence).to_have_text("Customer: Connected")
    customer.send("typing", {"active": True})
    expect(presence).to_have_text("Customer: Typing…")
    customer.send("typing", {"active": False})
    expect(presence).to_have_text("Customer: Connected")

    claimed_by(ann, customer)
    header = ann.conversation.locator(".conversation-meta .presence-chip")
    expect(header).to_have_text("Customer: Connected")
    customer.send("typing", {"active": True})
    expect(header).to_have_text("Customer: Typing…")
    customer.loop.run(customer.client.close())
    expect(header).to_have_text("Customer: Left just now")
    expect(header).to_have_attribute("data-presence", "gone")

    # Since when: three minutes ago, as the bridge tells a console that connects (a reload).
    store = redis.Redis.from_url(redis_url)
    store.hset(f"{site_prefix}:conv:{customer.conversation_id}", "presence", f"gone|{int(time.time() * 1000) - 185_000}")
    page.reload()
    expect(ann.conversation.locator(".conversation-meta .presence-chip")).to_have_text("Customer: Left 3 min ago")
    screenshot(page, "console-customer-left")


def test_a_waiting_customer_who_closed_the_page_shows_as_gone_on_the_card(ann, customers, redis_url, site_prefix):
    customer = customers()
    customer.ask_for_person()
    card = ann.queue_item("Asked for a person")
    expect(card.locator(".presence-chip")).to_have_text("Customer: Connected")
    customer.loop.run(customer.client.close())
    expect(card.locator(".presence-chip")).to_have_text("Customer: Left just now")
    store = redis.Redis.from_url(redis_url)
    store.hset(f"{site_prefix}:conv:{customer.conversation_id}", "presence", f"gone|{int(time.time() * 1000) - 425_000}")
    ann.page.reload()  # the whole queue again, with how long the customer has been gone
    expect(ann.queue_item("Asked for a person").locator(".presence-chip")).to_have_text("Customer: Left 7 min ago")
    screenshot(ann.page, "console-queue-presence")


def test_a_customer_typing_in_the_widget_while_waiting_shows_on_the_agents_card(customer_context, site, agent,
                                                                                background_loop):
    page, errors = open_demo(customer_context, site)
    open_chat(page)
    queue_for_a_person(page)
    conversation_id = stored_conversation(page)["conversationId"]
    background_loop.run(card_shows(agent.client, conversation_id, "connected"))
    page.get_by_label("Type your message").press_sequentially("is anyone there", delay=50)
    background_loop.run(card_shows(agent.client, conversation_id, "typing"))
    background_loop.run(card_shows(agent.client, conversation_id, "connected"))  # a pause: stopped typing
    assert errors == []
    page.close()
    background_loop.run(card_shows(agent.client, conversation_id, "gone"))
