"""A supervisor forgets a customer from the console's Privacy view, in chromium, after real conversations
through a bridge with the archive on, the session's Rasa (its tracker store and teaching event broker), an
archiver and the teaching worker; then every Redis key and value, every PostgreSQL table and the tracker
store are scanned for the customer's id, name, email, conversation ids and message texts
(docs/data-model.md "Forget this customer")."""

from __future__ import annotations

import time
import uuid
from typing import Dict, Iterator, List, Tuple

import handoff_client
import pytest
import redis
from playwright.sync_api import Browser, expect

from handoff.identity import sign
from harness.clients import staff
from harness.postgres import PostgresServer, running_archiver
from harness.servers import IDENTITY_SECRET, ModelServer, add_agent, copy_project, running_bridge, running_worker
from tests.browser.conftest import BackgroundLoop, new_context, screenshot
from tests.browser.test_console import open_console
from tests.browser.test_widget import (
    STORED_CONVERSATION, bubbles, queued_with_console, say, stored_conversation,
)

SUPERVISOR = "sal"


@pytest.fixture(scope="module")
def forget_site(redis_url: str, rasa_url: str, model_server: ModelServer, postgres: PostgresServer,
                action_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[str, str, str]]:
    """A bridge with the archive on (its prefix, address and database), an archiver and the teaching worker of
    the session Rasa's inbox."""
    prefix = f"hbwebforget{uuid.uuid4().hex[:6]}"
    database = f"forget_{uuid.uuid4().hex[:8]}"
    postgres.create_database(database)
    url = postgres.url(database)
    add_agent(redis_url, prefix, SUPERVISOR, "--roles", "agent,supervisor")
    project = copy_project(tmp_path_factory.mktemp("forget-project"))
    try:
        with running_archiver(redis_url, url, prefix, name="archiver-forget"), \
                running_worker(redis_url, model_server.teach_prefix, project, action_server_url, "worker-forget"), \
                running_bridge(redis_url, rasa_url, "bridge-web-forget", prefix, DATABASE_URL=url,
                               TEACH_KEY_PREFIX=model_server.teach_prefix, HANDOFF_CUSTOMER_GONE_SECONDS="3") as address:
            yield prefix, address, database
    finally:
        postgres.drop_database(database)


def waited(what: str, check, timeout: float = 90.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"waited in vain for {what}"
        time.sleep(0.25)
    return found


def redis_text(client: redis.Redis) -> Dict[str, str]:
    """Every key of the test Redis and what it holds, as text."""
    readers = {"string": client.get, "hash": client.hgetall, "set": client.smembers, "stream": client.xrange,
               "list": lambda key: client.lrange(key, 0, -1), "zset": lambda key: client.zrange(key, 0, -1)}
    found = {}
    for raw in client.scan_iter(count=1000):
        kind = client.type(raw).decode()
        found[raw.decode("utf-8", "replace")] = repr(readers[kind](raw)) if kind in readers else kind
    return found


def postgres_text(postgres: PostgresServer, database: str) -> Dict[str, str]:
    tables = [row[0] for row in postgres.query(database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    return {table: repr(postgres.query(database, f'SELECT t::text FROM "{table}" t')) for table in tables}


def left(needles: List[str], texts: Dict[str, str]) -> List[Tuple[str, str]]:
    return [(needle, where) for where, text in texts.items() for needle in needles if needle in where or needle in text]


def test_a_supervisor_forgets_a_customer_and_nothing_of_them_is_left(
        browser: Browser, forget_site, background_loop: BackgroundLoop, redis_url: str, model_server: ModelServer,
        postgres: PostgresServer) -> None:
    prefix, address, database = forget_site
    tag = uuid.uuid4().hex[:8]
    contact, name, email = f"forget-{tag}", f"Greta Forgetme{tag}", f"greta{tag}@example.org"
    texts = [f"florbinate quuxle zibbet {tag}", f"my card {tag} has not arrived", f"Ill check the card {tag} now"]
    identity = sign(IDENTITY_SECRET, {"id": contact, "name": name, "email": email, "issued_at": int(time.time())})

    async def conversation() -> str:
        """To the bot (one message it does not understand: the teaching inbox), then to a person and back."""
        customer = await handoff_client.Customer.connect(address, identity=identity)
        for text in texts[:2]:
            await customer.acknowledged(await customer.say(text))  # stored and answered by the bot
        await customer.acknowledged(await customer.talk_to_person())
        sal = await staff(address, SUPERVISOR)
        await sal.acknowledged(await sal.claim(customer.conversation_id))
        await sal.acknowledged(await sal.say(texts[2], customer.conversation_id))
        await sal.send("close", {"conversation_id": customer.conversation_id, "disposition": "resolved"}, id="close")
        await sal.expect("ack", conversation_id=customer.conversation_id)
        for each in (customer, sal):
            await each.close()
        return customer.conversation_id

    conversation_id = background_loop.run(conversation(), timeout=120)
    client = redis.Redis.from_url(redis_url)
    teach = model_server.teach_prefix
    # Every store has it: the archive, Rasa's tracker, the teaching inbox (taken in by the worker).
    waited("the archive", lambda: postgres.query(
        database, f"SELECT count(*) FROM messages WHERE conversation_id = '{conversation_id}' AND text LIKE '%{tag} now'"
    ) == [["1"]])
    assert client.exists(f"support:{{tracker:{conversation_id}}}:events")
    waited("the teaching inbox", lambda: any(
        client.hget(key, "conversation_id") == conversation_id.encode() for key in client.scan_iter(f"{teach}:item:*")))
    time.sleep(3.5)  # the customer's presence settles (gone after HANDOFF_CUSTOMER_GONE_SECONDS)

    context = new_context(browser, viewport={"width": 1280, "height": 900})
    try:
        console = open_console(context, f"http://{address}", SUPERVISOR)
        page = console.page
        page.get_by_role("button", name="Privacy").click()
        page.get_by_role("combobox", name="Who").select_option("contact_id")
        page.get_by_role("textbox", name="Their id").fill(contact)
        page.get_by_role("button", name="Forget…").click()
        dialog = page.get_by_role("dialog", name="Forget this customer?")
        expect(dialog).to_contain_text(contact)
        dialog.get_by_role("button", name="Cancel").click()  # asked first: nothing happens on a cancel
        assert client.exists(f"{prefix}:conv:{conversation_id}")
        page.get_by_role("button", name="Forget…").click()
        page.get_by_role("dialog", name="Forget this customer?").get_by_role("button", name="Forget for good").click()
        view = page.get_by_role("region", name="Privacy")
        result = view.get_by_role("status")
        expect(result).to_contain_text(f"Forgotten: {contact}")
        expect(result.locator('[data-count="conversations"]')).to_have_text("1 conversation")
        screenshot(page, "console-privacy-forget")
        page.get_by_role("textbox", name="Their id").fill(contact)  # again: nothing left to forget
        page.get_by_role("button", name="Forget…").click()
        page.get_by_role("dialog", name="Forget this customer?").get_by_role("button", name="Forget for good").click()
        expect(view.get_by_role("alert")).to_have_text("No store keeps that customer or conversation.")
        console.assert_no_errors()
    finally:
        context.close()

    time.sleep(2.0)  # whatever the archiver or a bridge still held is written or dropped by now
    needles = [contact, name, email, conversation_id, *texts]
    assert left(needles, redis_text(client)) == [], "nothing of the customer in Redis (trackers and inbox included)"
    assert left(needles, postgres_text(postgres, database)) == [], "nothing of the customer in PostgreSQL"
    [(_, audit)] = client.xrange(f"{prefix}:forget-audit")
    assert audit[b"who"] == SUPERVISOR.encode() and audit[b"what"] == b"contact"
    assert left(needles, {"audit": repr(audit)}) == []


@pytest.fixture(scope="module")
def live_site(redis_url: str, rasa_url: str) -> Iterator[Tuple[str, str]]:
    """A bridge without an archive (its prefix and URL), an agent and a supervisor."""
    prefix = f"hbwebforgetlive{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "ann", "--display-name", "Ann Lee")
    add_agent(redis_url, prefix, SUPERVISOR, "--roles", "agent,supervisor")
    with running_bridge(redis_url, rasa_url, "bridge-web-forget-live", prefix) as address:
        yield prefix, f"http://{address}"


def test_forgetting_a_customer_mid_chat_tells_them_kindly_closes_the_agents_tab_and_leaves_no_key(
        browser: Browser, customer_context, agent_context, live_site, redis_url: str) -> None:
    prefix, site = live_site
    agent, agent_errors, page, errors = queued_with_console(
        agent_context, customer_context, site, "ann", "please delete everything about me")
    conversation_id = stored_conversation(page)["conversationId"]
    agent.get_by_role("button", name="Claim chat: Asked for a person").first.click()
    chat = agent.locator(".conversation:not([hidden])")
    expect(chat.get_by_role("log", name="Transcript")).to_contain_text("please delete everything about me")

    context = new_context(browser, viewport={"width": 1280, "height": 900})
    try:
        console = open_console(context, site, SUPERVISOR)
        privacy = console.page
        privacy.get_by_role("button", name="Privacy").click()
        privacy.get_by_role("combobox", name="Who").select_option("conversation_id")
        privacy.get_by_role("textbox", name="Their id").fill(conversation_id)
        privacy.get_by_role("button", name="Forget…").click()
        privacy.get_by_role("dialog", name="Forget this conversation?").get_by_role("button", name="Forget for good").click()
        expect(privacy.get_by_role("region", name="Privacy").get_by_role("status")).to_contain_text("Forgotten")
        console.assert_no_errors()
    finally:
        context.close()

    # The customer is told kindly, and nothing of the chat is shown any more.
    expect(page.locator(".confirmation__text")).to_have_text(
        "This chat has ended, and what was said in it has been deleted as you asked. "
        "If you need anything else, you can start a new chat any time.")
    expect(bubbles(page, "customer")).to_have_count(0)
    expect(page.locator(".header__status")).to_have_text("Virtual assistant")  # nobody is with them any more
    # The agent's tab closed, saying why.
    expect(agent.locator(".toast").filter(has_text="a supervisor erased this customer's data")).to_be_visible()
    expect(agent.locator(".conversation:not([hidden])").get_by_role("log", name="Transcript")).to_have_count(0)
    screenshot(page, "widget-forgotten-mid-chat")
    time.sleep(1.0)
    client = redis.Redis.from_url(redis_url)
    try:
        assert [key for key in client.scan_iter(f"*{conversation_id}*")] == []
        # Writing again starts a new chat; the old one stays gone.
        say(page, "hello again")
        expect(bubbles(page, "customer").filter(has_text="hello again")).to_be_visible()
        page.wait_for_function(f"(({STORED_CONVERSATION})() || {{}}).conversationId !== {conversation_id!r}"
                               f" && ({STORED_CONVERSATION})() !== null")
        expect(bubbles(page, "customer")).to_have_count(1)
        time.sleep(0.5)
        assert [key for key in client.scan_iter(f"*{conversation_id}*")] == []
    finally:
        client.close()
    assert errors == [] and agent_errors == []
