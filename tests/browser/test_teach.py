"""The content editors' Teach view in chromium, against real processes.

One stack for the module, with its own teaching prefix: a copy of the project
(the worker writes its data/ files), the published model, a bridge serving it
(and the console), a Rasa server pulling it from that bridge (its event broker
feeds the inbox), the action server, and the teaching worker. Inbox messages
are seeded through the write path the Rasa event broker uses
(TeachStore.add_incoming); one real conversation goes through the bridge with
a customer, the bot and an agent, so the transcript and the agents' answers
are real.

The tests run in order and build on each other, like a content editor's day:
look at the inbox, label, train and deploy, see a worse model refused and
deployed with an override, roll back, read the audit trail. Results are
checked in the project copy's files and through TeachStore, never by driving
the flows through it.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, List, Optional

import pytest
import yaml
from playwright.sync_api import Browser, Locator, Page, expect

from handoff_client import Customer
from harness.clients import staff
from harness.servers import (
    add_agent, copy_project, free_port, publish_model, running_model_server, running_rasa, running_worker,
)
from tests.browser.conftest import BackgroundLoop, log_in, new_context, screenshot, watch_for_errors

# What the real customer asks (the bot answers it, wrongly, with "order a card"), and what an agent answers.
METAL_QUESTION = "I'd like a card made of metal"
METAL_ANSWER = ("Yes: the Premium plan comes with a metal card. Upgrade under Plan in the app, "
                "and the new card arrives within 5 working days.")
METAL = [METAL_QUESTION, "do you offer a metal debit card", "is there a premium metal version of the card",
         "do you have metal cards", "can my card be made of metal rather than plastic",
         "how do I upgrade to the metal card", "is the premium card really made of steel",
         "what does the metal card cost per month"]
CRYPTO = ["can I buy bitcoin in the app", "can I buy crypto in the app", "do you let me buy bitcoin",
          "can I trade cryptocurrency with you", "how do I buy ethereum in the app",
          "can I buy and sell crypto with my account"]
CARD_ARRIVAL = ["still waiting for my new card to come in the post", "my replacement card never turned up",
                "how long until the card I ordered gets here", "the card you sent me hasn't been delivered yet"]
COMPLIMENTS = ["you're a great bot", "you're a really good bot", "you are the best chatbot I've used",
               "what a clever bot you are"]
HOSTILE = ["<img src=x onerror=alert(1)>", "<script>window.__xss = 1</script> hello?"]
COMPLIMENT_ANSWER = "Thank you, that's kind of you! Is there anything else I can help with?"
OVERRIDE_REASON = "Testing the override: <b>not bold</b>"

# Arrives while the editor works in the inbox; like nothing else there, so it is a group of its own.
LATECOMER = "do you sponsor the local football club"

# Records Content-Security-Policy violations: the console must run under its strict policy untouched.
WATCH_CSP = """window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
    window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
});"""
TRAINING_TIMEOUT_MS = 240_000


# ---- the stack ---------------------------------------------------------------------------


@dataclass
class Stack:
    site: str
    address: str
    prefix: str
    project: Path
    redis_url: str
    loop: BackgroundLoop
    conversation_id: str = ""

    def store(self, call: Any) -> Any:
        """Runs ``call(TeachStore)`` (a coroutine function) in the background loop: checking results only."""
        async def run() -> Any:
            from redis.asyncio import Redis

            from teaching.store import TeachStore

            redis = Redis.from_url(self.redis_url)
            try:
                return await call(TeachStore(redis, self.prefix))
            finally:
                await redis.close()

        return self.loop.run(run())

    def seed(self, texts: List[str], conversation_id: Optional[str] = None, reasons: Optional[List[str]] = None,
             intent: Optional[str] = None, confidence: float = 0.3, age: float = 600.0,
             message_ids: Optional[List[str]] = None) -> None:
        """Inbox candidates as the Rasa event broker writes them (oldest first, a second apart)."""
        now = time.time()
        ids = message_ids or [uuid.uuid4().hex for _ in texts]

        async def add(store: Any) -> None:
            for index, text in enumerate(texts):
                await store.add_incoming({
                    "text": text,
                    "conversation_id": conversation_id or f"seeded-{uuid.uuid4().hex[:12]}",
                    "message_id": ids[index],
                    "reasons": reasons or ["not_understood"],
                    "intent": intent,
                    "confidence": confidence,
                    "time": now - age + index,
                    "handoff_reason": "requested" if reasons and "handoff" in reasons else None,
                })

        self.store(add)

    def current_model(self) -> Optional[str]:
        return self.store(lambda store: store.current())

    def read(self, relative: str) -> str:
        return (self.project / relative).read_text()


async def real_conversation(address: str, agent_name: str) -> str:
    """A customer asks the bot, is not helped, asks for a person; an agent answers and closes."""
    customer = await Customer.connect(address)
    try:
        said = await customer.say(METAL_QUESTION)
        await customer.acknowledged(said)
        await customer.expect("message", kind="bot")
        await customer.say("I want to talk to a person")
        await customer.expect("status", state="queued")
        agent = await staff(address, agent_name)
        try:
            await agent.send("claim", {"conversation_id": customer.conversation_id}, id="claim")
            await agent.acknowledged("claim")
            await agent.send("message", {"conversation_id": customer.conversation_id, "text": METAL_ANSWER}, id="answer")
            await agent.acknowledged("answer")
            await customer.expect("message", kind="agent")
            await agent.send("close", {"conversation_id": customer.conversation_id}, id="close")
            await agent.acknowledged("close")
        finally:
            await agent.close()
        return customer.conversation_id
    finally:
        await customer.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str, model_path: Path, action_server_url: str,
          background_loop: BackgroundLoop) -> Iterator[Stack]:
    prefix = f"teachui{uuid.uuid4().hex[:6]}"
    root = tmp_path_factory.mktemp("teach-ui")
    project = copy_project(root / "project")
    publish_model(redis_url, prefix, model_path)
    accounts = f"hb{prefix}"  # running_model_server's HANDOFF_KEY_PREFIX
    add_agent(redis_url, accounts, "cleo", "--roles", "content")
    add_agent(redis_url, accounts, "ann")
    rasa_port = free_port()
    with running_model_server(redis_url, prefix, rasa_url=f"http://127.0.0.1:{rasa_port}", name="teach-bridge",
                              HANDOFF_AGENT_GRACE_SECONDS="30") as (address, server), \
            running_rasa(server, redis_url, action_server_url, name="teach-rasa", port=rasa_port), \
            running_worker(redis_url, prefix, project, action_server_url, "teach-worker"):
        site = Stack(f"http://{address}", address, prefix, project, redis_url, background_loop)
        site.conversation_id = background_loop.run(real_conversation(address, "ann"), timeout=90)
        site.seed(CARD_ARRIVAL, intent="faq/card_arrival", reasons=["low_confidence"], confidence=0.52, age=3000)
        # A group is named after its smallest message id: skipping CRYPTO[-1] renames this one.
        site.seed(CRYPTO, intent="out_of_scope", reasons=["low_confidence"], confidence=0.45, age=2400,
                  message_ids=[f"crypto-{index + 1}" for index in range(len(CRYPTO) - 1)] + ["crypto-0"])
        site.seed(COMPLIMENTS, intent="thank", reasons=["not_understood"], confidence=0.3, age=1800)
        site.seed(HOSTILE, reasons=["not_understood"], age=1200)
        # The metal card question of the real conversation, and others like it from elsewhere.
        site.seed(METAL[1:], intent="faq/order_card", reasons=["low_confidence"], confidence=0.55, age=900)
        site.seed(METAL[:1], conversation_id=site.conversation_id, intent="faq/order_card",
                  reasons=["low_confidence", "handoff"], confidence=0.58, age=60)
        yield site


@dataclass
class Console:
    page: Page
    errors: list

    def nav(self, name: str) -> Locator:
        return self.page.get_by_role("navigation", name="Views").get_by_role("button", name=name)

    def tab(self, name: str) -> Locator:
        return self.page.get_by_role("tablist", name="Teaching").get_by_role("tab", name=re.compile(f"^{re.escape(name)}"))

    def open_tab(self, name: str) -> None:
        self.tab(name).click()
        expect(self.tab(name)).to_have_attribute("aria-selected", "true")

    @property
    def groups(self) -> Locator:
        return self.page.locator(".group-card")

    def group(self, text: str) -> Locator:
        """The inbox group that has a message with this text."""
        return self.groups.filter(has=self.page.locator(".message-text", has_text=text))

    def expand(self, group: Locator) -> None:
        toggle = group.get_by_role("button", name=re.compile(r"^Show (all \d+ messages|the message)$"))
        toggle.click()
        expect(group.locator(".group-messages")).to_be_visible()

    def row(self, group: Locator, text: str) -> Locator:
        return group.get_by_role("row").filter(has=self.page.locator(".message-text", has_text=text))

    @property
    def notice(self) -> Locator:
        return self.page.locator("#teach-panel-inbox .teach-notice[role=status]")

    @property
    def dialog(self) -> Locator:
        return self.page.get_by_role("dialog")

    def assert_no_errors(self) -> None:
        assert self.errors == [], f"uncaught page errors: {self.errors}"
        assert self.page.evaluate("window.__cspViolations") == [], "Content-Security-Policy violations"


@pytest.fixture
def console(browser: Browser, stack: Stack) -> Iterator[Console]:
    """The content editor cleo, logged in, on the Teach view."""
    context = new_context(browser, viewport={"width": 1280, "height": 800})
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    errors = watch_for_errors(page)
    log_in(page, stack.site, "cleo")
    view = Console(page, errors)
    expect(view.nav("Teach")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("heading", name="Teach the bot")).to_be_visible()
    yield view
    view.assert_no_errors()
    context.close()


def examples_of(project_file: str, intent: str, stack: Stack) -> List[str]:
    """The examples of one intent in an NLU file of the project copy."""
    content = yaml.safe_load(stack.read(project_file))
    for block in content.get("nlu", []):
        if block.get("intent") == intent:
            return [line[2:].strip() for line in block["examples"].splitlines() if line.strip()]
    return []


def iso_time(seconds: float) -> str:
    """A unix time in seconds as the page writes it in a <time>'s datetime: new Date(seconds * 1000).toISOString()."""
    ms = math.floor(seconds * 1000)
    return f"{datetime.fromtimestamp(ms // 1000, tz=timezone.utc):%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


# ---- who sees it ------------------------------------------------------------------------------


def test_a_content_editor_sees_only_teach_and_an_agent_does_not_see_it(browser: Browser, stack: Stack, console: Console):
    nav = console.page.get_by_role("navigation", name="Views")
    expect(nav.get_by_role("button")).to_have_count(1)
    expect(console.page.get_by_role("banner")).to_contain_text("Content editor")
    for name in ("Inbox", "Train & deploy", "Models", "Audit trail"):
        expect(console.tab(name)).to_be_visible()
    # Tabs follow the arrow keys.
    console.tab("Inbox").focus()
    console.page.keyboard.press("ArrowRight")
    expect(console.tab("Train & deploy")).to_be_focused()
    expect(console.tab("Train & deploy")).to_have_attribute("aria-selected", "true")
    console.page.keyboard.press("End")
    expect(console.tab("Audit trail")).to_have_attribute("aria-selected", "true")

    context = new_context(browser, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors = watch_for_errors(page)
    log_in(page, stack.site, "ann")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_role("navigation", name="Views").get_by_role("button", name="Chats")).to_be_visible()
    expect(page.get_by_role("navigation", name="Views").get_by_role("button", name="Teach")).to_have_count(0)
    expect(page.get_by_role("heading", name="Teach the bot")).to_have_count(0)
    assert errors == []
    context.close()


# ---- the inbox -----------------------------------------------------------------------------------


def test_the_inbox_groups_messages_and_shows_a_messages_conversation(console: Console, stack: Stack):
    page = console.page
    metal = console.group(METAL[0])
    expect(metal).to_have_count(1)
    # The biggest group first: the eight metal card questions, grouped by meaning.
    expect(console.groups.first).to_contain_text("and 7 similar messages")
    expect(metal.locator(".group-title")).to_have_text(f"“{METAL_QUESTION}”")  # the newest
    expect(metal.locator(".group-reasons")).to_contain_text("Low confidence8")
    expect(metal.locator(".group-reasons")).to_contain_text("Led to handoff1")
    expect(metal.locator(".group-suggestion")).to_contain_text("The bot's best guess: Order card faq/order_card for 100% of them")
    expect(console.group(CRYPTO[0])).to_contain_text("and 5 similar messages")
    expect(console.group(CARD_ARRIVAL[0])).to_contain_text("and 3 similar messages")
    # The real conversation reached the inbox through Rasa's event broker (the metal question that led to
    # its handoff, above); its request for a person was understood and handed over: nothing to teach.
    expect(console.group("I want to talk to a person")).to_have_count(0)
    # The counts are the worker's.
    inbox = stack.store(lambda store: store.groups())
    expect(console.groups).to_have_count(len(inbox["groups"]))
    expect(page.locator("#teach-panel-inbox .panel-summary")).to_have_text(
        f"{inbox['open']} messages to look at, in {len(inbox['groups'])} groups of similar messages. Biggest groups first.")
    expect(console.tab("Inbox").locator(".tab-count")).to_have_text(str(inbox["open"]))
    seeded = next(item for group in inbox["groups"] for item in group["items"] if item["text"] == METAL_QUESTION)

    console.expand(metal)
    expect(metal.get_by_role("checkbox", name="Select all messages in this group")).to_be_focused()
    expect(metal.get_by_role("row")).to_have_count(9)  # the header and eight messages
    row = console.row(metal, METAL_QUESTION)
    expect(row).to_contain_text("Order card")
    expect(row).to_contain_text("58% sure")
    expect(row.locator("time")).to_have_attribute("datetime", iso_time(seeded["time"]))
    row.get_by_role("button", name=re.compile("^Open conversation")).click()
    side = page.get_by_role("complementary", name="Conversation")
    expect(side).to_be_visible()
    transcript = side.get_by_role("region", name="Transcript")
    expect(transcript.locator(".msg-customer").first).to_contain_text(METAL_QUESTION)
    expect(transcript.locator(".msg-customer.is-inbox-message")).to_contain_text("In the inbox")
    expect(transcript.locator(".msg-bot").first.locator(".badge-bot")).to_have_text("Bot")
    expect(transcript.locator(".msg-agent")).to_contain_text(METAL_ANSWER)
    expect(transcript.locator(".msg-agent")).to_contain_text("Agent ann")
    expect(transcript.locator(".msg-system").filter(has_text="from our support team has joined the chat.")).to_have_count(1)
    expect(transcript.locator(".msg-event")).to_contain_text("The bot handed over: Asked for a person")
    metal.get_by_role("button", name="Hide messages").click()
    transcript.locator(".msg-agent").scroll_into_view_if_needed()
    screenshot(page, "teach-inbox")
    console.expand(metal)

    # A message whose conversation never went through the bridge.
    console.row(metal, METAL[3]).get_by_role("button", name=re.compile("^Open conversation")).click()
    expect(transcript).to_contain_text("This conversation is not available")
    expect(transcript).to_contain_text(METAL[3])
    page.keyboard.press("Escape")
    expect(side).to_be_hidden()
    expect(console.row(metal, METAL[3]).get_by_role("button", name=re.compile("^Open conversation"))).to_be_focused()

    # Ticking messages narrows what the actions apply to; "select all" ticks the rest.
    console.row(metal, METAL[2]).get_by_role("checkbox").check()
    expect(metal.locator(".group-scope")).to_have_text("For the 1 selected message:")
    select_all = metal.get_by_role("checkbox", name="Select all messages in this group")
    assert select_all.evaluate("(box) => box.indeterminate") is True
    select_all.check()
    expect(metal.locator(".group-scope")).to_have_text("For all 8 messages:")
    select_all.uncheck()
    expect(metal.get_by_role("checkbox", checked=True)).to_have_count(0)

    # A message arriving meanwhile changes the inbox under the editor's hands, but not their focus or ticks.
    ticked = console.row(metal, METAL[2]).get_by_role("checkbox")
    ticked.check()
    expect(ticked).to_be_focused()
    stack.seed([LATECOMER], age=5)
    expect(console.group(LATECOMER)).to_contain_text("1 message")
    expect(ticked).to_be_focused()
    expect(ticked).to_be_checked()
    expect(metal.locator(".group-scope")).to_have_text("For the 1 selected message:")


def test_texts_that_look_like_html_are_shown_as_text(console: Console, stack: Stack):
    page = console.page
    for text in HOSTILE:
        group = console.group(text)
        expect(group).to_have_count(1)
        expect(group.locator(".group-title")).to_have_text(f"“{text}”")
    group = console.group(HOSTILE[0])
    console.expand(group)
    console.row(group, HOSTILE[0]).get_by_role("button", name=re.compile("^Open conversation")).click()
    expect(page.get_by_role("complementary", name="Conversation")).to_contain_text(HOSTILE[0])
    assert page.locator("main img, main script").count() == 0
    assert page.evaluate("window.__xss") is None
    group.get_by_role("button", name="Skip").click()
    expect(console.notice).to_have_text("1 message skipped.")
    expect(console.group(HOSTILE[0])).to_have_count(0)


def test_assigning_a_group_to_an_faq_topic_writes_the_examples_and_the_group_goes(console: Console, stack: Stack):
    group = console.group(CARD_ARRIVAL[0])
    expect(group).to_have_count(1)
    group.get_by_role("button", name="Assign to…").click()
    dialog = console.dialog
    expect(dialog.get_by_role("heading")).to_have_text("Assign these 4 messages to…")
    search = dialog.get_by_role("searchbox", name="Search intents and FAQ topics")
    expect(search).to_be_focused()
    # The bot's guess is picked already; each choice shows its answer.
    expect(dialog.get_by_role("radio", name=re.compile(r"^Card arrival faq\/card_arrival"))).to_be_checked()
    expect(dialog.locator(".picker-choice").filter(has_text="faq/card_arrival")).to_contain_text("FAQ topic ·")
    expect(dialog.locator(".picker-choice").filter(has_text="faq/card_arrival").locator(".choice-answer")).not_to_be_empty()
    search.fill("zzz nothing")
    expect(dialog.get_by_text("Nothing matches “zzz nothing”.")).to_be_visible()
    search.fill("card_arrival")  # "arrival" is also in the small talk answer of what the bot can do
    expect(dialog.locator(".picker-choice:visible")).to_have_count(1)
    search.press("Enter")
    expect(dialog).to_have_count(0)
    expect(console.notice).to_have_text("4 examples added to faq/card_arrival. Train the bot to put it live.")
    expect(console.group(CARD_ARRIVAL[0])).to_have_count(0)
    examples = examples_of("data/nlu/faq_cards.yml", "faq/card_arrival", stack)
    for text in CARD_ARRIVAL:
        assert text in examples


def test_a_new_faq_topic_from_an_agents_answer_writes_examples_and_answer(console: Console, stack: Stack):
    group = console.group(METAL[0])
    group.get_by_role("button", name="New FAQ topic").click()
    dialog = console.dialog
    expect(dialog.get_by_role("heading", name="New FAQ topic")).to_be_visible()
    expect(dialog.get_by_label("Topic name")).to_be_focused()
    answers = dialog.get_by_role("list", name="Agents' answers")
    expect(answers.get_by_role("listitem")).to_have_count(1)
    expect(answers.get_by_role("listitem")).to_contain_text(METAL_ANSWER)
    expect(answers.get_by_role("listitem")).to_contain_text("ann")
    answers.get_by_role("button", name="Use this answer").click()
    answer = dialog.get_by_label("Answer", exact=True)
    expect(answer).to_have_value(METAL_ANSWER)
    expect(answer).to_be_focused()
    category = dialog.get_by_label("Category", exact=True)
    expect(category.get_by_role("option")).to_have_text(["Account", "Cards", "Payments", "New category…"])
    category.select_option("cards")

    name = dialog.get_by_label("Topic name")
    name.fill("Metal card")
    dialog.get_by_role("button", name="Create FAQ topic").click()
    expect(dialog.get_by_role("alert")).to_contain_text("may only have lower-case letters")
    expect(name).to_be_focused()
    name.fill("card_arrival")  # taken: the worker refuses, the dialog stays open with its reason
    dialog.get_by_role("button", name="Create FAQ topic").click()
    expect(dialog.get_by_role("alert")).to_contain_text("That name is taken: There is already a question called card_arrival")
    name.fill("metal_card")
    answer.fill(METAL_ANSWER + " See {help_url} for the fees.")
    dialog.get_by_role("button", name="Create FAQ topic").click()
    expect(dialog).to_have_count(0)
    expect(console.notice).to_have_text(re.compile(r"^New FAQ topic faq/metal_card created with 8 examples and its answer\."))
    expect(console.group(METAL[0])).to_have_count(0)

    assert sorted(examples_of("data/nlu/faq_cards.yml", "faq/metal_card", stack)) == sorted(METAL)
    responses = yaml.safe_load(stack.read("data/responses/faq_cards.yml"))["responses"]
    assert responses["utter_faq/metal_card"] == [{"text": METAL_ANSWER + " See {help_url} for the fees."}]


def test_a_new_intent_with_its_answer(console: Console, stack: Stack):
    group = console.group(COMPLIMENTS[0])
    expect(group).to_contain_text("and 3 similar messages")
    group.get_by_role("button", name="New intent").click()
    dialog = console.dialog
    dialog.get_by_label("Intent name").fill("compliment")
    dialog.get_by_label("Answer", exact=True).fill(COMPLIMENT_ANSWER)
    dialog.get_by_role("button", name="Create intent").click()
    expect(dialog).to_have_count(0)
    expect(console.notice).to_have_text("New intent compliment created with 4 examples and its answer. Train the bot to put it live.")
    domain = yaml.safe_load(stack.read("domain.yml"))
    assert "compliment" in domain["intents"]
    assert domain["responses"]["utter_compliment"] == [{"text": COMPLIMENT_ANSWER}]
    assert sorted(examples_of("data/nlu/taught.yml", "compliment", stack)) == sorted(COMPLIMENTS)


def test_skip_one_message_then_mark_the_rest_out_of_scope(console: Console, stack: Stack):
    group = console.group(CRYPTO[0])
    console.expand(group)
    console.row(group, CRYPTO[-1]).get_by_role("checkbox").check()
    skip = group.get_by_role("button", name="Skip")
    expect(skip).to_have_attribute("aria-describedby", re.compile("scope"))
    skip.click()
    expect(console.notice).to_have_text("1 message skipped.")
    # The group lost the message it was named after; it stays open, with the five others.
    group = console.group(CRYPTO[0])
    expect(group.get_by_role("row")).to_have_count(6)
    expect(group.locator(".group-scope")).to_have_text("For all 5 messages:")
    group.get_by_role("button", name="Out of scope").click()
    expect(console.notice).to_have_text(re.compile(r"^5 messages marked out of scope"))
    expect(console.group(CRYPTO[0])).to_have_count(0)
    assert set(CRYPTO[:-1]) <= set(examples_of("data/nlu/core.yml", "out_of_scope", stack))
    assert CRYPTO[-1] not in stack.read("data/nlu/core.yml")

    inbox = stack.store(lambda store: store.groups())
    assert not [item for group in inbox["groups"] for item in group["items"] if item["text"] in CRYPTO]


# ---- training, deploying, rolling back ----------------------------------------------------------------


def wait_for_job_end(console: Console) -> Locator:
    """The job card once its job has ended (done, refused or failed)."""
    card = console.page.get_by_role("region", name="Latest training")
    expect(card.locator(".job-state")).to_have_text(re.compile("^(Finished|Not deployed|Failed)$"), timeout=TRAINING_TIMEOUT_MS)
    return card


def test_train_and_deploy_shows_progress_and_the_report(console: Console, stack: Stack):
    page = console.page
    before = stack.current_model()
    console.open_tab("Train & deploy")
    expect(page.get_by_text(re.compile(r"^Customers talk to model "))).to_contain_text(before)
    page.get_by_role("button", name="Train and deploy").click()
    progress = page.get_by_role("progressbar", name="Training progress")
    expect(progress).to_be_visible()
    expect(page.get_by_role("button", name="Train and deploy")).to_be_disabled()
    expect(page.get_by_role("button", name="Train only")).to_be_disabled()
    expect(console.tab("Train & deploy").locator(".tab-busy")).to_be_visible()
    # The bar moves while the model trains (the worker reports each step).
    expect(progress).not_to_have_attribute("aria-valuenow", "0", timeout=60_000)
    card = wait_for_job_end(console)
    expect(card.locator(".job-state")).to_have_text("Finished")
    expect(card.locator(".job-stage")).to_have_text("Deployed")
    expect(progress).to_have_attribute("aria-valuenow", "100")
    job = stack.store(lambda store: store.job())
    assert job["state"] == "done" and job["model_id"] == stack.current_model() != before
    expect(card.locator(".job-live")).to_contain_text(f"Model {job['model_id']} is live")

    report = card.locator(".report")
    expect(report.get_by_role("group", name="Verdict")).to_contain_text(re.compile("Verdict: (Better|About the same)"))
    expect(report.get_by_role("group", name="Accuracy")).to_contain_text("→")
    expect(report.get_by_role("group", name="Accuracy")).to_contain_text("held-out example")
    expect(report.get_by_role("group", name="Stuck detection")).to_contain_text("Passes")
    expect(page.get_by_role("button", name="Train and deploy")).to_be_enabled()
    # What changed since the live model (published from a file: added up from the labels), with who.
    changes = report.get_by_role("region", name="What changed since the live model")
    expect(changes).to_contain_text("added up from the labels")
    expect(changes.locator(".changes-labels li").filter(has_text="faq/metal_card")).to_contain_text("cleo added a label")
    expect(changes.locator(".changes-answers li").filter(has_text="utter_faq/metal_card")).to_contain_text(
        f"new answer {METAL_ANSWER}")
    expect(changes.locator("tr").filter(has_text="faq/metal_card")).to_contain_text("new")
    expect(changes.locator("tr").filter(has_text="faq/metal_card")).to_contain_text(f"+{len(METAL)}")
    expect(report.locator(".regressions")).to_have_count(0)
    card.scroll_into_view_if_needed()
    screenshot(page, "teach-report")
    # The worst changes first; the rest on demand.
    per_intent = report.locator("table.per-intent")
    everything = len(job["report"]["per_intent"])
    assert everything > 12
    expect(per_intent.locator("tbody tr:visible")).to_have_count(12)
    report.get_by_role("button", name=f"Show all {everything} intents and topics").click()
    expect(per_intent.locator("tbody tr:visible")).to_have_count(everything)
    expect(per_intent.get_by_role("row").filter(has_text="faq/card_arrival")).to_have_count(1)

    console.open_tab("Models")
    live = page.locator("tr.is-live")
    expect(live).to_contain_text(job["model_id"])
    expect(live).to_contain_text("Live")
    expect(live).to_contain_text("cleo")


def test_a_worse_model_is_refused_and_deployed_only_with_an_override(console: Console, stack: Stack):
    page = console.page
    unseen = yaml.safe_load(stack.read("tests/nlu/unseen_faq_cards.yml"))["nlu"]
    swallowed = next(block for block in unseen if block["intent"] == "faq/card_swallowed")
    wrong = [line[2:].strip() for line in swallowed["examples"].splitlines() if line.strip()][:10]
    stack.seed(wrong, intent="faq/card_swallowed", reasons=["low_confidence"], confidence=0.5, age=30)
    # Label every one of them "greet": wrong on purpose (the held-out questions about swallowed cards).
    remaining = list(wrong)
    while remaining:
        group = console.group(remaining[0])
        expect(group).to_have_count(1)
        texts = group.locator(".message-text").all_text_contents()
        group.get_by_role("button", name="Assign to…").click()
        console.dialog.get_by_role("searchbox").fill("greet")
        console.dialog.get_by_role("radio", name=re.compile(r"^Greet greet")).check()
        console.dialog.get_by_role("button", name="Assign").click()
        expect(console.dialog).to_have_count(0)
        expect(console.notice).to_contain_text("added to greet")
        expect(console.group(remaining[0])).to_have_count(0)
        remaining = [text for text in remaining if text not in texts]
    assert set(wrong) <= set(examples_of("data/nlu/core.yml", "greet", stack))

    deployed = stack.current_model()
    console.open_tab("Train & deploy")
    page.get_by_role("button", name="Train and deploy").click()
    expect(page.get_by_role("progressbar", name="Training progress")).not_to_have_attribute("aria-valuenow", "100", timeout=30_000)
    card = wait_for_job_end(console)
    expect(card.locator(".job-state")).to_have_text("Not deployed")
    expect(card.locator(".job-stage")).to_contain_text("Not deployed: faq/card_swallowed got worse")
    assert stack.current_model() == deployed, "a worse model is not deployed by itself"
    report = card.locator(".report")
    expect(report.get_by_role("group", name="Verdict")).to_contain_text("Verdict: Worse")
    refused = stack.store(lambda store: store.job())
    assert refused["report"]["reasons"]
    expect(report.locator(".verdict-reasons li")).to_have_text(refused["report"]["reasons"])
    drop = report.locator("table.per-intent tr.is-drop").filter(has_text="faq/card_swallowed")
    expect(drop).to_have_count(1)
    expect(drop).to_contain_text("Worse: −")
    expect(report.locator("table.confusions").get_by_role("row").filter(has_text="faq/card_swallowed").filter(has_text="greet")).to_have_count(1)

    # The topic that got markedly worse, beyond the noise of its own held-out questions.
    regressions = report.get_by_role("region", name="1 topic got markedly worse")
    expect(regressions.locator("tbody tr")).to_have_count(1)
    expect(regressions.locator("tbody tr")).to_contain_text("faq/card_swallowed")
    expect(regressions).to_contain_text("not deployed unless you override")

    override = card.get_by_role("group", name="Deploy it anyway?")
    expect(override.locator(".override-topics")).to_contain_text("faq/card_swallowed")
    deploy = override.get_by_role("button", name="Deploy anyway")
    expect(deploy).to_be_disabled()
    override.get_by_label("Why (kept in the audit trail)").fill(OVERRIDE_REASON)
    override.get_by_role("checkbox", name="I understand this model is worse — deploy anyway").check()
    expect(deploy).to_be_enabled()
    deploy.click()
    job = stack.store(lambda store: store.job())
    expect(card.locator(".job-live")).to_contain_text(f"Model {job['model_id']} is live")
    assert stack.current_model() == job["model_id"]
    expect(page.locator("#teach-panel-train .teach-notice[role=status]")).to_contain_text("deployed with an override")


def test_roll_back_to_the_previous_model_and_redeploy_from_the_list(console: Console, stack: Stack):
    page = console.page
    history = stack.store(lambda store: store.deployment_history())
    current, previous = history[0], history[1]
    console.open_tab("Models")
    table = page.get_by_role("table", name="Trained models, newest first")
    expect(table.locator("tr.is-live")).to_contain_text(current)
    expect(table.locator("tr.is-live")).to_contain_text("Worse")
    expect(page.get_by_text(re.compile("^Back to "))).to_contain_text(previous)

    page.get_by_role("button", name="Roll back").click()
    confirm = page.get_by_role("dialog", name="Roll back to the previous model?")
    expect(confirm).to_contain_text(f"Model {previous} goes live again instead of {current}.")
    confirm.get_by_role("button", name="Roll back").click()
    expect(page.locator("#teach-panel-models .teach-notice[role=status]")).to_have_text(f"Rolled back: model {previous} is live again.")
    expect(table.locator("tr.is-live")).to_contain_text(previous)
    assert stack.current_model() == previous

    # The full report of a model, on demand.
    table.get_by_role("button", name=f"Report for {current}").click()
    report = page.get_by_role("dialog", name=f"Report for model {current}")
    expect(report.get_by_role("group", name="Verdict")).to_contain_text("Verdict: Worse")
    expect(report.locator("table.per-intent tr.is-drop").filter(has_text="faq/card_swallowed")).to_have_count(1)
    report.get_by_role("button", name="Close").click()
    expect(report).to_have_count(0)

    # Deploying the worse one from the list needs the override too.
    table.get_by_role("button", name=f"Deploy {current}").click()
    dialog = page.get_by_role("dialog", name=f"Deploy model {current}?")
    expect(dialog.get_by_role("button", name="Deploy anyway")).to_be_disabled()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    assert stack.current_model() == previous

    # The published model (no evaluation) goes live after a confirmation; rolling back returns.
    published = stack.store(lambda store: store.models())[-1]["id"]
    table.get_by_role("button", name=f"Deploy {published}").click()
    page.get_by_role("dialog", name=f"Deploy model {published}?").get_by_role("button", name="Deploy").click()
    expect(table.locator("tr.is-live")).to_contain_text(published)
    assert stack.current_model() == published
    page.get_by_role("button", name="Roll back").click()
    page.get_by_role("dialog", name="Roll back to the previous model?").get_by_role("button", name="Roll back").click()
    expect(table.locator("tr.is-live")).to_contain_text(previous)
    assert stack.current_model() == previous
    screenshot(page, "teach-models")


def test_the_audit_trail_says_who_did_what(console: Console, stack: Stack):
    page = console.page
    console.open_tab("Audit trail")
    table = page.get_by_role("table", name="Audit trail, newest first")
    rows = table.get_by_role("row")

    def entry(what: str, detail: str) -> Locator:
        return rows.filter(has=page.get_by_role("cell", name=what, exact=True)).filter(has_text=detail)

    expect(entry("Labelled messages", "4 messages → faq/card_arrival; 4 examples added")).to_have_count(1)
    expect(entry("Labelled messages", "8 messages → new FAQ topic faq/metal_card (cards)")).to_have_count(1)
    expect(entry("Labelled messages", "4 messages → new intent compliment")).to_have_count(1)
    expect(entry("Marked out of scope", "5 messages → out of scope")).to_have_count(1)
    expect(entry("Skipped messages", "1 message")).to_have_count(2)
    expect(entry("Started training", "Train and deploy unless worse")).to_have_count(2)
    expect(entry("Trained a model", "Worse")).to_have_count(1)
    expect(entry("Deployed a model", "worse, deployed with an override: “Testing the override: <b>not bold</b>”; "
                 "topics worse: faq/card_swallowed")).to_have_count(1)
    expect(entry("Rolled back", "back to")).to_have_count(2)
    for row in (entry("Deployed a model", "override"), entry("Marked out of scope", "")):
        expect(row.get_by_role("cell").nth(1)).to_have_text("cleo")
        expect(row.locator("time")).to_have_count(1)
    assert page.locator("main b").count() == 0
    # Newest first.
    expect(rows.nth(1)).to_contain_text("Rolled back")


def test_a_label_is_undone_from_the_audit_trail(console: Console, stack: Stack):
    page = console.page
    console.open_tab("Audit trail")
    table = page.get_by_role("table", name="Audit trail, newest first")
    label = table.get_by_role("row").filter(has_text="4 messages → new intent compliment")
    label.get_by_role("button", name=re.compile("^Undo this label")).click()
    dialog = page.get_by_role("dialog", name="Undo this label?")
    expect(dialog).to_contain_text("go back to the inbox")
    dialog.get_by_role("button", name="Undo").click()
    undone = table.get_by_role("row").filter(has=page.get_by_role("cell", name="Undid a label", exact=True))
    expect(undone).to_contain_text("Label by cleo (compliment) undone: 4 examples taken out, the topic removed, "
                                   "4 messages back in the inbox")
    expect(undone.get_by_role("cell").nth(1)).to_have_text("cleo")
    expect(label.get_by_role("button", name=re.compile("^Undo"))).to_have_count(0)
    # The intent, its answer and rule are gone from the files; the messages are back in the inbox.
    domain = yaml.safe_load(stack.read("domain.yml"))
    assert "compliment" not in domain["intents"] and "utter_compliment" not in domain["responses"]
    assert not (stack.project / "data" / "nlu" / "taught.yml").exists()
    assert not (stack.project / "data" / "rules" / "taught.yml").exists()
    console.open_tab("Inbox")
    expect(console.group(COMPLIMENTS[0])).to_contain_text("and 3 similar messages")
