"""Nothing to flood (docs/security.md "Limits"): what a client may make the bridge keep, through
real bridge processes and Redis."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any, Dict, Optional

import redis as redis_sync
import requests
import websockets

from handoff_client import Customer
from harness.clients import queued_customer, staff
from harness.servers import REDIS_MEMORY, add_agent, admin_address, running_bridge, started_bridge

RETENTION_SECONDS = 7 * 24 * 3600


async def connect(address: str, forwarded_for: Optional[str] = None) -> Any:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return await websockets.connect(f"ws://{address}/ws/customer", extra_headers=headers)


async def hello(ws: Any, **data: Any) -> Dict[str, Any]:
    """The reply to a hello: a welcome or an error."""
    await ws.send(json.dumps({"type": "hello", "id": "hi", "data": data}))
    while True:
        reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if reply["type"] in ("welcome", "error"):
            return reply


def test_hello_alone_keeps_a_conversation_minutes_not_days(bridge, redis_url, bridge_prefix):
    client = redis_sync.Redis.from_url(redis_url)

    async def scenario() -> None:
        customer = await Customer.connect(bridge)
        key = f"{bridge_prefix}:conv:{customer.conversation_id}"
        assert 0 < client.ttl(key) <= 300  # never used: gone within minutes
        await customer.close()
        again = await Customer.connect(bridge, conversation_id=customer.conversation_id, token=customer.token)
        assert again.conversation_id == customer.conversation_id  # the widget's resume still works
        await again.say("hello")
        await again.expect("message", kind="bot")
        assert client.ttl(key) > RETENTION_SECONDS - 60  # used: kept for the retention
        await again.close()

    try:
        asyncio.run(scenario())
    finally:
        client.close()


def test_a_transcript_has_a_length_cap(redis_url, rasa_url):
    """The customer's messages and the agents' notes each have the cap; a note resent after it gets its ack."""
    prefix = f"hbcap{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "sue", "--roles", "agent,supervisor")
    with running_bridge(redis_url, rasa_url, "bridge-transcript", prefix,
                        HANDOFF_MAX_TRANSCRIPT_MESSAGES="4") as address:
        async def scenario() -> None:
            customer = await Customer.connect(address)
            refused = None
            for number in range(6):
                key = (await customer.say(f"hello {number}")).id
                reply = await customer.next_matching(
                    lambda envelope: envelope["type"] in ("ack", "error") and envelope["id"] == key, "reply", 30)
                if reply["type"] == "error":
                    refused = reply
                    break
            assert refused is not None and refused["data"]["code"] == "transcript_full"
            sue = await staff(address, "sue")  # a supervisor notes any conversation
            cid = customer.conversation_id
            acks = []
            for number in range(5):
                await sue.send("note", {"conversation_id": cid, "text": f"note {number}"}, id=f"n{number}")
                acks.append(await sue.next_matching(lambda e: e["type"] in ("ack", "error") and e["id"] == f"n{number}",
                                                    "the note's reply", 15))
            assert [ack["type"] for ack in acks] == ["ack"] * 4 + ["error"], "notes take nothing from the customer's"
            assert acks[-1]["data"]["code"] == "transcript_full"
            await sue.send("note", {"conversation_id": cid, "text": "note 0"}, id="n0")
            again = await sue.next_matching(lambda e: e["type"] in ("ack", "error") and e["id"] == "n0", "the resend", 15)
            assert again["type"] == "ack" and again["data"]["message_id"] == acks[0]["data"]["message_id"]
            for each in (customer, sue):
                await each.close()

        asyncio.run(scenario())
        client = redis_sync.Redis.from_url(redis_url)
        try:
            lengths = [client.xlen(key) for key in client.scan_iter(f"{prefix}:log:*")]
        finally:
            client.close()
        assert lengths and max(lengths) < 4 + 4 + 4  # no message past the caps (the bot answers the last), 4 notes


def test_caps_per_address_hold_across_processes_and_only_trusted_proxies_name_the_client(redis_url, rasa_url):
    prefix = f"hbcaps{uuid.uuid4().hex[:6]}"
    caps = {"HANDOFF_TRUSTED_PROXIES": "127.0.0.1/32", "HANDOFF_MAX_NEW_CONVERSATIONS_PER_IP": "3",
            "HANDOFF_MAX_QUEUE_ENTRIES_PER_IP": "1", "HANDOFF_MAX_CONNECTIONS_PER_IP": "4"}
    with running_bridge(redis_url, rasa_url, "bridge-caps-a", prefix, **caps) as first, \
            running_bridge(redis_url, rasa_url, "bridge-caps-b", prefix, **caps) as second, \
            running_bridge(redis_url, rasa_url, "bridge-caps-untrusting", prefix,
                           **{**caps, "HANDOFF_TRUSTED_PROXIES": ""}) as untrusting:
        async def scenario() -> None:
            mallory = "203.0.113.7"
            sockets = [await connect(first, mallory), await connect(first, mallory), await connect(second, mallory)]
            for ws in sockets:
                assert (await hello(ws))["type"] == "welcome"
            fourth = await connect(second, mallory)
            refused = await hello(fourth)  # the fourth conversation, in another process
            assert refused["type"] == "error" and refused["data"]["code"] == "too_many_conversations"
            fifth = await connect(first, mallory)  # five sockets open from one address: one too many
            assert json.loads(await asyncio.wait_for(fifth.recv(), 10))["data"]["code"] == "too_many_connections"
            # Another address behind the same proxy is not held back by mallory ...
            alice = await connect(second, "198.51.100.20")
            assert (await hello(alice))["type"] == "welcome"
            # ... nor is a client who names mallory's address to a bridge that trusts no proxy.
            direct = await connect(untrusting, mallory)
            assert (await hello(direct))["type"] == "welcome"
            # One queue entry per address (per window): the second is refused before the bot is asked.
            for ws, expected in ((sockets[0], "ack"), (sockets[1], "error")):
                await ws.send(json.dumps({"type": "talk_to_person", "id": "person", "data": {}}))
                while (reply := json.loads(await asyncio.wait_for(ws.recv(), 30)))["id"] != "person":
                    pass
                assert reply["type"] == expected, reply
            assert reply["data"]["code"] == "queue_full"
            for ws in (*sockets, fourth, fifth, alice, direct):
                await ws.close()

        asyncio.run(scenario())


def test_a_queued_customer_gone_too_long_leaves_the_queue_counted_and_told(redis_url, rasa_url):
    prefix = f"hbgone{uuid.uuid4().hex[:6]}"
    with running_bridge(redis_url, rasa_url, "bridge-gone", prefix, HANDOFF_CUSTOMER_GONE_SECONDS="3") as address:
        client = redis_sync.Redis.from_url(redis_url)

        async def scenario() -> None:
            staying, leaving = await Customer.connect(address), await Customer.connect(address)
            for customer in (staying, leaving):
                await customer.send("talk_to_person")
                await customer.expect("status", state="queued")
            await leaving.close()
            deadline = time.monotonic() + 30
            while client.zscore(f"{prefix}:queue", leaving.conversation_id) is not None:
                assert time.monotonic() < deadline, "the customer who left is still queued"
                await asyncio.sleep(0.5)
            await asyncio.sleep(4)  # the one still connected is past the time to be gone too
            assert client.zscore(f"{prefix}:queue", staying.conversation_id) is not None
            back = await Customer.connect(address, conversation_id=leaving.conversation_id, token=leaving.token)
            status = await back.expect("status")
            assert status["data"]["state"] == "bot" and status["data"]["left_queue"] == "gone"
            await back.expect("message", kind="system", data={"notice": "left_queue"})
            for customer in (staying, back):
                await customer.close()

        try:
            asyncio.run(scenario())
            days = [key for key in client.scan_iter(f"{prefix}:day:*")]
            assert days and int(client.hget(days[0], "abandoned:gone") or 0) == 1
            metrics = requests.get(f"http://{admin_address(address)}/metrics", timeout=5).text
            assert 'handoff_abandoned_total{way="gone"} 1.0' in metrics
        finally:
            client.close()


def test_redis_runs_with_a_memory_limit_shown_in_the_metrics(bridge):
    limit = REDIS_MEMORY[REDIS_MEMORY.index("--maxmemory") + 1]
    assert REDIS_MEMORY[REDIS_MEMORY.index("--maxmemory-policy") + 1] == "noeviction"
    metrics = requests.get(f"http://{admin_address(bridge)}/metrics", timeout=5).text
    gauges = dict(line.split(" ", 1) for line in metrics.splitlines() if line.startswith("handoff_redis_"))
    assert float(gauges["handoff_redis_max_memory_bytes"]) == int(limit.removesuffix("mb")) * 1024 * 1024
    assert 0 < float(gauges["handoff_redis_used_memory_bytes"]) < float(gauges["handoff_redis_max_memory_bytes"])


def test_redis_near_its_memory_limit_is_warned_of_in_the_log(redis_url, rasa_url):
    with started_bridge(redis_url, rasa_url, "bridge-memory", f"hbmem{uuid.uuid4().hex[:6]}",
                        HANDOFF_REDIS_MEMORY_WARNING="0.000001", HANDOFF_CUSTOMER_GONE_SECONDS="3") as server:
        assert server.log is not None
        deadline = time.monotonic() + 30
        while "(maxmemory): over" not in server.log.read_text():
            assert time.monotonic() < deadline, "no warning about Redis memory in the bridge's log"
            time.sleep(0.5)


def test_the_action_server_refuses_an_oversized_tracker_quickly(action_server_url):
    started = time.monotonic()
    reply = requests.post(action_server_url, data=b"{" + b" " * (10 * 1024 * 1024) + b"}",
                          headers={"Content-Type": "application/json"}, timeout=30)
    # Sanic refuses the body at SANIC_REQUEST_MAX_SIZE; rasa_sdk's catch-all handler reports it as a 500.
    assert reply.status_code in (413, 500) and "exceeds the size limit" in reply.text
    assert time.monotonic() - started < 5


def test_agents_get_the_queue_s_changes_not_the_whole_queue_at_every_change(bridge):
    async def scenario() -> None:
        bob = await staff(bridge, "bob")
        await bob.expect("queue")  # the whole queue once, on connect
        customer = await queued_customer(bridge)
        mine = customer.conversation_id
        added = await bob.next_matching(lambda envelope: envelope["type"] == "queue_changed" and any(
            item["conversation_id"] == mine for item in envelope["data"]["added"]), "the customer added", 30)
        assert [item["conversation_id"] for item in added["data"]["added"]] == [mine]
        await bob.send("claim", {"conversation_id": mine}, id="claim")
        await bob.acknowledged("claim")
        await bob.next_matching(lambda envelope: envelope["type"] == "queue_changed"
                                and mine in envelope["data"]["removed"], "the customer removed", 30)
        assert not [envelope for envelope in bob.received if envelope["type"] == "queue"]
        await bob.send("close", {"conversation_id": mine}, id="close")
        await bob.acknowledged("close")
        for client in (customer, bob):
            await client.close()

    asyncio.run(scenario())


def test_a_burst_beyond_the_redis_pool_waits_for_a_connection_instead_of_failing(redis_url, rasa_url):
    """redis-py's asyncio pool refuses the 101st concurrent command by default; the bridge's pool
    makes a burst wait for a free connection (HANDOFF_REDIS_CONNECTIONS, HANDOFF_REDIS_WAIT)."""
    prefix = f"hbpool{uuid.uuid4().hex[:6]}"
    with running_bridge(redis_url, rasa_url, "bridge-pool", prefix, HANDOFF_REDIS_CONNECTIONS="4",
                        HANDOFF_MAX_CONNECTIONS_PER_IP="1000", HANDOFF_MAX_NEW_CONVERSATIONS_PER_IP="1000") as address:
        async def one() -> Dict[str, Any]:
            ws = await connect(address)
            try:
                return await hello(ws)
            finally:
                await ws.close()

        async def burst() -> None:
            replies = await asyncio.gather(*(one() for _ in range(60)))
            assert [reply["type"] for reply in replies] == ["welcome"] * 60

        asyncio.run(burst())
