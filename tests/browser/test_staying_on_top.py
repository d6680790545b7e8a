"""Staying on top in the console, in chromium, against a real bridge: unread counts and the title's
total, browser notifications, keyboard shortcuts and their help overlay.

The page's visibility is switched by a test (``window.__setHidden``): a headless page is always
visible. Notifications are granted in the Playwright context and the page's ``Notification`` is
replaced by a recorder (the constructions, their tags, ``close()`` and a click), whose permission
is the browser's own.
"""

from __future__ import annotations

import re
import time
from typing import Any, Dict, Iterator, List

import pytest
from playwright.sync_api import BrowserContext, expect

from harness.clients import staff
from harness.servers import add_agent
from tests.browser.conftest import new_context, screenshot
from tests.browser.test_console import (  # noqa: F401 - fixtures: the consoles, customers, a tidy bridge
    TITLE, Console, Customer, customers, open_console, tidy,
)

# Page visibility under the test's control (document.visibilityState, document.hidden, the event); a page
# loaded after startHidden() starts hidden.
CONTROL_VISIBILITY = """window.__pageHidden = sessionStorage.getItem("test.startHidden") === "1";
Object.defineProperty(Document.prototype, "visibilityState", {
    configurable: true, get() { return window.__pageHidden ? "hidden" : "visible"; } });
Object.defineProperty(Document.prototype, "hidden", { configurable: true, get() { return window.__pageHidden; } });
window.__setHidden = (hidden) => {
    window.__pageHidden = hidden;
    document.dispatchEvent(new Event("visibilitychange"));
};"""

# Every Notification the page constructs, kept in window.__notifications (title, body, tag, closed). The browser's
# answer to requestPermission() is held until the test calls window.__answerPermission(): a real browser answers
# when its prompt closes, which may be long after the agent's next clicks.
RECORD_NOTIFICATIONS = """(() => {
    const Browser = window.Notification;
    window.__notifications = [];
    window.__permissionRequests = 0;
    class Recorded extends EventTarget {
        constructor(title, options = {}) {
            super();
            Object.assign(this, { title, body: options.body || "", tag: options.tag || "", closed: false });
            window.__notifications.push(this);
        }
        close() { this.closed = true; }
        static get permission() { return Browser.permission; }
        static requestPermission() {
            window.__permissionRequests += 1;
            return new Promise((resolve) => { window.__answerPermission = () => resolve(Browser.permission); });
        }
    }
    window.Notification = Recorded;
})();"""


def notifications(console: Console) -> List[Dict[str, Any]]:
    return console.page.evaluate(
        "window.__notifications.map(({title, body, tag, closed}) => ({title, body, tag, closed}))")


def page_value(console: Console, expression: str, wanted: Any, timeout: float = 15.0) -> None:
    """Until `expression` is `wanted` on the page (Playwright's wait_for_function evaluates a string, which the
    console's Content-Security-Policy forbids)."""
    deadline = time.monotonic() + timeout
    while (value := console.page.evaluate(expression)) != wanted:
        assert time.monotonic() < deadline, f"{expression} is {value!r}, not {wanted!r}"
        time.sleep(0.1)


def set_hidden(console: Console, hidden: bool) -> None:
    console.page.evaluate(f"window.__setHidden({'true' if hidden else 'false'})")


def reload_hidden(console: Console) -> None:
    """Reloads the page, hidden from its start (no chat is on screen while the transcripts are replayed)."""
    console.page.evaluate("sessionStorage.setItem('test.startHidden', '1')")
    console.page.reload()
    console.page.evaluate("sessionStorage.removeItem('test.startHidden')")


def unfocus(console: Console) -> None:
    """Nothing focused: a single key is a shortcut."""
    console.page.evaluate("document.activeElement && document.activeElement.blur()")


@pytest.fixture
def ann(agent_context: BrowserContext, site: str) -> Iterator[Console]:
    agent_context.add_init_script(CONTROL_VISIBILITY)
    agent_context.add_init_script(RECORD_NOTIFICATIONS)
    console = open_console(agent_context, site, "ann")
    yield console
    console.assert_no_errors()


def chat_tabs(console: Console):
    return console.page.get_by_role("tablist", name="Your chats").get_by_role("tab")


def claim_two_with_the_shortcut(ann: Console, customers: Any) -> List[Customer]:
    """Two customers queued; "c" claims the one waiting longest, twice. The second is on screen."""
    first, second = customers(), customers()
    first.ask_for_person()
    second.ask_for_person()
    expect(ann.page.locator("li.queue-item").filter(has_not_text="Customer: Left")).to_have_count(2)
    unfocus(ann)
    ann.page.keyboard.press("c")
    expect(chat_tabs(ann)).to_have_count(1)
    first.expect("status", state="agent")
    unfocus(ann)
    ann.page.keyboard.press("c")
    expect(chat_tabs(ann)).to_have_count(2)
    second.expect("status", state="agent")
    expect(chat_tabs(ann).nth(1)).to_have_attribute("aria-selected", "true")
    return [first, second]


def read_receipts(customer: Customer) -> List[str]:
    return [e["data"]["up_to"] for e in customer.client.received if e["type"] == "read"]


def test_unread_counts_a_background_tab_and_a_hidden_page_until_the_agent_looks(ann, customers, background_loop, address):
    first, second = claim_two_with_the_shortcut(ann, customers)
    first_tab = chat_tabs(ann).nth(0)
    said = first.say("Are you still there?")
    expect(first_tab.locator(".tab-badge")).to_have_text("1 unread")
    expect(ann.page).to_have_title(f"(1) {TITLE}")

    # A colleague's note counts too; the agent's own do not.
    async def colleague_notes() -> None:
        colleague = await staff(address, "sue")
        await colleague.acknowledged(await colleague.note("She called yesterday about the same card", first.conversation_id))
        await colleague.close()

    background_loop.run(colleague_notes())
    expect(first_tab.locator(".tab-badge")).to_have_text("2 unread")
    expect(ann.page).to_have_title(f"(2) {TITLE}")
    screenshot(ann.page, "console-unread")
    time.sleep(1)  # the customer is not told it was read: nobody saw it
    assert said not in read_receipts(first)

    first_tab.click()
    expect(first_tab.locator(".tab-badge")).to_be_hidden()
    expect(ann.page).to_have_title(TITLE)
    assert first.expect("read")["data"]["up_to"] == said

    # The chat on screen, but the page hidden: unread, and no receipt, until the page shows again.
    set_hidden(ann, True)
    later = first.say("Hello?")
    expect(first_tab.locator(".tab-badge")).to_have_text("1 unread")
    expect(ann.page).to_have_title(f"(1) {TITLE}")
    time.sleep(1)
    assert later not in read_receipts(first)
    set_hidden(ann, False)
    expect(first_tab.locator(".tab-badge")).to_be_hidden()
    expect(ann.page).to_have_title(TITLE)
    assert first.expect("read", up_to=later)["data"]["up_to"] == later

    # What was seen stays seen after a reload (the transcript is replayed); what was not is still unread.
    second.say("My card still does not work")
    expect(chat_tabs(ann).nth(1).locator(".tab-badge")).to_have_text("1 unread")
    reload_hidden(ann)
    page = ann.page
    expect(page.locator(f"#conversation-{first.conversation_id} .transcript")).to_contain_text("Hello?")
    expect(page.locator(f"#conversation-{second.conversation_id} .transcript")).to_contain_text("My card still does not work")
    expect(page.locator(f"#tab-{second.conversation_id} .tab-badge")).to_have_text("1 unread")
    expect(page.locator(f"#tab-{first.conversation_id} .tab-badge")).to_be_hidden()
    expect(page).to_have_title(f"(1) {TITLE}")
    set_hidden(ann, False)  # one of them is on screen now
    expect(page).to_have_title(re.compile(rf"^(\(1\) )?{TITLE}$"))


def test_another_console_tab_of_the_agent_clears_what_this_one_showed(ann, customers, agent_context, site):
    first, _second = claim_two_with_the_shortcut(ann, customers)
    other = open_console(agent_context, site, "ann")
    expect(other.page.get_by_role("tablist", name="Your chats").get_by_role("tab")).to_have_count(2)
    set_hidden(other, True)  # open in a browser tab behind this one
    first.say("Anyone?")
    other_tab = other.page.locator(f"#tab-{first.conversation_id} .tab-badge")
    expect(chat_tabs(ann).nth(0).locator(".tab-badge")).to_have_text("1 unread")
    expect(other_tab).to_have_text("1 unread")
    expect(other.page).to_have_title(f"(1) {TITLE}")
    chat_tabs(ann).nth(0).click()
    expect(other_tab).to_be_hidden()  # seen in the first console tab
    expect(other.page).to_have_title(TITLE)
    other.assert_no_errors()


def test_notifications_after_the_agent_allows_them_coalesced_and_opening_the_chat(ann, customers, agent_context, site,
                                                                                    background_loop, address):
    button = ann.page.get_by_role("button", name="Turn on notifications")
    expect(button).to_have_attribute("aria-pressed", "false")
    # The browser is asked only when the agent clicks; once it allows them (here: the test), they are on.
    assert ann.page.evaluate("[Notification.permission, window.__permissionRequests]") == ["default", 0]
    button.click()
    page_value(ann, "window.__permissionRequests", 1)
    agent_context.grant_permissions(["notifications"], origin=site)
    expect(ann.page.get_by_role("button", name="Notifications on")).to_have_attribute("aria-pressed", "true")

    first, second = claim_two_with_the_shortcut(ann, customers)
    second.say("I'm on the page you are looking at")
    expect(ann.transcript).to_contain_text("I'm on the page you are looking at")
    first.say("Is anyone there?")
    first.say("Hello??")
    expect(chat_tabs(ann).nth(0).locator(".tab-badge")).to_have_text("2 unread")
    screenshot(ann.page, "console-notifications")
    shown = notifications(ann)
    # One for the chat not on screen, none for the one on screen; the second message is counted into the next.
    assert [(n["title"], n["body"], n["tag"]) for n in shown] == [
        ("New message from a customer", "Is anyone there?", f"chat:{first.conversation_id}")], shown

    ann.page.evaluate("window.__notifications[0].dispatchEvent(new Event('click'))")
    expect(chat_tabs(ann).nth(0)).to_have_attribute("aria-selected", "true")
    expect(chat_tabs(ann).nth(0).locator(".tab-badge")).to_be_hidden()
    expect(ann.composer).to_be_focused()
    assert notifications(ann)[0]["closed"]

    # The chat on screen, but the page hidden: it notifies; showing the page closes the notification.
    set_hidden(ann, True)
    first.say("Are you there now?")
    page_value(ann, "window.__notifications.length", 2)
    assert (notifications(ann)[1]["title"], notifications(ann)[1]["tag"]) == (
        "New message from a customer", f"chat:{first.conversation_id}")
    set_hidden(ann, False)
    page_value(ann, "window.__notifications[1].closed", True)

    # A colleague's mention, in a chat that is not ann's: clicking opens it read-only.
    third = customers()
    third.ask_for_person()

    async def colleague_mentions() -> None:
        colleague = await staff(address, "sue")
        await colleague.acknowledged(await colleague.note("@ann can you look at this one?", third.conversation_id))
        await colleague.close()

    background_loop.run(colleague_mentions())
    page_value(ann, "window.__notifications.length", 3)
    mention = notifications(ann)[2]
    assert (mention["title"], mention["body"], mention["tag"]) == (
        "Sue mentioned you in a note", "@ann can you look at this one?", f"mention:{third.conversation_id}"), mention
    ann.page.evaluate("window.__notifications[2].dispatchEvent(new Event('click'))")
    expect(ann.conversation.locator(".view-banner")).to_have_text(re.compile("^Read only"))

    # A transfer to ann while her page is hidden.
    fourth = customers()
    fourth.ask_for_person()
    set_hidden(ann, True)

    async def colleague_transfers() -> None:
        colleague = await staff(address, "sue")
        await colleague.acknowledged(await colleague.claim(fourth.conversation_id))
        await colleague.acknowledged(await colleague.request(
            "transfer", {"conversation_id": fourth.conversation_id, "to_agent": "ann"}))
        await colleague.close()

    background_loop.run(colleague_transfers())
    page_value(ann, "window.__notifications.length", 4)
    transfer = notifications(ann)[3]
    # The colleague by the name the console shows them by (their display name), never the login.
    assert (transfer["title"], transfer["tag"]) == ("Sue transferred a chat to you", f"chat:{fourth.conversation_id}"), transfer
    set_hidden(ann, False)

    # Turned off in the header: nothing more; a reload replays the transcripts without notifying.
    ann.page.get_by_role("button", name="Notifications on").click()
    expect(ann.page.get_by_role("button", name="Turn on notifications")).to_have_attribute("aria-pressed", "false")
    # The browser's answer to the first click, only now (its prompt closed late): the agent's later choice stands.
    ann.page.evaluate("window.__answerPermission()")
    expect(ann.page.get_by_role("button", name="Turn on notifications")).to_have_attribute("aria-pressed", "false")
    ann.page.get_by_role("status").filter(has_text="New chat waiting").get_by_role("button", name="Dismiss").click()
    chat_tabs(ann).nth(1).click()
    first.say("Still waiting")
    expect(chat_tabs(ann).nth(0).locator(".tab-badge")).to_have_text("1 unread")
    assert len(shown := notifications(ann)) == 4, shown
    ann.page.get_by_role("button", name="Turn on notifications").click()
    reload_hidden(ann)
    expect(ann.page.locator(f"#conversation-{first.conversation_id} .transcript")).to_contain_text("Still waiting")
    expect(ann.page.get_by_role("button", name="Notifications on")).to_be_visible()
    expect(ann.page.locator(f"#tab-{first.conversation_id} .tab-badge")).to_have_text("1 unread")
    time.sleep(1)
    assert notifications(ann) == []


def test_keyboard_shortcuts_and_their_help_overlay(ann, customers):
    page = ann.page
    # The help overlay: "?" or the header's button; Tab stays inside it, Esc closes it.
    unfocus(ann)
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    for label in ("Next chat", "Previous chat", "Claim the customer waiting longest", "Write a reply", "Write a private note",
                  "Canned responses", "Transfer the chat", "Close the chat (with its outcome)",
                  "Switch between available and away", "Show these shortcuts"):
        expect(help_dialog.get_by_text(label, exact=True)).to_be_visible()
    close = help_dialog.get_by_role("button", name="Close")
    expect(close).to_be_focused()
    page.keyboard.press("Tab")
    expect(close).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(close).to_be_focused()
    screenshot(page, "console-shortcuts")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(help_dialog).to_be_visible()
    close.click()
    expect(help_dialog).to_be_hidden()
    expect(page.get_by_role("button", name="Keyboard shortcuts")).to_be_focused()

    first, second = claim_two_with_the_shortcut(ann, customers)
    tabs = chat_tabs(ann)
    # In the composer a single key is typed, not a shortcut.
    ann.composer.press_sequentially("jk?")
    expect(ann.composer).to_have_value("jk?")
    expect(tabs.nth(1)).to_have_attribute("aria-selected", "true")
    expect(help_dialog).to_have_count(0)
    # Esc leaves the text box; Ctrl+Enter sends its draft from there.
    page.keyboard.press("Escape")
    expect(ann.transcript).to_be_focused()
    ann.composer.fill("Sent with Ctrl+Enter")
    page.keyboard.press("Escape")
    page.keyboard.press("Control+Enter")
    assert second.expect("message", kind="agent")["data"]["text"] == "Sent with Ctrl+Enter"
    expect(ann.composer).to_be_focused()  # sent as with Enter: back to writing
    # j and k: next and previous chat (round the ends); Alt+↓ from the composer into the next chat's.
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    expect(tabs.nth(0)).to_have_attribute("aria-selected", "true")
    expect(tabs.nth(0)).to_be_focused()
    page.keyboard.press("k")
    expect(tabs.nth(1)).to_have_attribute("aria-selected", "true")
    page.keyboard.press("r")
    expect(ann.composer).to_be_focused()
    page.keyboard.press("Alt+ArrowDown")
    expect(tabs.nth(0)).to_have_attribute("aria-selected", "true")
    expect(ann.composer).to_be_focused()
    page.keyboard.press("Alt+ArrowUp")
    expect(tabs.nth(1)).to_have_attribute("aria-selected", "true")
    # n: a private note; r: back to replying; /: the canned responses.
    page.keyboard.press("Escape")
    page.keyboard.press("n")
    note_box = ann.conversation.get_by_role("textbox", name="Private note for your team")
    expect(note_box).to_be_focused()
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    expect(ann.composer).to_be_focused()
    page.keyboard.press("Escape")
    page.keyboard.press("/")
    expect(ann.conversation.get_by_role("listbox", name="Canned responses")).to_be_visible()
    expect(ann.composer).to_have_value("/")
    page.keyboard.press("Escape")
    ann.composer.fill("")
    # t: transfer; x: close with its outcome (both dialogs, Esc closes them).
    page.keyboard.press("Escape")
    page.keyboard.press("t")
    expect(page.get_by_role("dialog", name="Transfer chat")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Transfer chat")).to_have_count(0)
    unfocus(ann)
    page.keyboard.press("x")
    closing = page.get_by_role("dialog", name="Close this chat?")
    expect(closing).to_be_visible()
    closing.get_by_role("radio", name="Resolved", exact=True).check()
    closing.get_by_role("button", name="Close chat").click()
    expect(tabs).to_have_count(1)
    second.expect("status", state="closed")
    # s: away and back.
    status = page.get_by_role("combobox", name="Your status")
    unfocus(ann)
    page.keyboard.press("s")
    expect(status).to_have_value("away")
    expect(status).to_be_enabled()  # the bridge has confirmed it: a press meanwhile would be ignored
    unfocus(ann)
    page.keyboard.press("s")
    expect(status).to_have_value("available")
    # c with nobody waiting says so.
    page.keyboard.press("c")
    expect(page.locator(".toast").filter(has_text="Nobody is waiting.")).to_be_visible()
    expect(tabs).to_have_count(1)
    assert first.conversation_id in page.locator(".conversation-tab").get_attribute("id")


def test_c_with_only_a_customer_who_left_says_so_and_claims_nobody(ann, customers, background_loop):
    """Trial 16: "c" said "Nobody is waiting." while the queue showed a customer (who had left) with Claim."""
    customer = customers()
    customer.ask_for_person()
    background_loop.run(customer.client.close())
    expect(ann.page.locator("li.queue-item").filter(has_text="Customer: Left")).to_have_count(1)
    unfocus(ann)
    ann.page.keyboard.press("c")
    expect(ann.page.locator(".toast").last).to_have_text(
        "Only customers who have left are waiting: claim one from the queue if you still want to.")
    expect(chat_tabs(ann)).to_have_count(0)


def test_the_new_chat_alert_fits_the_top_bar_of_an_account_with_every_role(browser, site, site_prefix, redis_url,
                                                                           customers):
    """Trial 16: with three views and three roles the header's "New chat waiting" was squeezed over the
    connection pill and the notifications button."""
    add_agent(redis_url, site_prefix, "trio", "--roles", "agent,supervisor,content", "--display-name", "Dana Reyes")
    context = new_context(browser, viewport={"width": 1400, "height": 900})
    trio = open_console(context, site, "trio")
    expect(trio.tab(r"^Queue")).to_be_visible()
    customer = customers()
    customer.ask_for_person()
    banner = trio.page.locator(".alert-banner")
    expect(banner).to_be_visible()
    show = banner.get_by_role("button", name="Show")
    expect(show).to_be_visible()
    boxes = trio.page.evaluate("""() => {
        const box = (selector) => document.querySelector(selector).getBoundingClientRect().toJSON();
        return {show: box('.alert-banner button'), alerts: box('.header-alerts'), account: box('.account'),
                banner: box('.alert-banner')};
    }""")
    assert boxes["banner"]["right"] <= boxes["account"]["left"], boxes  # nothing covered
    assert boxes["alerts"]["left"] <= boxes["show"]["left"] and boxes["show"]["right"] <= boxes["alerts"]["right"], boxes
    assert boxes["banner"]["width"] >= 300, boxes  # room for what it says
    trio.assert_no_errors()
    context.close()
