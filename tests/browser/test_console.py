"""The agent console and supervisor dashboard in chromium, against a real bridge, Rasa and Redis.

Customers are real websocket clients (tests/handoff/conftest.py), driven from
an event loop in a background thread, so these tests do not depend on the
customer widget. Every test leaves the bridge tidy (nothing queued, nothing
served), so the next one starts from a known queue.
"""

from __future__ import annotations

import re
import time
from typing import Any, Dict, Iterator, List, Optional

import pytest
import redis
import requests
import yaml
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

import handoff_client
from handoff_client import message_order
from harness.chats import QUESTIONS
from harness.clients import staff
from harness.servers import ROOT, add_agent
from tests.browser.conftest import (
    BackgroundLoop, close_chat, log_in, new_context, screenshot, tidy_bridge, watch_for_errors,
)
from tests.handoff.test_context import preview

TITLE = "Support console"
# What a message not understood would show if the console took nlu_fallback's confidence (the threshold) at its word.
FALLBACK_THRESHOLD_SHOWN = next(f"{round(component['threshold'] * 100)}%"
                                for component in yaml.safe_load((ROOT / "config.yml").read_text())["pipeline"]
                                if component["name"] == "FallbackClassifier")
CANNED_INTRO = ("Hi, I'm Ann Lee from the support team. I've read your conversation with our assistant, "
                "so you don't need to repeat anything.")


# ---- customers on real websockets, driven from the sync tests ------------------------


class Customer:
    """One customer conversation over /ws/customer."""

    def __init__(self, loop: BackgroundLoop, client: handoff_client.Customer) -> None:
        self.loop = loop
        self.client = client

    @property
    def conversation_id(self) -> str:
        return self.client.conversation_id

    def send(self, kind: str, data: Optional[Dict[str, Any]] = None, id: Optional[str] = None) -> None:
        self.loop.run(self.client.send(kind, data, id=id))

    def expect(self, envelope_type: str, **match: Any) -> Dict[str, Any]:
        return self.loop.run(self.client.expect(envelope_type, **match))

    def say(self, text: str) -> str:
        """Sends a message; returns its server message id (from the ack)."""
        async def say_and_wait() -> str:
            key = (await self.client.say(text)).id
            return (await self.client.acknowledged(key))["data"]["message_id"]

        return self.loop.run(say_and_wait())

    def ask_bot(self, text: str) -> Dict[str, Any]:
        """Says something to the bot and waits for its first answer to it."""
        said = self.say(text)

        async def answer() -> Dict[str, Any]:
            while True:
                reply = await self.client.expect("message", kind="bot")
                if message_order(reply["id"]) > message_order(said):
                    return reply

        return self.loop.run(answer())

    def ask_for_person(self) -> None:
        self.send("talk_to_person")
        self.expect("status", state="queued")


@pytest.fixture
def customers(background_loop: BackgroundLoop, address: str) -> Iterator[Any]:
    """Opens customer conversations on the test's bridge; closes their sockets afterwards."""
    opened: List[Customer] = []

    def open_customer() -> Customer:
        customer = Customer(background_loop, background_loop.run(handoff_client.Customer.connect(address)))
        opened.append(customer)
        return customer

    yield open_customer
    for customer in opened:
        background_loop.run(customer.client.close())


@pytest.fixture(autouse=True)
def tidy(background_loop: BackgroundLoop, address: str) -> Iterator[None]:
    yield
    background_loop.run(tidy_bridge(address), timeout=90)


# ---- the console ---------------------------------------------------------------------


# Records Content-Security-Policy violations: the console must run under its strict policy untouched.
WATCH_CSP = """window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
    window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
});"""

# Counts the notes the page starts playing (the alert sound is oscillators, no files).
COUNT_NOTES = """window.__notesPlayed = 0;
const nativeStart = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) {
    window.__notesPlayed += 1;
    return nativeStart.apply(this, args);
};"""


class Console:
    """A logged-in console page and the uncaught errors and policy violations it raised."""

    def __init__(self, page: Page, errors: list) -> None:
        self.page = page
        self.errors = errors

    def tab(self, name: str) -> Locator:
        return self.page.get_by_role("tab", name=re.compile(name))

    @property
    def queue(self) -> Locator:
        return self.page.get_by_role("list", name="Customers waiting").get_by_role("listitem")

    def queue_item(self, text: str) -> Locator:
        return self.queue.filter(has_text=text)

    @property
    def conversation(self) -> Locator:
        """The open chat's panel."""
        return self.page.locator(".conversation:not([hidden])")

    @property
    def transcript(self) -> Locator:
        return self.conversation.get_by_role("log", name="Transcript")

    @property
    def composer(self) -> Locator:
        return self.conversation.get_by_role("textbox", name="Reply to the customer")

    def claim(self, topic: str) -> None:
        self.page.get_by_role("button", name=f"Claim chat: {topic}").click()
        expect(self.page.get_by_role("tab", name=re.compile(topic), selected=True)).to_be_visible()

    def reply(self, text: str) -> None:
        self.composer.fill(text)
        self.composer.press("Enter")

    def assert_no_errors(self) -> None:
        assert self.errors == [], f"uncaught page errors: {self.errors}"
        assert self.page.evaluate("window.__cspViolations") == [], "Content-Security-Policy violations"


def open_console(context: BrowserContext, site: str, name: str) -> Console:
    context.add_init_script(WATCH_CSP)
    context.add_init_script(COUNT_NOTES)
    page = context.new_page()
    errors = watch_for_errors(page)
    log_in(page, site, name)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    console = Console(page, errors)
    if name in ("ann", "sue"):
        # The first queue arrived: anyone queued from now on is new to this agent.
        expect(console.tab(r"^Queue \d+$")).to_be_visible()
    return console


@pytest.fixture
def ann(agent_context: BrowserContext, site: str) -> Iterator[Console]:
    console = open_console(agent_context, site, "ann")
    yield console
    console.assert_no_errors()


@pytest.fixture
def sue(browser: Browser, site: str) -> Iterator[Console]:
    context = new_context(browser, viewport={"width": 1440, "height": 900})
    console = open_console(context, site, "sue")
    yield console
    console.assert_no_errors()
    context.close()


def short_id(conversation_id: str) -> str:
    """A conversation's id as the console shows it on tabs, chat headers and request cards (constants.js shortId)."""
    return f"#{conversation_id[:6]}"


def hand_back(console: Console) -> None:
    """"Hand back to bot", confirmed (one click alone must not drop a customer who wanted a person)."""
    console.conversation.get_by_role("button", name="Hand back to bot").click()
    confirm = console.page.get_by_role("dialog", name="Hand this chat back to the bot?")
    confirm.get_by_role("button", name="Hand back", exact=True).click()
    expect(console.page.get_by_text("Chat handed back to the bot.")).to_be_visible()


def queued_with_card_question(customers: Any) -> Customer:
    """A customer who asked about a declined card, started a callback form, then asked for a person."""
    customer = customers()
    customer.ask_bot("my card was declined in a shop today")
    customer.ask_bot("can you call me back")
    customer.ask_bot("07700 900123")
    customer.say("I want to talk to a person")
    customer.expect("status", state="queued")
    return customer


def claimed_by(console: Console, customer: Customer) -> None:
    """The console claims this customer, queued by "talk to a person" (so without a topic), whose card says
    they are still there: an earlier test's customer may still wait in the queue, gone."""
    waiting = console.page.locator("li.queue-item").filter(has_not_text="Customer: Left")
    waiting.get_by_role("button", name="Claim chat: Asked for a person").click()
    expect(console.transcript).to_contain_text("from our support team has joined the chat.")
    customer.expect("status", state="agent")


# ---- login ---------------------------------------------------------------------------


def test_login_shows_wrong_credentials_keeps_the_session_on_reload_and_logs_out(agent_context, site):
    agent_context.add_init_script(WATCH_CSP)
    page = agent_context.new_page()
    errors = watch_for_errors(page)
    sockets: List[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(f"{site}/console")
    expect(page).to_have_title(TITLE)
    screenshot(page, "console-login")

    log_in(page, site, "ann", password="not the password")
    expect(page.get_by_role("alert")).to_have_text("Wrong name or password.")
    expect(page.get_by_label("Password")).to_be_focused()

    log_in(page, site, "ann")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_role("banner")).to_contain_text("Ann Lee")  # the name customers see, not the login name
    expect(page.get_by_role("status").filter(has_text="Connected")).to_be_visible()

    page.reload()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_role("tab", name=re.compile(r"^Queue \d+$"))).to_be_visible()
    expect(page.get_by_label("Password")).to_have_count(0)

    # A token the bridge refuses (forged, or signed with an old secret) leads back to the login.
    page.evaluate("""() => {
        const session = JSON.parse(sessionStorage.getItem("support-console.session"));
        sessionStorage.setItem("support-console.session", JSON.stringify({...session, token: session.token + "x"}));
    }""")
    page.reload()
    expect(page.locator(".login-card").get_by_role("status")).to_have_text("Your session is no longer valid. Please log in again.")
    expect(page.get_by_label("Name")).to_be_visible()

    log_in(page, site, "ann")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    page.evaluate("""() => {
        const session = JSON.parse(sessionStorage.getItem("support-console.session"));
        sessionStorage.setItem("support-console.session", JSON.stringify({...session, expiresAt: Date.now() - 1}));
    }""")
    page.reload()
    expect(page.locator(".login-card").get_by_role("status")).to_have_text("Your session has expired. Please log in again.")

    log_in(page, site, "ann")
    expect(page.get_by_role("status").filter(has_text="Connected")).to_be_visible()
    token = page.evaluate("""() => JSON.parse(sessionStorage.getItem("support-console.session")).token""")
    assert sockets and not any(token in url or "token" in url for url in sockets), sockets  # proxies log URLs
    page.get_by_role("button", name="Log out").click()
    expect(page.locator(".login-card").get_by_role("status")).to_have_text("You have logged out.")
    # Logged out on the server too: the token is refused everywhere, not only forgotten by the page.
    refused = requests.post(f"{site}/api/agents/logout", headers={"Authorization": f"Bearer {token}"}, json={}, timeout=10)
    assert refused.status_code == 401 and refused.json()["error"]["message"] == "this login has ended already"
    page.reload()
    expect(page.get_by_label("Name")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    assert errors == []
    assert page.evaluate("window.__cspViolations") == []


def test_a_new_password_signs_an_open_console_out(agent_context, site, site_prefix, redis_url):
    """Revoked on the server: the open console's socket is closed at its next heartbeat, and the
    console, refused on reconnecting, goes back to its login."""
    add_agent(redis_url, site_prefix, "rita")
    page = agent_context.new_page()
    errors = watch_for_errors(page)
    log_in(page, site, "rita")
    expect(page.get_by_role("status").filter(has_text="Connected")).to_be_visible()
    add_agent(redis_url, site_prefix, "rita")  # a password reset (make agent NAME=rita)
    expect(page.locator(".login-card").get_by_role("status")).to_have_text(
        "Your session is no longer valid. Please log in again.", timeout=30_000)
    log_in(page, site, "rita")
    expect(page.get_by_role("status").filter(has_text="Connected")).to_be_visible()
    assert errors == []


# ---- the queue, the alert, claiming ---------------------------------------------------


def test_a_queued_customer_appears_live_with_an_alert_and_claiming_opens_transcript_and_handoff(ann, customers):
    queued_with_card_question(customers)

    item = ann.queue_item("Card not working")
    expect(item).to_be_visible()
    expect(item).to_contain_text("Asked for a person")
    expect(item).to_contain_text("general")
    expect(item).to_contain_text("Topics asked about: card not working")
    expect(item).to_contain_text("New")
    wait = item.locator(".wait")
    expect(wait).to_have_text(re.compile(r"^Waiting \d+:\d\d$"))
    first_reading = wait.inner_text()
    expect(wait).not_to_have_text(first_reading, timeout=3000)  # ticks locally, without a push

    expect(ann.page).to_have_title(f"(1) {TITLE}")
    banner = ann.page.get_by_role("status").filter(has_text="New chat waiting")
    expect(banner).to_contain_text("Asked for a person · Card not working")
    expect(ann.tab(r"^Queue \d+$")).to_have_text(re.compile(r"Queue\s+1$"))
    screenshot(ann.page, "console-queue")

    ann.claim("Card not working")
    expect(ann.page).to_have_title(TITLE)
    expect(banner).to_be_hidden()
    expect(ann.composer).to_be_focused()

    transcript = ann.transcript
    expect(transcript).to_contain_text("my card was declined in a shop today")
    bot_messages = transcript.locator(".msg-bot")
    expect(bot_messages.filter(has_text="Sorry your card isn't working")).to_have_count(1)
    expect(bot_messages.filter(has_text="Sorry your card isn't working").locator(".badge-bot")).to_have_text("Bot")
    assert bot_messages.count() >= 4
    assert bot_messages.locator(".badge-bot").count() == bot_messages.count(), "every bot message is marked"
    expect(transcript.locator(".msg-customer .badge-bot")).to_have_count(0)
    expect(bot_messages.filter(has_text="Did that answer your question?").get_by_role("list", name="Buttons offered")).to_have_text(re.compile("Yes\\s*No"))
    expect(transcript.locator(".msg-event")).to_contain_text("The bot handed over: Asked for a person")
    expect(transcript.locator(".msg-system").last).to_contain_text("from our support team has joined the chat.")

    details = ann.conversation.get_by_role("complementary", name="Handoff details")
    expect(details).to_contain_text("Handed over because the customer asked for a person")
    expect(details).to_contain_text("The customer asked for a person.")
    expect(details).to_contain_text("Card not working")
    turns = details.get_by_role("table")
    expect(turns.get_by_role("row").filter(has_text="I want to talk to a person")).to_contain_text("Asked for a person")
    expect(turns.get_by_role("row").filter(has_text="I want to talk to a person")).to_contain_text(re.compile(r"\d+%"))
    expect(turns).not_to_contain_text("request_human")  # intents read as words, not code names
    expect(turns.get_by_role("row").filter(has_text="I want to talk to a person")).to_contain_text("Evidence")
    # Not understood: the classifier's real best guess and its confidence, not the fallback threshold.
    phone_row = turns.get_by_role("row").filter(has_text="07700 900123")
    expect(phone_row).to_contain_text(re.compile(r"Not understood · best guess: \S"))
    expect(phone_row.locator(".confidence-value")).to_have_text(re.compile(r"^\d+%$"))
    expect(phone_row.locator(".confidence-value")).not_to_have_text(FALLBACK_THRESHOLD_SHOWN)
    expect(turns).not_to_contain_text("nlu_fallback")
    expect(details).to_contain_text("Callback phone")
    expect(details).to_contain_text("07700900123")
    expect(ann.queue_item("Card not working")).to_have_count(0)
    screenshot(ann.page, "console-conversation")


def test_a_customer_repeating_handoff_names_the_topic_answered_before_and_what_the_figure_measures(ann, customers):
    """The agent trial (issue 13): "How alike the two messages are 31%" read as "not alike", and topic ids showed
    raw ("Topic charged_twice", "(charged_twice)")."""
    customer = customers()
    asked = QUESTIONS["charged_twice"][0]
    customer.ask_bot(asked)
    customer.ask_bot(asked)
    customer.expect("status", state="queued")
    ann.claim("Charged twice")
    details = ann.conversation.get_by_role("complementary", name="Handoff details")
    expect(details).to_contain_text("after it was answered (charged twice)")
    measures = details.locator("dl.kv").first
    expect(measures.locator("dt")).to_have_text(["Topic answered before", "Words in common with the earlier message"])
    expect(measures.locator("dd")).to_have_text(["Charged twice", re.compile(r"^\d+%$")])
    expect(details).not_to_contain_text("charged_twice")


def test_the_button_brings_the_bots_summary_to_the_side_panel_and_a_second_handoff_its_own(ann, customers):
    customer = customers()
    card, top_up = QUESTIONS["card_not_working"][0], QUESTIONS["top_up"][0]
    card_answer = customer.ask_bot(card)["data"]["text"]
    customer.ask_bot(top_up)
    customer.ask_for_person()

    item = ann.queue_item("Top up")
    expect(item).to_contain_text("Asked for a person")
    expect(item).to_contain_text("Topics asked about: card not working, top up")
    ann.claim("Top up")
    details = ann.conversation.get_by_role("complementary", name="Handoff details")
    expect(details).to_contain_text('Handed over because the customer asked for a person (they pressed "Talk to a person")')
    expect(details).to_contain_text(f'asked "{card}" and the bot answered')
    expect(details.locator(".chip-topic")).to_have_text(["Card not working", "Top up"])
    turns = details.get_by_role("table")
    card_row = turns.get_by_role("row").filter(has_text=card)
    expect(card_row).to_contain_text("Support question · Card not working")
    expect(card_row).to_contain_text(re.compile(r"\d+%"))
    expect(card_row.locator(".turn-reply")).to_have_text(f"Bot: {preview(card_answer)}")
    expect(turns.get_by_role("row").filter(has_text=top_up)).to_contain_text("Support question · Top up")
    expect(turns.get_by_role("row").filter(has_text='Pressed "Talk to a person"')).to_contain_text("Asked for a person")
    expect(details).not_to_contain_text("No topic recognised")
    expect(details).not_to_contain_text("No messages analysed")
    expect(details).not_to_contain_text("metadata")
    expect(details).to_contain_text("The customer filled in no form fields.")

    hand_back(ann)
    fees = QUESTIONS["fees"][0]
    customer.ask_bot(fees)
    customer.ask_for_person()
    ann.claim("Fees")
    details = ann.conversation.get_by_role("complementary", name="Handoff details")
    expect(details.locator(".chip-topic")).to_have_text(["Fees"])
    expect(details.get_by_role("table").get_by_role("row")).to_have_count(3)  # the header, the question, the button
    expect(details.get_by_role("table")).to_contain_text(fees)
    expect(details).not_to_contain_text(card)


def test_the_alert_sound_plays_for_new_chats_unless_muted_and_muting_is_remembered(ann, customers):
    customers().ask_for_person()
    expect(ann.queue).to_have_count(1)
    ann.page.wait_for_function("window.__notesPlayed === 2")  # two short notes

    mute = ann.page.get_by_role("button", name="Mute alert sound")
    expect(mute).to_have_attribute("aria-pressed", "false")
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "true")
    customers().ask_for_person()
    expect(ann.queue).to_have_count(2)
    expect(ann.page.get_by_role("status").filter(has_text="2 new chats waiting")).to_be_visible()
    expect(ann.page).to_have_title(f"(2) {TITLE}")
    assert ann.page.evaluate("window.__notesPlayed") == 2, "muted: no sound, the visual alert stays"

    ann.page.reload()
    expect(ann.page.get_by_role("button", name="Mute alert sound")).to_have_attribute("aria-pressed", "true")
    ann.page.get_by_role("button", name="Mute alert sound").click()
    expect(ann.page.get_by_role("button", name="Mute alert sound")).to_have_attribute("aria-pressed", "false")


# ---- chatting --------------------------------------------------------------------------


def test_agent_and_customer_chat_both_ways_with_typing_and_read_receipts(ann, customers):
    customer = customers()
    customer.ask_for_person()
    claimed_by(ann, customer)

    ann.composer.fill("Hello, I'm Ann.")
    expect(ann.composer).to_have_value("Hello, I'm Ann.")
    customer.expect("typing", active=True)
    ann.composer.press("Enter")
    expect(ann.composer).to_have_value("")
    from_agent = customer.expect("message", kind="agent")
    assert from_agent["data"]["text"] == "Hello, I'm Ann."
    customer.expect("typing", active=False)
    sent = ann.transcript.locator(".msg-agent").filter(has_text="Hello, I'm Ann.")
    expect(sent).to_have_count(1)
    expect(sent.locator(".msg-status")).to_have_text("Sent")

    customer.send("typing", {"active": True})
    expect(ann.conversation.get_by_text("Customer is typing…")).to_be_visible()
    customer.send("typing", {"active": False})
    expect(ann.conversation.get_by_text("Customer is typing…")).to_be_hidden()

    said = customer.say("My card still doesn't work in shops.\nAnd online too.")
    expect(ann.transcript.locator(".msg-customer").last).to_contain_text("My card still doesn't work in shops.")
    receipt = customer.expect("read")
    assert receipt["data"] == {"from": "agent", "up_to": said}, "the open tab tells the customer it was read"

    customer.send("read", {"up_to": from_agent["id"]})
    expect(sent.locator(".msg-status")).to_have_text("Seen")

    ann.reply("\u200b\ufeff")  # nothing the customer could read: not sent, left in the composer
    expect(ann.composer).to_have_value("\u200b\ufeff")
    ann.reply("Let me check.\nOne moment.")
    second = customer.expect("message", kind="agent")
    assert second["data"]["text"] == "Let me check.\nOne moment."
    expect(sent.locator(".msg-status")).to_have_text("")  # the status shows under the latest message only
    expect(ann.transcript.locator(".msg-agent").last.locator(".msg-status")).to_have_text("Sent")


def test_a_canned_response_is_inserted_with_the_agents_name(ann, customers):
    customer = customers()
    customer.ask_for_person()
    claimed_by(ann, customer)

    ann.composer.press("/")
    menu = ann.conversation.get_by_role("listbox", name="Canned responses")
    expect(menu).to_be_visible()
    expect(menu.get_by_role("option")).to_have_count(9)
    ann.composer.press_sequentially("hi")
    # The shortcut "/hi" first, then titles containing "hi" ("Anything else?").
    expect(menu.get_by_role("option")).to_have_count(2)
    expect(menu.get_by_role("option").first).to_contain_text("/hiIntroduce yourself")
    expect(menu.get_by_role("option", selected=True)).to_contain_text("Introduce yourself")
    screenshot(ann.page, "console-canned")
    ann.composer.press("Enter")
    expect(menu).to_be_hidden()
    expect(ann.composer).to_have_value(CANNED_INTRO)
    ann.composer.press("Enter")
    assert customer.expect("message", kind="agent")["data"]["text"] == CANNED_INTRO

    # The button opens the whole list; arrow keys choose, Tab inserts at the cursor.
    ann.composer.fill("Thanks! ")
    ann.conversation.get_by_role("button", name="Canned responses").click()
    expect(menu.get_by_role("option")).to_have_count(9)
    ann.composer.press("ArrowUp")  # from the first to the last: by shortcut, /verify
    expect(menu.get_by_role("option", selected=True)).to_contain_text("Ask to verify identity")
    ann.composer.press("Tab")
    expect(ann.composer).to_have_value(re.compile(r"^Thanks! Before I can look at your account"))
    expect(menu).to_be_hidden()
    ann.conversation.get_by_role("button", name="Canned responses").click()
    expect(menu).to_be_visible()
    ann.composer.press("Escape")
    expect(menu).to_be_hidden()


def test_a_claimed_chat_opens_at_its_newest_message(ann, customers):
    """Trial 17: after a claim the transcript stopped about 110 px short of its newest message (the panels
    under and beside it took their height after it had been scrolled to its end)."""
    customer = customers()
    customer.ask_for_person()
    for number in range(6):  # (within the customer's burst of messages) more than the transcript shows
        customer.say(f"part {number} of what happened to my card: " + "it worked until it did not, " * 12)
    claimed_by(ann, customer)
    expect(ann.transcript.locator(".msg-customer")).to_have_count(6)
    ann.page.wait_for_function("""() => {
        const log = document.querySelector('.conversation:not([hidden]) .transcript-scroll');
        return log.scrollHeight > log.clientHeight && log.scrollHeight - log.scrollTop - log.clientHeight < 2;
    }""", timeout=5000)


def test_an_agents_new_chat_alert_has_room_to_say_what_waits_at_1400_px(ann, customers):
    """Trial 17: with Search beside Chats, an agent's bar at 1400 px squeezed the alert to 0 px of text and
    "Dism"; with two views the bar's words give way to their icons (their names stay) below 1500 px."""
    ann.page.set_viewport_size({"width": 1400, "height": 900})
    customer = customers()
    customer.ask_for_person()
    text = ann.page.locator(".alert-banner .alert-text")
    expect(text).to_contain_text("Asked for a person")
    assert text.bounding_box()["width"] >= 200, text.bounding_box()
    dismiss = ann.page.locator(".alert-banner").get_by_role("button", name="Dismiss")
    assert dismiss.evaluate("(button) => button.scrollWidth <= button.clientWidth"), "the button's word is whole"
    expect(ann.page.get_by_role("button", name="Log out")).to_be_visible()  # its icon, named as before


def test_two_conversations_in_two_tabs_with_unread_counters(ann, customers):
    first, second = customers(), customers()
    first.ask_bot("my card was declined in a shop today")
    first.say("I want to talk to a person")
    first.expect("status", state="queued")
    second.ask_bot("my refund hasn't shown up")
    second.say("no")  # "did that answer your question?" -> unresolved
    second.expect("status", state="queued")

    ann.claim("Card not working")
    ann.claim("Refund not showing")
    expect(ann.page.get_by_role("tablist", name="Your chats").get_by_role("tab")).to_have_count(2)
    expect(ann.conversation.get_by_role("heading", name="Refund not showing")).to_be_visible()
    expect(ann.conversation).to_contain_text("Answer didn't help")

    first.say("Are you still there?")
    card_tab = ann.tab("Card not working")
    expect(card_tab.locator(".tab-badge")).to_have_text("1 unread")
    expect(ann.page).to_have_title(f"(1) {TITLE}")
    expect(ann.transcript).not_to_contain_text("Are you still there?")

    card_tab.click()
    expect(card_tab.locator(".tab-badge")).to_be_hidden()
    expect(ann.page).to_have_title(TITLE)
    expect(ann.transcript).to_contain_text("Are you still there?")
    expect(ann.transcript).not_to_contain_text("my refund hasn't shown up")

    ann.reply("Yes, I'm here.")
    assert first.expect("message", kind="agent")["data"]["text"] == "Yes, I'm here."
    card_tab.press("ArrowRight")  # tabs follow the arrow keys
    expect(ann.tab("Refund not showing")).to_be_focused()
    expect(ann.tab("Refund not showing")).to_have_attribute("aria-selected", "true")
    ann.reply("I'm checking your refund.")
    assert second.expect("message", kind="agent")["data"]["text"] == "I'm checking your refund."
    assert [m["data"]["text"] for m in first.client.messages("agent")] == [], "each reply reaches its own customer only"


# Wraps the page's WebSocket so a test can cut the network: open sockets close, new ones fail (404).
CUTTABLE_NETWORK = """(() => {
    const Native = window.WebSocket;
    window.__sockets = [];
    window.__networkDown = false;
    window.WebSocket = class extends Native {
        constructor(url, protocols) {
            super(window.__networkDown ? url.replace(/\\/ws\\/[a-z]+/, "/ws/unreachable") : url, protocols);
            window.__sockets.push(this);
        }
    };
})()"""


def network_back_and_retry_now(page: Page) -> None:
    """In one step, so the transport's own backoff cannot reconnect (and hide the button) in between."""
    page.evaluate("""() => {
        window.__networkDown = false;
        [...document.querySelectorAll("[role=alert] button")].find((button) => button.textContent === "Retry now").click();
    }""")


def test_a_lost_connection_is_shown_and_recovered_without_duplicates_or_lost_replies(agent_context, site, customers):
    agent_context.add_init_script(CUTTABLE_NETWORK)
    ann = open_console(agent_context, site, "ann")
    customer = customers()
    customer.ask_for_person()
    claimed_by(ann, customer)
    customer.say("Hello?")
    expect(ann.transcript.locator(".msg-customer")).to_have_count(1)

    ann.page.evaluate("window.__networkDown = true; window.__sockets.forEach((socket) => socket.close())")
    banner = ann.page.get_by_role("alert").filter(has_text="Connection to the server lost.")
    expect(banner).to_be_visible()
    expect(ann.page.get_by_role("banner").get_by_role("status")).to_have_text("Reconnecting…")
    ann.reply("Sorry, my connection dropped.")
    expect(ann.transcript.locator(".msg-agent.is-pending")).to_contain_text("Sending…")
    ann.page.get_by_role("button", name="Log out").click()
    unsent = ann.page.get_by_role("dialog", name="Log out without sending?")
    expect(unsent).to_contain_text("1 message or action has not reached the server yet")
    unsent.get_by_role("button", name="Cancel").click()
    expect(ann.page.get_by_role("button", name="Log out")).to_be_visible()
    customer.say("Are you there?")

    network_back_and_retry_now(ann.page)
    expect(banner).to_be_hidden()
    expect(ann.transcript.locator(".msg-customer").filter(has_text="Are you there?")).to_have_count(1)
    expect(ann.transcript.locator(".msg-agent").filter(has_text="Sorry, my connection dropped.")).to_have_count(1)
    expect(ann.transcript.locator(".msg-agent.is-pending")).to_have_count(0)
    expect(ann.transcript.locator(".msg-customer")).to_have_count(2)  # the replayed transcript is not shown twice
    expect(ann.transcript.locator(".msg-system").filter(has_text="has joined the chat")).to_have_count(1)
    assert customer.expect("message", kind="agent")["data"]["text"] == "Sorry, my connection dropped."

    # Closed in another window while this one was away: its tab goes when it reconnects.
    other_window = open_console(agent_context, site, "ann")
    expect(other_window.transcript).to_contain_text("Sorry, my connection dropped.")
    ann.page.evaluate("window.__networkDown = true; window.__sockets.forEach((socket) => socket.close())")
    expect(banner).to_be_visible()
    other_window.conversation.get_by_role("button", name="Close chat").click()
    other_window.page.get_by_role("dialog").get_by_role("radio", name="Resolved", exact=True).check()
    other_window.page.get_by_role("dialog").get_by_role("button", name="Close chat").click()
    expect(other_window.page.get_by_role("heading", name="No open chats")).to_be_visible()
    network_back_and_retry_now(ann.page)
    expect(ann.page.get_by_role("tablist", name="Your chats").get_by_role("tab")).to_have_count(0)
    expect(ann.page.get_by_text("A chat is no longer yours")).to_be_visible()
    ann.assert_no_errors()
    other_window.assert_no_errors()


# ---- transfer, hand back, close -------------------------------------------------------------


def test_transfer_to_a_colleague_then_hand_back_to_the_bot(ann, sue, customers):
    customer = customers()
    customer.ask_for_person()
    # One chat, one name (the agent trial, issue 13 item 9): card, tab and header alike, here the reason.
    waiting = ann.page.locator("li.queue-item").filter(has_not_text="Customer: Left")
    expect(waiting.locator(".queue-topic").last).to_have_text("Asked for a person")
    claimed_by(ann, customer)
    expect(ann.page.locator(".conversation-tab .tab-title")).to_have_text("Asked for a person")
    expect(ann.conversation.locator(".conversation-title")).to_have_text("Asked for a person")

    ann.conversation.get_by_role("button", name="Transfer").click()
    dialog = ann.page.get_by_role("dialog", name="Transfer chat")
    expect(dialog).to_be_visible()
    # Colleagues by display name only, never their login (README).
    colleague = dialog.get_by_role("radio", name=re.compile(r"^Sue "))
    expect(colleague).to_be_enabled()
    expect(dialog).not_to_contain_text("(sue)")
    expect(dialog.get_by_role("radio", name=re.compile(r"^general"))).to_be_visible()
    colleague.check()
    screenshot(ann.page, "console-transfer")
    dialog.get_by_role("button", name="Transfer").click()
    expect(dialog).to_be_hidden()
    expect(ann.page.get_by_role("tablist", name="Your chats").get_by_role("tab")).to_have_count(0)
    expect(ann.page.get_by_text("Chat transferred to Sue.")).to_be_visible()
    expect(ann.page.get_by_role("heading", name="No open chats")).to_be_visible()

    expect(sue.page.get_by_role("tablist", name="Your chats").get_by_role("tab")).to_have_count(1)
    expect(sue.transcript).to_contain_text("You're being passed to a colleague who can help with this.")
    # Colleagues by their display names, as the team list has them (the login only beside it).
    expect(sue.page.get_by_text("Ann Lee transferred a chat to you.")).to_be_visible()
    expect(sue.conversation.locator(".conversation-head")).to_contain_text("Transferred by Ann Lee")
    customer.expect("message", kind="system", data={"notice": "transferred"})
    sue.reply("Hi, Sue here.")
    # The display name (by default the login name, capitalised).
    assert customer.expect("message", kind="agent")["data"]["data"] == {"agent": "Sue"}

    hand_back(sue)
    expect(sue.page.get_by_role("tablist", name="Your chats").get_by_role("tab")).to_have_count(0)
    customer.expect("status", state="bot")
    answer = customer.ask_bot("how do I top up with a card")
    assert "https://help.northwind-bank.example/" in answer["data"]["text"], "the bot answers again"


def transfer_to_general(console: Console) -> None:
    """The open chat goes back to the general team's queue, through the Transfer dialog."""
    console.conversation.get_by_role("button", name="Transfer").click()
    dialog = console.page.get_by_role("dialog", name="Transfer chat")
    dialog.get_by_role("radio", name=re.compile(r"^general")).check()
    dialog.get_by_role("button", name="Transfer").click()
    expect(console.page.get_by_text("Chat moved to the front of the general queue.")).to_be_visible()


def close_in_console(console: Console, disposition: str, closing_note: str = "") -> None:
    """The open chat closed through the Close dialog, with ``disposition`` (and ``closing_note``): no tab left."""
    console.conversation.get_by_role("button", name="Close chat").click()
    dialog = console.page.get_by_role("dialog", name="Close this chat?")
    dialog.get_by_role("radio", name=disposition, exact=True).check()
    if closing_note:
        dialog.get_by_label(re.compile("Closing note")).fill(closing_note)
    dialog.get_by_role("button", name="Close chat").click()
    expect(console.page.get_by_role("tablist", name="Your chats").get_by_role("tab")).to_have_count(0)


def test_a_chat_sent_back_to_a_group_keeps_its_true_wait_and_says_who_transferred_it(
        ann, sue, customers, redis_url, site_prefix):
    customer = customers()
    customer.ask_for_person()
    five_minutes_ago = int(time.time() * 1000) - 5 * 60_000  # as if the customer had waited five minutes
    client = redis.Redis.from_url(redis_url)
    for queue in ("queue", "queue:general"):
        client.zadd(f"{site_prefix}:{queue}", {customer.conversation_id: five_minutes_ago})
    client.hset(f"{site_prefix}:conv:{customer.conversation_id}",
                mapping={"queued_at": five_minutes_ago, "waiting_since": five_minutes_ago})
    client.close()
    claimed_by(ann, customer)

    transfer_to_general(ann)

    card = sue.queue_item("Transferred by Ann Lee")
    expect(card).to_have_count(1)
    # The customer's wait since they first asked, not a new one from the transfer.
    expect(card.locator(".wait")).to_have_text(re.compile(r"^Waiting 5:\d\d$"))
    screenshot(sue.page, "console-queue-transferred")
    card.get_by_role("button", name=re.compile(r"^Claim chat")).click()
    expect(sue.conversation.locator(".conversation-head")).to_contain_text("Transferred by Ann Lee")


def test_the_agent_who_claims_a_transferred_chat_reads_what_the_customer_told_the_first(ann, sue, customers):
    """Found by a new agent: after a transfer the receiver read "Customer chat", "No topic recognised"
    and "0 customer message(s)" although the customer had told the first agent their problem."""
    customer = customers()
    customer.ask_for_person()
    claimed_by(ann, customer)
    customer.say("I've been charged twice")
    expect(ann.transcript).to_contain_text("I've been charged twice")
    transfer_to_general(ann)

    card = sue.queue_item("Transferred by ann")
    expect(card).to_contain_text('customer wrote to the team: "I\'ve been charged twice".')
    card.get_by_role("button", name=re.compile(r"^Claim chat")).click()
    head = sue.conversation.locator(".conversation-head")
    expect(head).to_contain_text("Charged twice")
    expect(head).not_to_contain_text("Customer chat")
    summary = sue.conversation.locator(".details-summary")
    expect(summary).to_contain_text("Topics asked about: charged twice. 1 customer message.")
    expect(sue.conversation).not_to_contain_text("No topic recognised")
    screenshot(sue.page, "console-transferred-context")


def test_a_customer_in_distress_keeps_their_words_on_the_card_after_a_transfer(ann, sue, customers):
    """Found by a new agent: after a transfer, a widow's card quoted only "thank you. I'm Mary Jones", what she
    wrote to the first agent, and the receiver would have asked her again what happened."""
    customer = customers()
    words = "my husband died last week and I don't know what to do about his account"
    customer.say(words)
    customer.expect("status", state="queued")
    # Headed by the distress, not as a routine "Close account" case (the second customer trial).
    expect(ann.queue_item("husband died").locator(".queue-topic")).to_have_text("Customer in distress")
    ann.queue_item("husband died").get_by_role("button", name=re.compile(r"^Claim chat")).click()
    expect(ann.transcript).to_contain_text("from our support team has joined the chat.")
    customer.expect("status", state="agent")
    customer.say("thank you. I'm Mary Jones, he was Peter Jones")
    expect(ann.transcript).to_contain_text("I'm Mary Jones")
    transfer_to_general(ann)

    card = sue.queue_item("Transferred by ann")
    expect(card).to_contain_text(f'In distress: "{words}".')
    card.get_by_role("button", name=re.compile(r"^Claim chat")).click()
    expect(sue.conversation.locator(".details-summary")).to_contain_text(
        f'In distress: "{words}". The customer wrote to the team: "thank you. I\'m Mary Jones')
    screenshot(sue.page, "console-transferred-distress")


def test_closing_asks_for_confirmation_and_the_customer_is_asked_for_a_rating(ann, customers):
    customer = customers()
    customer.ask_for_person()
    claimed_by(ann, customer)

    ann.conversation.get_by_role("button", name="Close chat").click()
    confirm = ann.page.get_by_role("dialog", name="Close this chat?")
    expect(confirm).to_be_visible()
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    expect(ann.page.get_by_role("tablist", name="Your chats").get_by_role("tab")).to_have_count(1)

    ann.conversation.get_by_role("button", name="Close chat").click()
    confirm.get_by_role("radio", name="Resolved", exact=True).check()  # a disposition (tests/browser/test_workspace.py)
    confirm.get_by_role("button", name="Close chat").click()
    expect(ann.page.get_by_role("tablist", name="Your chats").get_by_role("tab")).to_have_count(0)
    expect(ann.page.get_by_text("Chat closed. The customer is asked to rate it.")).to_be_visible()
    rate = customer.expect("message", kind="system", data={"notice": "rate"})
    assert "rate" in rate["data"]["text"]
    customer.expect("status", state="closed")


# ---- requests -------------------------------------------------------------------------------


def test_a_callback_left_instead_of_waiting_appears_in_the_requests_list(ann, customers):
    customer = customers()
    customer.ask_for_person()
    expect(ann.queue).to_have_count(1)
    customer.send("leave", {"kind": "callback", "contact": "07700 900456", "description": "My card is stuck in an ATM",
                            "preferred_time": "after 5pm"}, id="leave")
    customer.expect("ack")
    expect(ann.queue).to_have_count(0)

    requests_tab = ann.tab(r"^Requests \d+$")
    requests_tab.click()
    request = ann.page.get_by_role("list", name="Callbacks and messages").get_by_role("listitem").filter(has_text="07700 900456")
    expect(request).to_be_visible()
    expect(request).to_contain_text("Callback")
    expect(request).to_contain_text("My card is stuck in an ATM")
    expect(request).to_contain_text("Preferred time: after 5pm")
    expect(request).to_contain_text(f"Conversation {short_id(customer.conversation_id)}")  # as chats show it
    expect(request).not_to_contain_text(customer.conversation_id)
    expect(request.locator("time")).to_have_count(1)
    expect(request).to_contain_text("Open")


def test_an_agent_opens_a_request_reads_its_conversation_answers_it_and_marks_another_done(ann, customers):
    customer = customers()
    customer.ask_bot("my card hasn't arrived")
    customer.ask_for_person()
    customer.send("leave", {"kind": "message", "contact": "alex@example.com", "description": "Where is my card?"},
                  id="leave")
    customer.expect("ack")
    ann.tab(r"^Requests \d+$").click()
    requests_list = ann.page.get_by_role("list", name="Callbacks and messages").get_by_role("listitem")
    request = requests_list.filter(has_text=short_id(customer.conversation_id))
    request.get_by_role("button", name="Open conversation").click()

    dialog = ann.page.get_by_role("dialog", name=re.compile("^Message from alex@example.com"))
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Where is my card?")
    expect(dialog).to_contain_text("Asked for a person")
    expect(dialog.get_by_role("list", name="Transcript")).to_contain_text("my card hasn't arrived")
    screenshot(ann.page, "console-request")
    dialog.get_by_role("button", name="Send answer").click()
    expect(dialog.get_by_role("alert")).to_have_text("Write an answer first.")
    dialog.get_by_label(re.compile("^Answer")).fill("Your card was posted on Monday.")
    dialog.get_by_role("button", name="Send answer").click()
    # Where the answer went: this bridge sends no mail, so the customer's address gets none.
    expect(dialog.locator(".request-answer-where")).to_have_text("Answered in the chat only: email is not set up here.")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    answer = customer.expect("message", kind="agent")
    assert answer["data"]["text"] == "Your card was posted on Monday." and answer["data"]["data"]["agent"] == "Ann Lee"
    expect(request).to_contain_text("Answered by Ann Lee")
    expect(request.get_by_role("button", name="Mark done")).to_have_count(0)

    customer.send("leave", {"kind": "callback", "contact": "07700 900456"}, id="callback")
    customer.expect("ack")
    callback = requests_list.filter(has_text=short_id(customer.conversation_id)).filter(has_text="07700 900456")
    callback.get_by_role("button", name="Mark done").click()
    expect(callback).to_contain_text("Done by Ann Lee")
    while customer.expect("status")["data"].get("request", {}).get("state") != "done":
        pass  # the customer's status says so too
    screenshot(ann.page, "console-requests")


def test_a_request_left_after_the_button_shows_the_bots_summary_in_the_requests_list(ann, customers):
    customer = customers()
    question = QUESTIONS["charged_twice"][0]
    customer.ask_bot(question)
    customer.ask_for_person()
    expect(ann.queue).to_have_count(1)
    customer.send("leave", {"kind": "message", "contact": "alex@example.com"}, id="leave")
    customer.expect("ack")

    ann.tab(r"^Requests \d+$").click()
    request = ann.page.get_by_role("list", name="Callbacks and messages").get_by_role("listitem").filter(
        has_text=short_id(customer.conversation_id))
    expect(request.locator(".request-summary")).to_contain_text(f'The customer asked "{question}" and the bot answered')
    expect(request.locator(".request-summary")).to_contain_text(re.compile(
        r'Handed over because the customer asked for a person \(they pressed "Talk to a person"[^)]*\)\. '
        r'Topics asked about: charged twice\.'))


def test_a_callback_booked_with_the_assistant_shows_its_summary_once_in_the_requests_list(ann, customers):
    customer = customers()
    customer.ask_bot(QUESTIONS["card_swallowed"][0])
    customer.ask_bot("can you call me back")
    customer.ask_bot("sorry, it's 07700 900123")
    customer.ask_bot("tomorrow morning")

    ann.tab(r"^Requests \d+$").click()
    request = ann.page.get_by_role("list", name="Callbacks and messages").get_by_role("listitem").filter(
        has_text=short_id(customer.conversation_id))
    expect(request).to_contain_text("Booked with the assistant")
    expect(request).to_contain_text("Preferred time: tomorrow morning")
    expect(request.locator(".request-summary")).to_contain_text("Handed over because the customer asked to be called back.")
    expect(request.locator(".request-description")).to_have_count(0)  # the summary once, not cut and again in full
    assert request.inner_text().count("Handed over because") == 1


# ---- what an agent sees of who waits, and who they are -----------------------------------------


QUEUE_CHANGES_HELD = {"held": False}


def hold_queue_changes(route: Any) -> None:
    """Passes the console's socket through, but for the queue's changes while they are held: the console
    still shows a card a colleague has just claimed, as it does for a moment when two claim at once."""
    server = route.connect_to_server()
    route.on_message(server.send)
    server.on_message(lambda message: None if QUEUE_CHANGES_HELD["held"] and '"queue_changed"' in str(message)
                      else route.send(message))


def test_the_console_names_its_agent_leads_cards_with_the_latest_words_and_new_marks_clear(
        agent_context, site, customers, background_loop, address):
    agent_context.route_web_socket(re.compile(r"/ws/agent"), hold_queue_changes)
    ann = open_console(agent_context, site, "ann")
    expect(ann.page.locator(".account-agent")).to_have_text("Ann Lee")  # the display name, not the login "ann"
    expect(ann.page.locator(".topbar")).not_to_contain_text(re.compile(r"\bann\b"))

    customer = customers()
    customer.ask_bot(QUESTIONS["refund_not_showing"][0])
    customer.say("no")  # the answer did not help: queued
    customer.expect("status", state="queued")
    card = ann.queue_item("Refund not showing")
    expect(card.locator(".queue-last")).to_have_text("Customer's latest message: no")
    later = "sorry, cat walked on keyboard. I just want to know how to top up by apple pay"
    customer.say(later)
    expect(card.locator(".queue-last")).to_have_text(f"Customer's latest message: {later}")  # live, while queued
    first = card.locator(".queue-body > p").first
    expect(first).to_have_class("queue-last")  # first, the bot's summary below it
    expect(card.locator(".queue-summary")).to_contain_text("Handed over because")

    banner = ann.page.get_by_role("status").filter(has_text="New chat waiting")
    expect(card.locator(".chip-new")).to_be_visible()
    expect(banner).to_be_visible()
    # On screen a while, the card is no longer new and the banner goes: it does not alert for ever.
    expect(card.locator(".chip-new")).to_have_count(0, timeout=30_000)
    expect(banner).to_be_hidden()
    expect(ann.page).to_have_title(TITLE)

    QUEUE_CHANGES_HELD["held"] = True
    try:
        colleague = background_loop.run(staff(address, "sue"))
        background_loop.run(colleague.claim(customer.conversation_id))
        background_loop.run(colleague.expect("conversation", conversation_id=customer.conversation_id))
        card.get_by_role("button", name="Claim chat: Refund not showing").click()
        # Who won, by the name colleagues know, and the chat titled as its card was.
        expect(ann.page.get_by_role("alert").filter(has_text="claimed the chat")).to_have_text(
            "Sue claimed the chat \u201cRefund not showing\u201d first.")
    finally:
        QUEUE_CHANGES_HELD["held"] = False
    background_loop.run(close_chat(colleague, customer.conversation_id))
    background_loop.run(colleague.close())
    ann.assert_no_errors()


# ---- customers' text is text ------------------------------------------------------------------


def test_customer_text_that_looks_like_html_is_shown_literally(ann, customers):
    image = '<img src=x onerror="window.__pwned=1">'
    script = "<script>window.__pwned=2</script>"
    customer = customers()
    customer.ask_bot(image)
    customer.ask_for_person()
    # (a contact must be a phone number or an address: markup is refused there, invalid_contact)
    customer.send("details", {"description": script, "contact": "bold@example.com"}, id="details")
    customer.expect("ack")
    item = ann.queue_item(script)
    expect(item).to_contain_text("bold@example.com")

    claimed_by(ann, customer)
    customer.say(script)
    expect(ann.transcript.locator(".msg-customer").filter(has_text=image)).to_have_count(1)
    expect(ann.transcript.locator(".msg-customer").filter(has_text=script)).to_have_count(1)
    expect(ann.conversation.get_by_role("complementary", name="Handoff details")).to_contain_text(script)
    assert ann.page.locator("img").count() == 0
    assert ann.page.locator("main script, main b").count() == 0
    assert ann.page.evaluate("window.__pwned") is None


def test_a_look_alike_address_is_no_link_and_customer_text_is_isolated(ann, customers):
    customer = customers()
    customer.ask_for_person()
    claimed_by(ann, customer)
    text = "Go to https://help.northwind-bank.example@evil.example/login or https://help.northwind-bank.example/ ok"
    customer.say(text)
    said = ann.transcript.locator(".msg-customer .msg-text").filter(has_text="evil.example")
    expect(said).to_have_count(1)
    expect(said.locator("a")).to_have_count(1)
    assert said.locator("a").get_attribute("href") == "https://help.northwind-bank.example/"
    assert said.evaluate("e => getComputedStyle(e).unicodeBidi") == "isolate"


# ---- the supervisors' dashboard -----------------------------------------------------------------


def tile(page: Page, label: str) -> Locator:
    return page.get_by_role("group", name=label).locator(".kpi-value")


def table_value(page: Page, table: str, row: str, column: int = 1) -> int:
    """A number from a chart's data table (0 when the row is not there yet)."""
    rows = page.get_by_role("table", name=table).get_by_role("row").filter(has=page.get_by_role("rowheader", name=row, exact=True))
    if rows.count() == 0:
        return 0
    return int(rows.first.get_by_role("cell").nth(column - 1).inner_text())


def hourly_totals(page: Page) -> List[int]:
    """The day's conversations and handoffs, added up from the hourly chart's data table."""
    return page.get_by_role("table", name="Conversations and handoffs by hour").evaluate("""(table) => {
        const rows = [...table.tBodies[0].rows];
        return [1, 2].map((column) => rows.reduce((sum, row) => sum + Number(row.cells[column].textContent), 0));
    }""")


def test_the_supervisor_dashboard_updates_live(sue, customers, background_loop, address):
    page = sue.page
    page.get_by_role("button", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Updated \d\d:\d\d:\d\d$"))).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    def number(label: str) -> int:
        return int(tile(page, label).inner_text().replace(",", ""))

    conversations, handoffs, ratings = number("Conversations today"), number("Handoffs"), number("Ratings")
    requested = table_value(page, "Handoffs by reason", "Asked for a person")
    great = table_value(page, "Customer satisfaction", "5 (great)")

    customer = customers()
    customer.ask_bot("I want to talk to a person")
    customer.expect("status", state="queued")
    expect(tile(page, "Conversations today")).to_have_text(str(conversations + 1))
    expect(tile(page, "Handoffs")).to_have_text(str(handoffs + 1))
    expect(tile(page, "Queue now")).to_have_text("1")
    expect(tile(page, "Waiting so far")).to_have_text(re.compile(r"^\d+(\.\d)? (s|min)"))
    expect(page.get_by_role("table", name="Handoffs by reason").get_by_role("row", name=f"Asked for a person {requested + 1}")).to_have_count(1)
    # Drawn from the same push as the tiles: the hours add up to the day (whatever the hour now).
    assert hourly_totals(page) == [conversations + 1, handoffs + 1]

    async def claim_and_close() -> None:
        agent = await staff(address, "ann")
        await agent.send("claim", {"conversation_id": customer.conversation_id}, id="claim")
        await agent.acknowledged("claim")
        await agent.send("message", {"conversation_id": customer.conversation_id, "text": "Hello"}, id="hello")
        await agent.acknowledged("hello")
        await close_chat(agent, customer.conversation_id)
        await agent.close()

    background_loop.run(claim_and_close())
    expect(tile(page, "Queue now")).to_have_text("0")
    expect(tile(page, "Median wait")).to_have_text(re.compile(r"^\d+(\.\d)? (s|min)"))
    expect(tile(page, "Oldest wait")).to_have_text("—")
    expect(tile(page, "First response")).to_have_text(re.compile(r"^\d+(\.\d)? (s|min)"))
    expect(page.get_by_role("group", name="First response").locator(".kpi-note")).to_have_text(
        re.compile(r"^claim to first reply; 9 in 10 within \d"))

    gives_up = customers()  # queues, then leaves a message instead of waiting
    gives_up.ask_for_person()
    gives_up.send("leave", {"kind": "message", "contact": "alex@example.com"}, id="leave")
    gives_up.expect("ack")
    expect(tile(page, "Abandoned")).to_have_text(re.compile(r"%$"))
    expect(page.get_by_role("group", name="Abandoned").locator(".kpi-note")).to_have_text(
        re.compile(r"^\d+ left before being served, after \d+(\.\d)? (s|min).* \(median\)$"))
    # Beside it, the handoffs the queue's caps refused (none here: tests/handoff/test_refusal.py counts some).
    expect(tile(page, "Refused")).to_have_text("0")
    expect(page.get_by_role("group", name="Refused").locator(".kpi-note")).to_have_text("nobody turned away")

    customer.expect("message", kind="system", data={"notice": "rate"})
    customer.send("rating", {"score": 5}, id="rating")
    customer.expect("ack")
    expect(tile(page, "Ratings")).to_have_text(str(ratings + 1))
    expect(tile(page, "CSAT average")).not_to_have_text("—")
    expect(tile(page, "Satisfied")).to_have_text(re.compile(r"%$"))
    expect(page.get_by_role("table", name="Customer satisfaction").get_by_role("row", name=f"5 (great) {great + 1}")).to_have_count(1)

    # A closed chat stays closed (docs/bridge-protocol.md): another customer is handed over twice in one chat.
    another = customers()
    another.ask_bot("I want to talk to a person")
    another.expect("status", state="queued")

    async def claim_and_hand_back() -> None:
        agent = await staff(address, "ann")
        await agent.send("claim", {"conversation_id": another.conversation_id}, id="claim-again")
        await agent.acknowledged("claim-again")
        await agent.send("hand_back", {"conversation_id": another.conversation_id}, id="back")
        await agent.acknowledged("back")
        await agent.close()

    background_loop.run(claim_and_hand_back())
    another.expect("status", state="bot")
    another.ask_bot("I want to talk to a person")  # handed over a second time: said, not hidden
    another.expect("status", state="queued")
    expect(page.get_by_role("group", name="Handoffs").locator(".kpi-note")).to_have_text(
        re.compile(r"^\d+ handoffs in \d+ conversations?$"))
    for chart in ("Handoffs by reason", "Customer satisfaction", "Conversations and handoffs by hour"):
        expect(page.get_by_role("img", name=chart)).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True, "updated without a reload"
    screenshot(page, "console-dashboard")

    page.get_by_role("button", name="Chats").click()
    expect(page.get_by_role("tab", name=re.compile(r"^Queue \d+$"))).to_be_visible()


def test_an_agent_only_account_has_no_dashboard(ann):
    nav = ann.page.get_by_role("navigation", name="Views")
    expect(nav.get_by_role("button", name="Chats")).to_be_visible()
    expect(nav.get_by_role("button", name="Dashboard")).to_have_count(0)
    expect(nav.get_by_role("button", name="Privacy")).to_have_count(0)  # forgetting customers: supervisors only
    expect(ann.page.get_by_role("heading", name="Dashboard")).to_have_count(0)
