"""What the console and the widget rely on: roles, the live dashboard, canned
responses, the team list, button payloads, the rating status, and the pages."""

from __future__ import annotations

import asyncio
import subprocess
import time

import redis as redis_sync
import requests
import websockets

from handoff_client import Customer
from harness.clients import claimed, dashboard_until, login, queued_customer, staff
from harness.servers import AGENT_PASSWORD, ROOT, bridge_command, bridge_env


def test_login_tells_the_console_the_accounts_roles(bridge):
    assert login(bridge, "ann").json()["roles"] == ["agent"]
    assert login(bridge, "sam").json()["roles"] == ["supervisor"]


def test_each_socket_needs_its_role(bridge):
    async def refused(agent: str, endpoint: str) -> dict:
        client = await staff(bridge, agent, endpoint)
        error = await client.expect("error")
        await asyncio.wait_for(client.ws.wait_closed(), 5)
        return error["data"]

    async def scenario() -> None:
        assert (await refused("ann", "supervisor"))["code"] == "forbidden"
        assert (await refused("sam", "agent"))["code"] == "forbidden"

    asyncio.run(scenario())


def test_unknown_roles_are_refused_by_the_command_line(redis_url, bridge_prefix):
    result = subprocess.run(
        bridge_command("-m", "handoff.auth", "add", "zed", "--roles", "agent,boss"), cwd=ROOT,
        env=bridge_env({"REDIS_URL": redis_url, "HANDOFF_KEY_PREFIX": bridge_prefix,
                        "HANDOFF_AGENT_PASSWORD": AGENT_PASSWORD}),
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert "roles are one or more of: agent, supervisor, content" in result.stderr


def test_the_dashboard_follows_a_conversation_live(bridge):
    async def scenario() -> None:
        supervisor = await staff(bridge, "sam", "supervisor")
        before = (await supervisor.expect("dashboard"))["data"]

        async def next_dashboard(changed) -> dict:
            while True:
                data = (await supervisor.expect("dashboard", timeout=10))["data"]
                if changed(data):
                    return data

        customer = await Customer.connect(bridge)
        await customer.say("how do I top up my account")
        await customer.expect("message", kind="bot")
        data = await next_dashboard(lambda d: d["conversations"] == before["conversations"] + 1)
        assert data["contained"] == before["contained"] + 1

        await customer.send("talk_to_person", id="person")
        await customer.expect("ack")
        data = await next_dashboard(lambda d: d["handoffs"] == before["handoffs"] + 1)
        assert data["handoffs_by_reason"]["requested"] == before["handoffs_by_reason"].get("requested", 0) + 1
        assert data["contained"] == before["contained"], "a handed-over conversation is not contained"
        assert data["conversations"] == before["conversations"] + 1, "counted once"
        assert data["now"]["queue_length"] >= 1

        agent = await staff(bridge, "ann")
        await agent.send("claim", {"conversation_id": customer.conversation_id}, id="claim")
        await agent.expect("ack", conversation_id=customer.conversation_id)
        data = await next_dashboard(lambda d: d["wait"]["count"] == before["wait"]["count"] + 1)
        assert data["wait"]["median_seconds"] is not None

        await agent.send("close", {"conversation_id": customer.conversation_id}, id="close")
        await customer.expect("status", state="closed", rated=False)
        await customer.send("rating", {"score": 5}, id="rate")
        await customer.expect("ack")
        await customer.expect("status", state="closed", rated=True)
        data = await next_dashboard(lambda d: d["csat"]["count"] == before["csat"]["count"] + 1)
        assert data["csat"]["distribution"]["5"] == before["csat"]["distribution"]["5"] + 1
        assert len(data["hourly"]) == 24
        assert sum(hour["conversations"] for hour in data["hourly"]) == data["conversations"]

        await supervisor.send("dashboard", id="now")
        assert (await supervisor.expect("dashboard"))["id"] == "now"
        for client in (supervisor, customer, agent):
            await client.close()

    asyncio.run(scenario())


def test_a_button_sends_its_payload_to_the_bot_and_its_title_to_people(bridge):
    async def scenario() -> None:
        customer = await Customer.connect(bridge)
        # Only a button the bot offered in its latest turn: none yet, and never a bare intent.
        for number, payload in enumerate(["/request_human", "/restart", "/session_start", "THIS IS RIDICULOUS"]):
            await customer.send("message", {"text": "Yes", "payload": payload}, id=f"bad{number}")
            refused = await customer.next_matching(lambda e: e.get("id") == f"bad{number}", "the reply", 15)
            assert refused["type"] == "error" and refused["data"]["code"] == "unknown_button", refused
            await asyncio.sleep(0.3)  # within the frames-per-second limit
        assert customer.messages("customer") == []
        await customer.say("zxqv blorf wibble")  # not understood: the bot offers "Talk to a person"
        offered = await customer.next_matching(
            lambda e: e["type"] == "message" and e["data"]["data"].get("buttons"), "a bot message with buttons", 30)
        assert {"title": "Talk to a person", "payload": "/request_human"} in offered["data"]["data"]["buttons"]
        await customer.send("message", {"text": "Yes", "payload": "/affirm"}, id="not-offered")
        refused = await customer.next_matching(lambda e: e.get("id") == "not-offered", "the reply", 15)
        assert refused["data"]["code"] == "unknown_button", refused
        await customer.say("Yes", payload="/request_human")  # "Yes" alone would never queue anyone
        stored = await customer.next_matching(
            lambda e: e["type"] == "message" and e["data"]["kind"] == "customer" and e["data"]["text"] == "Yes",
            "the pressed button", 15)
        assert stored["data"]["text"] == "Yes" and stored["data"]["data"] == {"payload": "/request_human"}
        await customer.expect("status", state="queued")

        await customer.send("message", {"text": "x", "payload": "/" + "a" * 300}, id="long")
        assert (await customer.expect("error"))["data"]["code"] == "malformed"
        await customer.close()

    asyncio.run(scenario())


def test_agents_get_canned_responses_and_their_team(bridge):
    async def scenario() -> None:
        agent = await staff(bridge, "ann")
        canned = await agent.expect("canned")
        assert any(item["shortcut"] == "hi" and "{agent}" in item["text"] for item in canned["data"]["items"])
        await agent.send("team", id="team")
        team = (await agent.expect("team"))["data"]
        assert team["agents"], "the team lists the agents"
        ann = next(member for member in team["agents"] if member["name"] == "ann")
        assert ann["online"] is True and ann["max_chats"] == 3
        assert "sam" not in [member["name"] for member in team["agents"]], "supervisors who are not agents take no chats"
        assert {"cards", "general"} <= set(team["groups"])
        await agent.close()

    asyncio.run(scenario())


def test_the_status_of_a_closed_chat_says_whether_it_was_rated(bridge):
    async def scenario() -> None:
        customer, agent = await claimed(bridge)
        await agent.send("close", {"conversation_id": customer.conversation_id}, id="close")
        await customer.expect("status", state="closed", rated=False)
        await customer.close()
        again = await Customer.connect(bridge, conversation_id=customer.conversation_id, token=customer.token)
        assert (await again.expect("status"))["data"] == {"state": "closed", "rated": False}
        await again.close()
        await agent.close()

    asyncio.run(scenario())


def test_echoes_carry_the_senders_id(bridge):
    async def scenario() -> None:
        customer, agent = await claimed(bridge)
        key = (await customer.say("hello there")).id
        echo = await customer.expect("message", kind="customer", text="hello there")
        assert echo["data"]["client_id"] == key
        agent_key = (await agent.say("hi, I'm Ann", conversation_id=customer.conversation_id)).id
        assert (await agent.expect("message", kind="agent"))["data"]["client_id"] == agent_key
        system = await customer.expect("message", kind="agent")
        assert system["data"]["client_id"] == agent_key
        await agent.send("close", {"conversation_id": customer.conversation_id}, id="close")
        await customer.close()
        await agent.close()

    asyncio.run(scenario())


def test_waiting_customers_learn_at_once_when_an_agent_comes_online(bridge):
    async def scenario() -> None:
        customer = await Customer.connect(bridge)
        await customer.send("talk_to_person", id="talk")
        # Other tests' agents may still be online for a moment: wait for "nobody", then for "someone".
        while (await customer.expect("status", state="queued"))["data"]["agents_available"]:
            pass
        agent = await staff(bridge, "bob")
        status = await customer.expect("status", state="queued", agents_available=True, timeout=5)
        assert status["data"]["wait_basis"] in ("queue", "thin_data")
        await agent.close()
        await customer.expect("status", state="queued", agents_available=False, timeout=5)
        await customer.close()

    asyncio.run(scenario())


def test_pages_served_by_the_bridge_may_open_websockets_whatever_its_public_address(bridge):
    async def scenario() -> None:
        # As behind a TLS proxy: the page is https:// on a configured host name (HANDOFF_ALLOWED_HOSTS).
        public = bridge.replace("127.0.0.1", "localhost")
        async with websockets.connect(f"ws://{public}/ws/customer", origin=f"https://{public}") as ws:
            await ws.send('{"type": "hello", "data": {}}')
            assert '"welcome"' in await ws.recv()
        async with websockets.connect(f"ws://{public}/ws/customer", origin="https://evil.example.net") as ws:
            assert '"forbidden_origin"' in await ws.recv()

    asyncio.run(scenario())


def test_the_browser_files_are_served_with_the_right_headers(bridge):
    module = requests.get(f"http://{bridge}/widget/shared/transport.js", timeout=10)
    assert module.status_code == 200
    assert "javascript" in module.headers["content-type"]
    assert module.headers["access-control-allow-origin"] == "*", "host pages on other origins load the widget"
    assert module.headers["x-content-type-options"] == "nosniff"

    console = requests.get(f"http://{bridge}/console", timeout=10)
    assert console.status_code == 200 and "text/html" in console.headers["content-type"]
    assert "script-src 'self'" in console.headers["content-security-policy"]
    assert console.headers["x-frame-options"] == "DENY"

    demo = requests.get(f"http://{bridge}/", timeout=10)
    assert demo.status_code == 200 and "/widget/chat.js" in demo.text

    assert requests.get(f"http://{bridge}/widget/../handoff/settings.py", timeout=10).status_code in (400, 404)
    assert requests.get(f"http://{bridge}/widget/nothing-here.js", timeout=10).status_code == 404


def test_a_resent_claim_by_the_agent_who_has_it_is_acknowledged_again(bridge):
    async def scenario() -> None:
        customer, agent = await claimed(bridge)
        await agent.send("claim", {"conversation_id": customer.conversation_id}, id="claim")
        assert (await agent.expect("ack", conversation_id=customer.conversation_id))["id"] == "claim"
        await agent.send("close", {"conversation_id": customer.conversation_id}, id="close")
        await agent.expect("ack", conversation_id=customer.conversation_id)
        await asyncio.sleep(0.3)
        await agent.send("queue", id="flush")
        # The reply to this request (not an earlier queue push): everything sent before it has been read.
        await agent.next_matching(lambda e: e["type"] == "queue" and e["id"] == "flush", "the flush's reply", 30.0)
        released = [e["type"] for e in agent.received if e["type"] == "released"]
        assert released == ["released"], f"released once, though both the close and the state change say so: {released}"
        await customer.close()
        await agent.close()

    asyncio.run(scenario())


def test_a_close_finishes_even_when_the_agent_disconnects_at_once(bridge):
    async def scenario() -> None:
        for _ in range(4):
            customer, agent = await claimed(bridge)
            await agent.send("close", {"conversation_id": customer.conversation_id}, id="close")
            await agent.expect("released")
            await agent.ws.close()  # gone while the bridge is still carrying the close out
            await customer.expect("message", kind="system", text="How did we do? Please rate this chat from 1 to 5.")
            await customer.close()

    asyncio.run(scenario())


def test_the_dashboards_oldest_wait_counts_as_the_queue_card_does(bridge, redis_url, bridge_prefix):
    """A customer put back at the front of the queue keeps their wait: the card's waiting_seconds and the
    dashboard's oldest wait count from when they first queued in this handoff, not from their place."""
    async def scenario() -> None:
        customer = await queued_customer(bridge)
        five_minutes_ago = int(time.time() * 1000) - 5 * 60_000
        redis_sync.Redis.from_url(redis_url).hset(f"{bridge_prefix}:conv:{customer.conversation_id}",
                                                  "waiting_since", five_minutes_ago)
        sam = await staff(bridge, "sam", "supervisor")
        board = await dashboard_until(sam, lambda d: d["now"]["oldest_wait_seconds"] >= 300)
        ann = await staff(bridge, "ann")
        await ann.send("queue", id="q")
        card = next(item for item in (await ann.expect("queue"))["data"]["items"]
                    if item["conversation_id"] == customer.conversation_id)
        assert abs(card["waiting_seconds"] - board["now"]["oldest_wait_seconds"]) <= 2
        assert board["waiting"]["longest_seconds"] >= 300  # "waiting so far" counts the same way
        await customer.send("leave_queue", id="done")  # out of the queue for the tests after this one
        await customer.expect("status", state="bot")
        for each in (customer, sam, ann):
            await each.close()

    asyncio.run(scenario())
