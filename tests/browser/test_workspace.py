"""Labels, dispositions and canned responses in chromium: a supervisor manages them under the
dashboard, an agent's open console follows every change live (labels on the chat and the queue's
cards, the canned responses behind "/"), closing asks for a disposition, and the dashboard counts."""

from __future__ import annotations

import re
import uuid

import redis
from playwright.sync_api import Page, expect

from harness.clients import staff
from tests.browser.conftest import screenshot
from tests.browser.test_console import (  # noqa: F401 - the fixtures ann, sue, customers and the autouse tidy
    Console, ann, claimed_by, customers, sue, table_value, tidy,
)


def open_dashboard(console: Console) -> Page:
    page = console.page
    page.get_by_role("button", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    return page


def test_new_labels_get_colours_of_their_own(sue):
    """Trial 16: every new label got the same blue unless the supervisor chose another."""
    page = open_dashboard(sue)
    colours = []
    for _ in range(3):
        name = f"Plain {uuid.uuid4().hex[:4]}"
        form = page.get_by_role("form", name="New label")
        form.get_by_label("Name").fill(name)
        form.get_by_role("button", name="Add label").click()
        chip = page.get_by_role("list", name="Labels").locator(".chip-label").filter(has_text=name)
        expect(chip).to_have_count(1)
        colours.append(chip.evaluate("(chip) => chip.style.getPropertyValue('--label-colour')"))
    assert len(set(colours)) == 3, colours


def delete(page: Page, button: str) -> None:
    page.get_by_role("button", name=button).click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()


def test_a_supervisor_manages_labels_an_agent_labels_a_chat_and_the_dashboard_counts_them(
        ann, sue, customers, background_loop, address):
    name = f"Card <b>fraud</b> {uuid.uuid4().hex[:4]}"  # shown literally, never as markup
    page = open_dashboard(sue)
    form = page.get_by_role("form", name="New label")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Colour").fill("#d1242f")
    # A label in the same red arrives after the supervisor chose it (a colleague's, or the first list, late): the
    # colour they chose stays theirs (it used to move on to a free one, purple).
    other = f"Other red {uuid.uuid4().hex[:4]}"

    async def colleague_adds_a_red_label() -> None:
        supervisor = await staff(address, "sue", "supervisor")
        await supervisor.send("label_save", {"name": other, "colour": "#d1242f"}, id="label")
        await supervisor.acknowledged("label")
        await supervisor.close()

    background_loop.run(colleague_adds_a_red_label())
    expect(page.get_by_role("list", name="Labels").locator(".chip-label").filter(has_text=other)).to_have_count(1)
    form.get_by_role("button", name="Add label").click()
    expect(page.get_by_role("list", name="Labels").locator(".chip-label").filter(has_text=name)).to_have_text(f"Label: {name}")
    delete(page, f"Delete label {other}")
    expect(page.get_by_role("list", name="Labels").get_by_text(other)).to_have_count(0)
    before = table_value(page, "Labels", name)

    customer = customers()
    customer.ask_for_person()
    claimed_by(ann, customer)
    ann.conversation.get_by_role("button", name="Labels").click()
    picker = ann.page.get_by_role("dialog", name="Labels")
    picker.get_by_role("checkbox", name=name).check()
    chips = ann.conversation.locator(".conversation-labels .chip-label")
    expect(chips).to_have_text([f"Label: {name}"])
    # The whole chip wears the label's colour (trial 16: only a thin arc at its left showed it).
    assert chips.first.locator(".label-dot").evaluate("(dot) => getComputedStyle(dot).backgroundColor") == "rgb(209, 36, 47)"
    assert chips.first.evaluate("(chip) => getComputedStyle(chip).backgroundColor") not in ("rgb(255, 255, 255)",
                                                                                            "rgba(0, 0, 0, 0)")
    screenshot(ann.page, "console-labels")
    picker.get_by_role("button", name="Done").click()
    expect(page.get_by_role("table", name="Labels").get_by_role("row", name=f"{name} {before + 1}")).to_have_count(1)
    assert ann.page.locator(".conversation-labels b").count() == 0

    # Renamed and recoloured under the dashboard: the agent's chat follows at once.
    renamed = f"Fraud {uuid.uuid4().hex[:4]}"
    page.get_by_role("button", name=f"Edit label {name}").click()
    form = page.get_by_role("form", name="Edit label")
    form.get_by_label("Name").fill(renamed)
    form.get_by_label("Colour").fill("#1a7f37")
    form.get_by_role("button", name="Save label").click()
    expect(chips).to_have_text([f"Label: {renamed}"])
    expect(chips.first.locator(".label-dot")).to_have_css("background-color", "rgb(26, 127, 55)")

    # A queued conversation's labels show on its card.
    waiting = customers()
    waiting.ask_for_person()
    label_id = page.get_by_role("list", name="Labels").locator(".chip-label").filter(has_text=renamed).get_attribute("data-label-id")

    async def label_waiting() -> None:
        supervisor = await staff(address, "sue", "supervisor")
        await supervisor.send("label_conversation", {"conversation_id": waiting.conversation_id, "label_id": label_id, "on": True},
                              id="label")
        await supervisor.acknowledged("label")
        await supervisor.close()

    background_loop.run(label_waiting())
    # The waiting customer's card (an earlier test's customer may still wait, gone, on another card).
    card = ann.queue.filter(has_not_text="Customer: Left")
    expect(card.locator(".chip-label")).to_have_text(f"Label: {renamed}")

    delete(page, f"Delete label {renamed}")
    expect(chips).to_have_count(0)
    expect(card.locator(".chip-label")).to_have_count(0)
    expect(page.get_by_role("list", name="Labels").get_by_text(renamed)).to_have_count(0)


def test_closing_asks_for_a_disposition_and_a_note_and_the_dashboard_counts_it(
        ann, sue, customers, redis_url, site_prefix):
    page = open_dashboard(sue)
    before = table_value(page, "Closed as", "Follow-up needed")
    customer = customers()
    customer.ask_for_person()
    claimed_by(ann, customer)

    ann.conversation.get_by_role("button", name="Close chat").click()
    dialog = ann.page.get_by_role("dialog", name="Close this chat?")
    close = dialog.get_by_role("button", name="Close chat")
    expect(close).to_be_disabled()
    assert [dialog.get_by_role("radio").nth(i).evaluate("(radio) => radio.value") for i in range(4)] == [
        "resolved", "not resolved", "follow-up needed", "spam"]
    dialog.get_by_role("radio", name="Follow-up needed").check()
    dialog.get_by_label(re.compile("Closing note")).fill("Promised a call back on Friday")
    screenshot(ann.page, "console-closing")
    close.click()
    expect(ann.page.get_by_role("tablist", name="Your chats").get_by_role("tab")).to_have_count(0)
    customer.expect("status", state="closed")
    stored = redis.Redis.from_url(redis_url).hmget(f"{site_prefix}:conv:{customer.conversation_id}", "disposition", "closing_note")
    assert stored == [b"follow-up needed", b"Promised a call back on Friday"]
    expect(page.get_by_role("table", name="Closed as").get_by_role("row", name=f"Follow-up needed {before + 1}")).to_have_count(1)
    page.get_by_role("table", name="Closed as").scroll_into_view_if_needed()  # the counts and the manager below
    screenshot(page, "console-dashboard-workspace")


def test_a_supervisor_edits_canned_responses_and_an_agents_shortcut_follows_live(ann, sue, customers):
    page = open_dashboard(sue)
    shortcut = f"refund{uuid.uuid4().hex[:4]}"
    form = page.get_by_role("form", name="New canned response")
    form.get_by_label(re.compile("Shortcut")).fill(shortcut)
    form.get_by_label("Title").fill("Refund <i>sent</i>")
    form.get_by_label(re.compile("^Text")).fill("Your refund is on its way. {agent}")
    form.get_by_role("button", name="Add canned response").click()
    expect(page.get_by_role("list", name="Canned responses").get_by_text(f"/{shortcut}")).to_be_visible()
    page.get_by_role("form", name="New canned response").scroll_into_view_if_needed()
    screenshot(page, "console-workspace-manager")

    customer = customers()
    customer.ask_for_person()
    claimed_by(ann, customer)
    ann.composer.fill(f"/{shortcut}")
    menu = ann.conversation.get_by_role("listbox", name="Canned responses")
    expect(menu.get_by_role("option")).to_have_count(1)
    expect(menu.get_by_role("option").first).to_contain_text("Refund <i>sent</i>")
    ann.composer.press("Enter")
    expect(ann.composer).to_have_value("Your refund is on its way. Ann Lee")
    ann.composer.press("Enter")
    assert customer.expect("message", kind="agent")["data"]["text"] == "Your refund is on its way. Ann Lee"

    page.get_by_role("button", name=f"Edit /{shortcut}").click()
    edit = page.get_by_role("form", name="Edit canned response")
    edit.get_by_label(re.compile("^Text")).fill("Refunded today, {agent}.")
    edit.get_by_role("button", name="Save canned response").click()
    ann.composer.fill(f"/{shortcut}")
    expect(menu.get_by_role("option").first).to_contain_text("Refunded today, Ann Lee.")
    ann.composer.fill("")

    delete(page, f"Delete /{shortcut}")
    expect(page.get_by_role("list", name="Canned responses").get_by_text(f"/{shortcut}")).to_have_count(0)
    ann.composer.fill(f"/{shortcut}")
    expect(menu).to_contain_text(f"No canned response matches “/{shortcut}”.")
