"""What the console tells an agent about colleagues and their chats, in chromium, against a real bridge:
a closed chat read by a colleague (who closed it, how it ended, its rating), colleagues who are away in
the transfer dialog, display names, and closing without a list of dispositions (a fresh-eyes trial's
findings, /work/notes/findings/console.md)."""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.sync_api import Browser, WebSocketRoute, expect

from tests.browser.conftest import new_context, screenshot
from tests.browser.test_console import (  # noqa: F401 - fixtures: the consoles, customers, a tidy bridge
    Console, ann, claimed_by, customers, open_console, sue, tidy,
)
from tests.browser.test_notes import note_box

__all__: list = []


# Whether a text box's placeholder fits on its one line (a cut-off hint is no hint).
PLACEHOLDER_FITS = """(box) => {
    const style = getComputedStyle(box);
    const pen = document.createElement("canvas").getContext("2d");
    pen.font = style.font;
    return pen.measureText(box.placeholder).width <= box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
}"""


def open_from_mention(console: Console) -> None:
    console.tab("^Mentions").click()
    mention = console.page.get_by_role("list", name="Notes that mention you").get_by_role("listitem").first
    mention.get_by_role("button", name=re.compile("^Open the chat")).click()


def test_a_colleague_reading_a_chat_sees_it_closed_by_whom_how_it_ended_and_its_rating(ann, sue, customers):
    customer = customers()
    customer.ask_for_person()
    claimed_by(ann, customer)
    ann.reply("Checking your address now.")
    customer.expect("message", kind="agent")
    ann.conversation.get_by_role("button", name="Note", exact=True).click()
    note_box(ann).fill("@sue please check the delivery address")
    note_box(ann).press("Enter")
    expect(sue.tab(r"^Mentions 1$")).to_be_visible()
    sue.page.set_viewport_size({"width": 1280, "height": 900})  # the trial's screen, where the note hint was cut off
    open_from_mention(sue)
    banner = sue.conversation.locator(".view-banner")
    expect(banner).to_have_text(re.compile(r"^Read only: Ann Lee is serving this chat"))  # her name, not her login
    assert note_box(sue).evaluate(PLACEHOLDER_FITS), "the note box's hint is cut off"
    # No receipt in a read-only view: it cannot know what the customer read before it opened.
    reply = sue.transcript.locator(".msg-agent").filter(has_text="Checking your address now.")
    expect(reply).to_have_count(1)
    expect(reply.locator(".msg-status")).to_have_text("")

    ann.conversation.get_by_role("button", name="Close chat").click()
    dialog = ann.page.get_by_role("dialog", name="Close this chat?")
    dialog.get_by_role("radio", name="Follow-up needed").check()
    dialog.get_by_label(re.compile("Closing note")).fill("Reordered card; check delivery in a week <b>soon</b>")
    dialog.get_by_role("button", name="Close chat").click()

    # Sue's open view follows: closed, by Ann, the outcome and the note (as text), not rated yet.
    ended = sue.conversation.get_by_role("region", name="How the chat ended")
    expect(ended).to_contain_text("Closed by Ann Lee")
    expect(ended).to_contain_text("Follow-up needed")
    expect(ended).to_contain_text("Reordered card; check delivery in a week <b>soon</b>")
    expect(ended.locator("b")).to_have_count(0)
    expect(ended).to_contain_text("Not rated yet")
    expect(banner).to_have_text(re.compile(r"^Read only: this chat is closed"))
    expect(sue.conversation.locator(".conversation-head .chip-closed")).to_have_text("Closed")
    customer.expect("message", kind="system", data={"notice": "rate"})
    customer.send("rating", {"score": 4, "comment": "quick and kind"}, id="rate")
    expect(ended).to_contain_text("4 of 5")
    expect(ended).to_contain_text("quick and kind")
    screenshot(sue.page, "console-closed-chat-read-only")

    # Opened again later, from the mention: the same.
    sue.conversation.get_by_role("button", name="Close", exact=True).click()
    expect(sue.page.get_by_role("tablist", name="Your chats").get_by_role("tab")).to_have_count(0)
    open_from_mention(sue)
    again = sue.conversation.get_by_role("region", name="How the chat ended")
    expect(again).to_contain_text("Closed by Ann Lee")
    expect(again).to_contain_text("Follow-up needed")
    expect(again).to_contain_text("4 of 5")

    # The customer writes again: the closed chat stays as it ended (a new one would take the message), never
    # "Unknown reason" (trial 16).
    customer.send("message", {"text": "thanks, one more question about fees"}, id="after-close")
    customer.expect("error", code="conversation_closed")
    expect(sue.conversation.locator(".conversation-head .chip-closed")).to_have_text("Closed")
    expect(again).to_contain_text("Closed by Ann Lee")
    expect(sue.conversation).not_to_contain_text("Unknown reason")


def test_the_transfer_dialog_shows_a_colleague_who_is_away_as_away_and_not_to_be_chosen(ann, sue, customers):
    sue.page.get_by_label("Your status").select_option("away")
    expect(sue.page.locator(".agent-status")).to_have_attribute("data-status", "away")
    try:
        customer = customers()
        customer.ask_for_person()
        claimed_by(ann, customer)
        ann.conversation.get_by_role("button", name="Transfer").click()
        dialog = ann.page.get_by_role("dialog", name="Transfer chat")
        expect(dialog.get_by_role("radio", name="Sue away", exact=True)).to_be_disabled()
        screenshot(ann.page, "console-transfer-colleague-away")
        dialog.get_by_role("button", name="Cancel").click()
    finally:
        sue.page.get_by_label("Your status").select_option("available")
        expect(sue.page.locator(".agent-status")).to_have_attribute("data-status", "available")


def test_hand_back_to_the_bot_asks_first_and_cancel_keeps_the_chat(ann, customers):
    customer = customers()
    customer.ask_for_person()
    claimed_by(ann, customer)
    ann.conversation.get_by_role("button", name="Hand back to bot").click()
    confirm = ann.page.get_by_role("dialog", name="Hand this chat back to the bot?")
    expect(confirm).to_be_visible()
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    expect(ann.page.get_by_role("tablist", name="Your chats").get_by_role("tab")).to_have_count(1)
    ann.reply("Still here, checking.")
    assert customer.expect("message", kind="agent")["data"]["text"] == "Still here, checking."


def without_dispositions(route: WebSocketRoute) -> None:
    """The agent's socket as a bridge older than dispositions would speak it: an empty list."""
    server = route.connect_to_server()

    def from_server(message: Any) -> None:
        envelope = json.loads(message)
        if envelope.get("type") == "dispositions":
            envelope["data"]["items"] = []
        route.send(json.dumps(envelope))

    server.on_message(from_server)


def test_without_dispositions_a_chat_closes_without_one(browser: Browser, site, customers):
    context = new_context(browser, viewport={"width": 1440, "height": 900})
    context.route_web_socket(re.compile(r"/ws/agent"), without_dispositions)
    console = open_console(context, site, "ann")
    customer = customers()
    customer.ask_for_person()
    claimed_by(console, customer)
    console.conversation.get_by_role("button", name="Close chat").click()
    dialog = console.page.get_by_role("dialog", name="Close this chat?")
    expect(dialog.get_by_role("radio")).to_have_count(0)
    close = dialog.get_by_role("button", name="Close chat")
    expect(close).to_be_enabled()
    close.click()
    expect(console.page.get_by_text("Chat closed. The customer is asked to rate it.")).to_be_visible()
    customer.expect("status", state="closed")
    console.assert_no_errors()
    context.close()


def test_a_supervisor_opens_a_colleagues_chat_from_the_dashboard_and_a_queued_one_from_its_card(ann, sue, customers):
    served, waiting = customers(), customers()
    served.ask_for_person()
    claimed_by(ann, served)
    waiting.ask_for_person()

    # The queue card: "Open" beside "Claim" for a supervisor (Ann, an agent only, has none).
    card = sue.queue.filter(has=sue.page.get_by_role("button", name="Open chat read-only: Asked for a person"))
    expect(card.first).to_be_visible()
    expect(ann.page.get_by_role("button", name=re.compile("^Open chat read-only"))).to_have_count(0)
    card.first.get_by_role("button", name=re.compile("^Open chat read-only")).click()
    expect(sue.conversation.locator(".view-banner")).to_have_text(re.compile(r"^Read only: nobody is serving this chat"))
    sue.conversation.get_by_role("button", name="Close", exact=True).click()
    expect(sue.page.get_by_role("tablist", name="Your chats").get_by_role("tab")).to_have_count(0)

    # The dashboard's team row: Ann's chat, opened read-only in the Chats view.
    sue.page.get_by_role("button", name="Dashboard").click()
    row = sue.page.locator('#team-status tr[data-agent="ann"]')
    opener = row.get_by_role("button", name=f"Open Ann Lee's chat #{served.conversation_id[:6]} read-only")
    expect(opener).to_be_visible()
    screenshot(sue.page, "console-dashboard-team-chats")
    opener.click()
    expect(sue.conversation.locator(".view-banner")).to_have_text(re.compile(r"^Read only: Ann Lee is serving this chat"))
    expect(sue.conversation.get_by_role("button", name="Transfer")).to_be_hidden()


def overlaps(a: Any, b: Any) -> bool:
    return a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"] and a["y"] < b["y"] + b["height"] \
        and b["y"] < a["y"] + a["height"]


def test_the_new_chat_alert_covers_no_chat_and_away_there_are_no_new_chat_alerts(ann, customers):
    served = customers()
    served.ask_for_person()
    claimed_by(ann, served)
    customers().ask_for_person()
    banner = ann.page.get_by_role("status").filter(has_text="New chat waiting")
    expect(banner).to_be_visible()
    # In the top bar: neither the chat's tabs nor its header and actions are under it.
    box = banner.bounding_box()
    for covered in (ann.page.get_by_role("tablist", name="Your chats"), ann.conversation.locator(".conversation-head")):
        assert not overlaps(box, covered.bounding_box()), "the alert covers part of the chat"
    screenshot(ann.page, "console-new-chat-alert")
    banner.get_by_role("button", name="Dismiss").click()
    expect(banner).to_be_hidden()

    ann.page.get_by_label("Your status").select_option("away")
    expect(ann.page.locator(".agent-status")).to_have_attribute("data-status", "away")
    try:
        played = ann.page.evaluate("window.__notesPlayed")
        customers().ask_for_person()
        expect(ann.queue).to_have_count(2)
        expect(ann.queue_item("New")).to_have_count(1)  # still marked new on its card
        expect(ann.page.get_by_role("status").filter(has_text="New chat waiting")).to_be_hidden()
        expect(ann.page).to_have_title("Support console")
        assert ann.page.evaluate("window.__notesPlayed") == played, "away: no sound for new chats"
    finally:
        ann.page.get_by_label("Your status").select_option("available")
        expect(ann.page.locator(".agent-status")).to_have_attribute("data-status", "available")
    expect(ann.page.get_by_role("status").filter(has_text="New chat waiting")).to_be_visible()  # back: alerted again


def test_the_team_list_counts_available_as_the_agents_available_figure_does(ann, sue, browser, site, customers):
    context = new_context(browser)
    cody = open_console(context, site, "cody")
    expect(cody.page.get_by_label("Your status")).to_have_value("available")
    context.close()  # Cody's console closed: available for the grace period, yet nobody to take a chat
    sue.page.get_by_role("button", name="Dashboard").click()
    row = sue.page.locator('#team-status tr[data-agent="cody"]')
    expect(row).to_contain_text("(console closed)")
    available = sue.page.get_by_role("group", name="Agents available").locator(".kpi-value")
    expect(sue.page.locator(".team-status .team-summary")).to_contain_text("1 available with the console closed")
    expect(sue.page.locator(".team-status .team-summary")).to_have_text(re.compile(rf"^{available.inner_text()} available,"))
    # The transfer dialog says the same of Cody, not "offline", and offers no chat to a console that is closed.
    customer = customers()
    customer.ask_for_person()
    claimed_by(ann, customer)
    ann.conversation.get_by_role("button", name="Transfer").click()
    dialog = ann.page.get_by_role("dialog", name="Transfer chat")
    expect(dialog.get_by_role("radio", name="Cody available · console closed", exact=True)).to_be_disabled()
