"""Requests assigned to an agent, in chromium against a real bridge, Rasa and Redis (docs/bridge-protocol.md
"Requests assigned to an agent"): a supervisor gives a customer's callback to an agent from the dashboard, who
is told and finds it theirs; the customer's widget names the agent after a reload; an agent takes an open
request with "Take it" and colleagues see whose it is."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_console import Console, ann, customers, sue, tidy  # noqa: F401 - fixtures
from tests.browser.test_widget import open_chat, open_demo


def request_card(console: Console, text: str):  # type: ignore[no-untyped-def]
    return console.page.get_by_role("list", name="Callbacks and messages").get_by_role("listitem").filter(has_text=text)


def test_a_supervisor_assigns_a_callback_to_an_agent_who_is_told_and_the_customer_sees_who(
        ann, sue, customer_context, site):
    page, errors = open_demo(customer_context, site)
    open_chat(page)
    page.get_by_role("button", name="Talk to a person").click()
    expect(page.locator(".queue__position")).to_be_visible()
    page.get_by_role("button", name="Request a callback").click()
    page.get_by_label("Phone number or email", exact=True).fill("07700 900321")
    page.get_by_role("button", name="Send request").click()
    status = page.locator(".request-status__text")
    expect(status).to_contain_text("We'll call you as soon as we can.")

    sue.page.get_by_role("button", name="Dashboard").click()
    row = sue.page.locator("#request-board tbody tr").filter(has_text="07700 900321")
    expect(row).to_contain_text("Nobody yet")
    choice = row.get_by_role("combobox")
    expect(choice.locator("option", has_text="Cody")).to_have_count(0)  # cody takes only the cards group
    choice.select_option(label="Ann Lee")
    screenshot(sue.page, "dashboard-request-board")
    row.get_by_role("button", name="Assign").click()
    expect(row.locator(".request-assigned-to")).to_have_text("Ann Lee")

    # Ann is told at once, and her Requests tab is marked until she looks.
    expect(ann.page.locator(".toasts")).to_contain_text("Sue assigned you a callback from 07700 900321.")
    requests_tab = ann.tab(r"^Requests \d+$")
    expect(requests_tab.locator(".is-highlighted")).to_have_count(1)
    requests_tab.click()
    ann.page.get_by_role("button", name="Assigned to me").click()
    card = request_card(ann, "07700 900321")
    expect(card).to_contain_text("Yours")
    expect(card.get_by_role("button", name="Take it")).to_have_count(0)
    screenshot(ann.page, "console-request-assigned")

    # The customer, back after a reload, is told who looks after it (the display name, never the login).
    expect(status).to_contain_text("Ann Lee from our team is looking after it.")
    page.reload()  # the chat stays open across the reload
    expect(page.locator(".request-status__text")).to_have_text(
        re.compile(r"We'll call you as soon as we can\. Ann Lee from our team is looking after it\.$"))
    assert errors == []


def test_an_agent_takes_a_request_and_colleagues_see_whose_it_is(ann, sue, customers):
    customer = customers()
    customer.send("leave", {"kind": "message", "contact": "amy@example.org", "description": "Charged twice"}, id="leave")
    customer.expect("ack")
    ann.tab(r"^Requests \d+$").click()
    card = request_card(ann, "amy@example.org")
    card.get_by_role("button", name="Take it").click()
    expect(card).to_contain_text("Yours")
    expect(card.get_by_role("button", name="Take it")).to_have_count(0)
    expect(ann.page.locator(".toasts")).to_contain_text("Message from amy@example.org is yours.")

    sue.tab(r"^Requests \d+$").click()
    theirs = request_card(sue, "amy@example.org")
    expect(theirs).to_contain_text("Assigned to Ann Lee")
    expect(theirs.get_by_role("button", name="Take it")).to_have_count(0)
    sue.page.get_by_role("button", name="Assigned to me").click()
    expect(theirs).to_have_count(0)
    expect(sue.page.locator(".requests-panel .empty-state")).to_contain_text("No requests assigned to you.")


def test_a_request_dealt_with_before_the_agent_looked_leaves_no_red_zero_on_the_tab(ann, sue, customers):
    """Trial 16: a request left while the agent looked at the queue, then marked done by a colleague, left the
    Requests tab marked (red) with a count of 0."""
    customer = customers()
    customer.send("leave", {"kind": "message", "contact": "zed@example.org", "description": "Refund?"}, id="leave")
    customer.expect("ack")
    requests_tab = ann.tab(r"^Requests \d+$")
    expect(requests_tab.locator(".is-highlighted")).to_have_count(1)
    expect(ann.page.locator(".request-list li", has_text="zed@example.org")).to_have_count(1)  # listed, not shown
    before = int(requests_tab.locator(".tab-count").inner_text())  # other tests' requests may still be open
    sue.tab(r"^Requests \d+$").click()
    request_card(sue, "zed@example.org").get_by_role("button", name="Mark done").click()
    expect(requests_tab.locator(".tab-count")).to_have_text(str(before - 1))
    expect(requests_tab.locator(".is-highlighted")).to_have_count(0)
