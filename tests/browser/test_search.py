"""The console's Search view in chromium, against a bridge with an archive (a real PostgreSQL): an agent
finds last week's conversation by a word in it, sees the matching lines marked (what the customer typed
shown as text, never run), and opens it whole, read-only, from the archive; a signed-in customer's
conversation only the archive keeps is in the contact panel's history and opens there too."""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest
from playwright.sync_api import Browser, expect

import handoff_client
from handoff.identity import sign
from harness.postgres import PostgresServer, running_archiver
from harness.servers import IDENTITY_SECRET, add_agent, delete_prefixed_keys, running_bridge
from tests.browser.conftest import BackgroundLoop, log_in, new_context, screenshot, watch_for_errors

INJECTED = '<img src=x onerror="document.title=`pwned`">'  # no single quote: it goes into SQL as typed


@pytest.fixture(scope="module")
def archive_site(redis_url: str, postgres: PostgresServer) -> Iterator[str]:
    """A bridge of its own with an archive holding a conversation of a week ago and one of today."""
    database = f"web_{uuid.uuid4().hex[:10]}"
    url = postgres.create_database(database)
    prefix = f"hbsearch{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "ann", "--display-name", "Ann Lee")
    week_ago = (datetime.now(timezone.utc) - timedelta(days=7)).isoformat()
    today = datetime.now(timezone.utc).isoformat()
    try:
        with running_archiver(redis_url, url, prefix):  # applies the schema
            pass
        postgres.query(database, (
            f"INSERT INTO conversations (id, skill_group, started_at, state, agent, disposition) VALUES"
            f" ('week-old', 'general', '{week_ago}', 'closed', 'ann', 'resolved'),"
            f" ('today', 'general', '{today}', 'closed', 'ann', NULL);"
            f" INSERT INTO messages (conversation_id, id, position, sent_at, sender, author, text) VALUES"
            f" ('week-old', '1-0', 1000000, '{week_ago}', 'customer', NULL, 'My parcel never arrived {INJECTED}'),"
            f" ('week-old', '2-0', 2000000, '{week_ago}', 'agent', 'ann', 'I have sent the parcel again'),"
            f" ('week-old', '3-0', 3000000, '{week_ago}', 'note', 'ann', 'courier lost it twice this month'),"
            f" ('today', '1-0', 1000000, '{today}', 'customer', NULL, 'hello there');"
            f" INSERT INTO contacts VALUES ('grace-web', 'Grace Hopper', 'grace@example.com', '2025-10-01', '2025-10-01');"
            f" INSERT INTO conversations (id, contact_id, started_at, state, disposition) VALUES"
            f" ('grace-last-year', 'grace-web', '2025-10-01', 'closed', 'resolved');"
            f" INSERT INTO messages (conversation_id, id, position, sent_at, sender, text) VALUES"
            f" ('grace-last-year', '1-0', 1000000, '2025-10-01', 'customer', 'my statement is missing October')"))
        with running_bridge(redis_url, "http://127.0.0.1:9", "bridge-web-search", prefix, DATABASE_URL=url) as address:
            yield f"http://{address}"
    finally:
        delete_prefixed_keys(redis_url, prefix)
        postgres.drop_database(database)


def test_an_agent_finds_last_weeks_conversation_by_a_word_and_opens_it(browser: Browser, archive_site: str):
    context = new_context(browser, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors = watch_for_errors(page)
    log_in(page, archive_site, "ann")
    page.get_by_role("navigation", name="Views").get_by_role("button", name="Search").click()
    page.get_by_label("Words", exact=True).fill("parcel")
    page.get_by_role("search").get_by_role("button", name="Search").click()
    results = page.get_by_role("list", name="Conversations found").locator("li.search-result")
    expect(results).to_have_count(1)
    found = results.first
    expect(found).to_have_attribute("data-conversation", "week-old")
    expect(found.locator("mark")).to_have_text(["parcel", "parcel"])
    expect(found.locator(".search-line").first).to_contain_text(f"My parcel never arrived {INJECTED}")
    expect(found.locator(".search-agent-name")).to_have_text("with Ann Lee")  # the name customers see, not the login
    expect(found.locator("img")).to_have_count(0)
    screenshot(page, "console-search")
    found.get_by_role("button", name="Open").click()
    opened = page.get_by_role("region", name="Conversation")
    expect(opened).to_contain_text("From the archive (read-only)")
    expect(opened.locator(".search-message")).to_have_count(3)
    expect(opened.locator(".sender-note")).to_contain_text("courier lost it twice this month")
    # Who wrote what, by the names colleagues know (never "Agent" alone, never a login).
    expect(opened.locator(".sender-agent .search-sender")).to_have_text("Ann Lee")
    expect(opened.locator(".sender-note .search-sender")).to_have_text("Private note (Ann Lee)")
    expect(opened.locator("img")).to_have_count(0)
    assert "pwned" not in page.title()
    opened.get_by_role("button", name="← Back to results").click()
    expect(results).to_have_count(1)
    page.get_by_label("Words", exact=True).fill("")
    page.get_by_label("Outcome").select_option("closed")
    page.get_by_role("search").get_by_role("button", name="Search").click()
    expect(results).to_have_count(3)
    expect(results.first).to_have_attribute("data-conversation", "today")
    expect(results.last).to_have_attribute("data-conversation", "grace-last-year")
    assert errors == []
    context.close()


def test_a_contacts_conversation_only_the_archive_keeps_opens_from_the_contact_panel(
        browser: Browser, archive_site: str, background_loop: BackgroundLoop):
    address = archive_site.removeprefix("http://")
    identity = sign(IDENTITY_SECRET, {"id": "grace-web", "name": "Grace Hopper", "email": "grace@example.com",
                                      "issued_at": int(time.time())})

    async def queued() -> handoff_client.Customer:
        customer = await handoff_client.Customer.connect(address, identity=identity)
        await customer.acknowledged(await customer.talk_to_person())
        return customer

    customer = background_loop.run(queued())
    context = new_context(browser, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors = watch_for_errors(page)
    try:
        log_in(page, archive_site, "ann")
        card = page.locator("li.queue-item").filter(has_text="Grace Hopper")
        expect(card.locator(".queue-customer")).to_have_text("Grace Hopper ✓ Verified")  # as the site signed her
        card.get_by_role("button", name=re.compile("^Claim chat")).click()
        expect(page.get_by_role("tab", name=re.compile("^Grace Hopper · "))).to_be_visible()
        past = page.locator('.contact-history-item[data-conversation="grace-last-year"]')
        expect(past.locator(".contact-history-outcome")).to_have_text("Resolved")
        past.click()
        opened = page.get_by_role("region", name="Conversation")
        expect(opened).to_contain_text("From the archive (read-only)")
        expect(opened.locator(".search-message-text")).to_have_text(["my statement is missing October"])
        assert errors == []
    finally:
        background_loop.run(customer.close())
        context.close()
