"""What the customer's widget says about what they wrote and what became of their request, live and after a
reload, in chromium against a real bridge, Rasa and Redis: a message written while waiting says the team will see
it, the agent's "Read" survives a reload, a request's news gives way once the customer goes on chatting, a
message left unsent while the chat was closed opens a new chat, and a new chat reloaded before its welcome still
follows the closed one."""

from __future__ import annotations

import re

import redis
from playwright.sync_api import Page, WebSocketRoute, expect

from tests.browser.test_widget import (  # noqa: F401 - the fixtures agent and empty_queue (autouse)
    STORED_CONVERSATION, Agent, agent, empty_queue, notices, open_chat, open_demo, queue_for_a_person, say,
    stored_conversation,
)


def test_a_message_written_while_waiting_says_the_team_will_see_it_and_read_survives_a_reload(
        customer_context, site, agent):
    page, errors = open_demo(customer_context, site)
    open_chat(page)
    queue_for_a_person(page)
    say(page, "hello? is anyone there? it's about the amazon payment really")
    mine = page.locator(".log .message--customer").filter(has_text="it's about the amazon payment")
    expect(mine.locator(".message__delivery")).to_have_text("Our team will see this when they join")

    conversation_id = stored_conversation(page)["conversationId"]
    agent.claim(conversation_id)
    message_id = mine.get_attribute("data-id")
    agent.send("read", {"conversation_id": conversation_id, "up_to": message_id})
    expect(mine.locator(".message__delivery")).to_have_text("Read")
    page.reload()
    expect(page.get_by_role("dialog")).to_be_visible()  # it stays open across the reload
    again = page.locator(".log .message--customer").filter(has_text="it's about the amazon payment")
    expect(again.locator(".message__delivery")).to_have_text("Read")
    assert errors == [], errors


def test_an_answered_requests_news_gives_way_once_the_customer_chats_on(customer_context, site, background_loop, address):
    page, errors = open_demo(customer_context, site)
    open_chat(page)
    queue_for_a_person(page)
    page.get_by_text("Reply by message", exact=True).click()  # nobody is online: the form is open already
    page.get_by_label("Phone number or email", exact=True).fill("alex@example.com")
    page.get_by_role("button", name="Send request").click()
    status = page.locator(".request-status__text")
    expect(status).to_contain_text("Message sent at")

    conversation_id = stored_conversation(page)["conversationId"]
    reader = Agent(background_loop, address, "ann")
    try:
        items = reader.expect("requests")["data"]["items"]
        request = next(item for item in items if item["conversation"] == conversation_id)
        reader.send("answer_request", {"request_id": request["id"], "text": "Your card was posted on Monday."}, id="a")
        background_loop.run(reader.client.acknowledged("a"))
    finally:
        reader.leave()
    expect(status).to_have_text("We've answered your request: see our reply above.")

    say(page, "thanks! and how do I top up with apple pay?")  # back with the assistant, chatting on
    expect(page.locator(".request-status:not(.rated-status)")).to_be_hidden()
    page.reload()
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.locator(".log .message--customer").filter(has_text="apple pay")).to_be_visible()
    expect(page.locator(".request-status:not(.rated-status)")).to_be_hidden()
    assert errors == [], errors


def test_a_form_another_tab_made_pointless_closes_and_no_error_outlives_its_cause(customer_context, site):
    """Two tabs of one conversation, queued with nobody online: both offer the form; one sends a request, and the
    other's form, which the bridge would now refuse, closes with nothing in it said in error."""
    page, errors = open_demo(customer_context, site)
    open_chat(page)
    queue_for_a_person(page)
    other = customer_context.new_page()
    other.goto(page.url)
    open_chat(other)
    other_form = other.locator("form").filter(has=other.get_by_role("button", name="Send request"))
    expect(other_form).to_be_visible()  # nobody is online: offered in both tabs
    other.get_by_label("Phone number or email", exact=True).fill("07700 900123")

    page.get_by_label("Phone number or email", exact=True).fill("alex@example.com")
    page.get_by_role("button", name="Send request").click()
    expect(page.locator(".request-status__text")).to_contain_text("Callback requested at")
    expect(other.locator(".request-status__text")).to_contain_text("Callback requested at")
    expect(other_form).to_be_hidden()
    expect(other.get_by_role("alert")).to_have_count(0)
    assert errors == [], errors


def closed_by_the_agent(page: Page, agent: Agent) -> str:
    """The page's chat, queued for a person, claimed and closed by the agent (the widget shows it closed): its id."""
    open_chat(page)
    queue_for_a_person(page)
    conversation_id: str = stored_conversation(page)["conversationId"]
    agent.claim(conversation_id)
    agent.close_chat(conversation_id)
    expect(notices(page, "closed")).to_be_visible()
    return conversation_id


def test_a_message_left_unsent_while_the_chat_was_closed_opens_a_new_chat(customer_context, site, agent, redis_url,
                                                                          site_prefix):
    """Written while the connection was down, kept in the page's outbox, sent after a reload to a chat the agent
    closed meanwhile: the bridge refuses it (``conversation_closed``) and the widget sends it in a new chat."""
    page, errors = open_demo(customer_context, site)
    conversation_id = closed_by_the_agent(page, agent)
    unsent = [{"type": "message", "id": "written-offline", "data": {"text": "are you still there?"}}]
    page.evaluate("""(unsent) => {
      const key = Object.keys(localStorage).find((name) => name.startsWith("support-chat:") && name.endsWith(":conversation"));
      localStorage.setItem(key.replace(/:conversation$/, ":outbox"), JSON.stringify(unsent));
    }""", unsent)
    page.reload()

    expect(page.get_by_role("separator")).to_have_text("New chat")
    mine = page.locator(".new-chat ~ .message--customer")
    expect(mine.locator(".message__bubble")).to_have_text("are you still there?")
    expect(page.locator(".new-chat ~ .message--customer[data-id]:not(.message--failed)")).to_have_count(1)  # stored
    expect(page.locator(".new-chat ~ .message--bot").first).to_be_visible()  # the assistant answers the new chat
    page.wait_for_function(f"({STORED_CONVERSATION})().conversationId !== {conversation_id!r}")
    store = redis.Redis.from_url(redis_url)
    old = store.hgetall(f"{site_prefix}:conv:{conversation_id}")
    said = [fields[b"text"].decode() for _, fields in store.xrange(f"{site_prefix}:log:{conversation_id}")]
    store.close()
    assert old[b"state"] == b"closed" and "are you still there?" not in said, (old, said)
    assert errors == [], errors


def test_a_reload_before_the_new_chats_welcome_keeps_its_link_to_the_closed_one(customer_context, site, agent,
                                                                                redis_url, site_prefix):
    """The customer writes after a close; the new chat's hello (naming the closed chat) is not answered before
    the page reloads: the reloaded page's hello names it still, so the agent sees the earlier chat."""
    held = {"hello": False}

    def customer_socket(socket: WebSocketRoute) -> None:
        if not held["hello"]:
            socket.connect_to_server()  # else a socket the bridge never hears: no welcome comes

    customer_context.route_web_socket(re.compile(r"/ws/customer"), customer_socket)
    page, errors = open_demo(customer_context, site)
    closed = closed_by_the_agent(page, agent)
    held["hello"] = True
    page.get_by_label("Type your message").fill("one more thing about my card")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("separator")).to_have_text("New chat")
    held["hello"] = False
    page.reload()

    page.wait_for_function(f"(({STORED_CONVERSATION})() || {{}}).conversationId !== undefined"
                           f" && ({STORED_CONVERSATION})().conversationId !== {closed!r}")
    again = stored_conversation(page)["conversationId"]
    store = redis.Redis.from_url(redis_url)
    follows = store.hget(f"{site_prefix}:conv:{again}", "follows")
    store.close()
    assert follows == closed.encode(), follows
    assert errors == [], errors
