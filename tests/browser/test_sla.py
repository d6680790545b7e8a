"""Response-time targets in chromium: the countdown on the queue card, the chat's tab and header turns from
ok to at risk (a quarter of the target left) to late, and the supervisors' dashboard counts the late answers
(docs/bridge-protocol.md "Response-time targets"). A bridge of its own with short targets."""

from __future__ import annotations

import re
import uuid
from typing import Iterator

import pytest
from playwright.sync_api import expect

from harness.servers import add_agent, delete_prefixed_keys, running_bridge
from tests.browser.conftest import screenshot
from tests.browser.test_console import ann, claimed_by, customers, sue, tidy  # noqa: F401 - fixtures

__all__: list = []

FIRST_SECONDS, REPLY_SECONDS = 10, 8
LEVEL_WAIT_MS = (FIRST_SECONDS + 5) * 1000


@pytest.fixture(scope="module")
def site_prefix() -> str:
    return f"hbwebsla{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def site(redis_url: str, rasa_url: str, site_prefix: str) -> Iterator[str]:
    add_agent(redis_url, site_prefix, "ann", "--display-name", "Ann Lee")
    add_agent(redis_url, site_prefix, "sue", "--roles", "agent,supervisor")
    with running_bridge(redis_url, rasa_url, "bridge-web-sla", site_prefix,
                        HANDOFF_SLA=f"default=first:{FIRST_SECONDS},reply:{REPLY_SECONDS}") as address:
        yield f"http://{address}"
    delete_prefixed_keys(redis_url, site_prefix)


@pytest.fixture(scope="module")
def address(site: str) -> str:
    return site.removeprefix("http://")


def test_the_countdown_turns_amber_then_red_and_the_dashboard_counts_the_late_answers(ann, sue, customers):
    sue.page.get_by_role("button", name="Dashboard").click()
    customer = customers()
    customer.ask_for_person()
    card = ann.queue_item("Asked for a person").locator(".sla-chip")
    expect(card).to_contain_text("First reply 0:0")
    expect(card).to_have_attribute("data-level", "ok")
    expect(card).to_have_attribute("data-level", "at-risk", timeout=LEVEL_WAIT_MS)
    expect(card).to_have_attribute("data-level", "breached", timeout=LEVEL_WAIT_MS)
    expect(card).to_contain_text("First reply late 0:")
    screenshot(ann.page, "console-sla-queue")
    late = sue.page.locator(f'.sla-row[data-conversation="{customer.conversation_id}"]')
    expect(late).to_contain_text("in the queue", timeout=LEVEL_WAIT_MS + 15_000)  # pushed at least every 15 s
    expect(late.locator(".sla-chip")).to_have_class(re.compile("sla-breached"))
    expect(late).to_contain_text("First reply")

    claimed_by(ann, customer)
    expect(late).to_contain_text("Ann Lee")
    header = ann.conversation.locator(".conversation-meta .sla-chip")
    expect(header).to_have_attribute("data-level", "breached")
    expect(ann.page.locator(".conversation-tab .tab-sla")).to_have_class("chip tab-sla sla-breached")
    # The chat's title keeps room beside its countdown (trial 16: it shrank to "A…").
    title = ann.page.locator(".conversation-tab .tab-title")
    assert title.evaluate("(title) => title.scrollWidth <= title.clientWidth + 1"), title.inner_text()
    ann.reply("Sorry for the wait, I'm here now.")
    expect(header).to_be_hidden()
    expect(late).to_have_count(0)

    customer.say("my card is stuck in the machine")
    expect(header).to_contain_text("Reply 0:0")
    expect(header).to_have_attribute("data-level", "ok")
    expect(header).to_have_attribute("data-level", "at-risk", timeout=LEVEL_WAIT_MS)
    screenshot(ann.page, "console-sla-chat")
    expect(header).to_have_attribute("data-level", "breached", timeout=LEVEL_WAIT_MS)
    ann.reply("Let me check that for you.")
    expect(header).to_be_hidden()

    board = sue.page.locator(".sla-board")
    expect(board.locator('dd[data-kind="first"] .sla-count')).to_have_text("1")
    expect(board.locator('dd[data-kind="reply"] .sla-count')).to_have_text("1")
    expect(board.locator('dd[data-kind="reply"]')).to_contain_text("Ann Lee 1")
    # The per-agent view counts Ann's two late answers: the first reply and a reply.
    breaches = sue.page.locator('#agent-figures tr[data-agent="ann"] .agent-sla')
    expect(breaches).to_have_attribute("data-count", "2")
    expect(breaches).to_contain_text("first reply 1 · reply 1")
    screenshot(sue.page, "dashboard-sla")
