"""Drill: attackers try to make the service keep more than its caps while everyone else chats.

Behind a trusted proxy (the drill's clients come from 127.0.0.1, named the
proxy in HANDOFF_TRUSTED_PROXIES; attackers name their address in
X-Forwarded-For, as the proxy would):

- hello spam: one address starts conversations as fast as it can; it gets
  HANDOFF_MAX_NEW_CONVERSATIONS_PER_IP of them, each kept minutes, not days,
  and ``too_many_conversations`` for the rest;
- queue flooding from many addresses: hello + talk_to_person + disconnect; the
  queue never grows past HANDOFF_MAX_QUEUE_LENGTH (``queue_full`` for the
  rest), and the flooders, gone, leave it within HANDOFF_CUSTOMER_GONE_SECONDS;
- oversized trackers (10 MB) posted to the action server that real turns use:
  refused at its body limit, quickly;
- login guessing from one address: after HANDOFF_LOGIN_FREE_PER_ADDRESS
  failures every further guess is held back (``too_many_attempts``) without a
  password check, while an agent logging in from another address gets in.

Real customers (with the bot, queued, with agents) and agents chat meanwhile:
nothing they sent is lost or duplicated, every queue place is kept, the bot
answers; their relay latency before and during is in the report's note.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from typing import Any, Dict, List, Tuple

import requests
import websockets
from redis.asyncio import Redis

from harness.servers import AGENT_PASSWORD, BridgeServer, started_bridge
from tests.drills.crowd import Crowd, add_agents
from tests.drills.ledger import places_lost, queue_order
from tests.drills.report import DrillReport
from tests.drills.test_flood import relay_summary

AGENTS = ("ann", "bob", "cy")
CONVERSATIONS_PER_ADDRESS = 40
QUEUE_LENGTH = 30
GONE_SECONDS = 5
CAPS = {"HANDOFF_TRUSTED_PROXIES": "127.0.0.1", "HANDOFF_MAX_NEW_CONVERSATIONS_PER_IP": str(CONVERSATIONS_PER_ADDRESS),
        "HANDOFF_MAX_QUEUE_ENTRIES_PER_IP": "20", "HANDOFF_MAX_CONNECTIONS_PER_IP": "40",
        "HANDOFF_MAX_QUEUE_LENGTH": str(QUEUE_LENGTH), "HANDOFF_CUSTOMER_GONE_SECONDS": str(GONE_SECONDS),
        "HANDOFF_LOGIN_FREE_PER_ADDRESS": "10"}
FREE_GUESSES = 10
GUESSES = 60
SPAM_HELLOS = 120
FLOOD_ADDRESSES = 25
FLOODS_PER_ADDRESS = 2
TRACKERS = 4
TRACKER_BYTES = 10 * 1024 * 1024


async def _reply(ws: Any, request_id: str) -> Dict[str, Any]:
    while True:
        envelope = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if (envelope["type"] == "error" and envelope["id"] in (request_id, None)) or (
                envelope["type"] in ("welcome", "ack") and envelope["id"] == request_id):
            return envelope


async def _as(address: str, client: str) -> Any:
    return await websockets.connect(f"ws://{address}/ws/customer", extra_headers={"X-Forwarded-For": client})


async def _hello(ws: Any) -> Dict[str, Any]:
    await ws.send(json.dumps({"type": "hello", "id": "hi", "data": {}}))
    return await _reply(ws, "hi")


async def hello_spam(address: str) -> Tuple[List[str], Dict[str, int]]:
    """One address, one conversation per socket, as fast as the bridge answers."""
    started: List[str] = []
    refused: Dict[str, int] = {}
    for _ in range(SPAM_HELLOS):
        ws = await _as(address, "203.0.113.66")
        reply = await _hello(ws)
        if reply["type"] == "welcome":
            started.append(reply["data"]["conversation_id"])
        else:
            refused[reply["data"]["code"]] = refused.get(reply["data"]["code"], 0) + 1
        await ws.close()
    return started, refused


async def queue_flood(address: str, redis: Redis, prefix: str) -> Tuple[int, Dict[str, int], int]:
    """Many addresses: hello, talk to a person, go. Returns the queued, the refusals, and the longest queue seen."""
    queued, refused, longest = 0, {}, 0

    async def one(client: str) -> None:
        nonlocal queued, longest
        ws = await _as(address, client)
        try:
            if (await _hello(ws))["type"] != "welcome":
                return
            await ws.send(json.dumps({"type": "talk_to_person", "id": "person", "data": {}}))
            reply = await _reply(ws, "person")
            if reply["type"] == "ack":
                queued += 1
            else:
                refused[reply["data"]["code"]] = refused.get(reply["data"]["code"], 0) + 1
            longest = max(longest, await redis.zcard(f"{prefix}:queue"))
        finally:
            await ws.close()

    for round_ in range(FLOODS_PER_ADDRESS):
        await asyncio.gather(*(one(f"198.18.{round_}.{n}") for n in range(FLOOD_ADDRESSES)))
    return queued, refused, longest


def oversized_trackers(action_server_url: str) -> List[Tuple[int, float, bool]]:
    """(status, seconds, refused for its size) of each 10 MB tracker posted."""
    body = b'{"next_action": "action_handoff", "tracker": {"events": ["' + b"x" * TRACKER_BYTES + b'"]}}'
    results = []
    for _ in range(TRACKERS):
        started = time.monotonic()
        reply = requests.post(action_server_url, data=body, headers={"Content-Type": "application/json"}, timeout=60)
        results.append((reply.status_code, time.monotonic() - started, "exceeds the size limit" in reply.text))
    return results


def _login(address: str, client: str, name: str, password: str) -> requests.Response:
    return requests.post(f"http://{address}/api/agents/login", json={"name": name, "password": password},
                         headers={"X-Forwarded-For": client}, timeout=30)


def login_guessing(address: str) -> Tuple[Dict[int, int], int, float]:
    """Guesses at many accounts from one address: the answers by status, then an agent's own login from
    another address (its status), and how long the guesses took (s)."""
    answers: Dict[int, int] = {}
    started = time.monotonic()
    for number in range(GUESSES):
        status = _login(address, "203.0.113.66", f"guess{number}", "hunter2").status_code
        answers[status] = answers.get(status, 0) + 1
    took = time.monotonic() - started
    return answers, _login(address, "198.51.100.99", AGENTS[1], AGENT_PASSWORD).status_code, took


async def abuse_drill(redis_url: str, prefix: str, bridge: BridgeServer, action_server_url: str,
                      drill_report: DrillReport) -> None:
    address = bridge.address
    redis = Redis.from_url(redis_url)
    crowd = Crowd([address], AGENTS, bot=4, waiting=3, served=6, pace=0.5)
    try:
        await crowd.start(redis, prefix)
        crowd.start_traffic()
        calm_from = time.monotonic()
        await asyncio.sleep(4)
        attack_from = time.monotonic()
        trackers = asyncio.get_running_loop().run_in_executor(None, oversized_trackers, action_server_url)
        guessing = asyncio.get_running_loop().run_in_executor(None, login_guessing, address)
        (started, spam_refused), (queued, flood_refused, longest) = await asyncio.gather(
            hello_spam(address), queue_flood(address, redis, prefix))
        tracker_results = await trackers
        guesses, own_login, guessing_seconds = await guessing
        attack_to = time.monotonic()
        ttls = [await redis.pttl(f"{prefix}:conv:{conversation}") for conversation in started]
        deadline = time.monotonic() + GONE_SECONDS + 20  # the flooders are gone: they leave the queue
        waiting = [customer.conversation_id for customer in crowd.waiting]
        while (left := await queue_order(redis, prefix)) != waiting and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        queued_after = await queue_order(redis, prefix)
        tally = await crowd.account(redis, prefix)

        before = crowd.ledger.relay_ms(calm_from + 1, attack_from)
        during = crowd.ledger.relay_ms(attack_from, attack_to)
        slowest_tracker = max(seconds for _, seconds, _ in tracker_results)
        result = tally.result(
            "abuse: hello spam, queue flood via a proxy, 10 MB trackers, login guessing",
            places_lost(crowd.queued_before, queued_after),
            None,
            f"hello spam: {len(started)} of {SPAM_HELLOS} started, refused {spam_refused}; queue flood from "
            f"{FLOOD_ADDRESSES * FLOODS_PER_ADDRESS} addresses: {queued} queued, refused {flood_refused}, queue at most "
            f"{longest} (cap {QUEUE_LENGTH}), flooders gone from it after {GONE_SECONDS} s; {TRACKERS} trackers of "
            f"10 MB refused in at most {slowest_tracker:.2f} s; others' relay before {relay_summary(before)}, "
            f"during {relay_summary(during)}; login guessing: {GUESSES} guesses, {guesses.get(401, 0)} checked, "
            f"{guesses.get(429, 0)} held back, an agent's own login from elsewhere {own_login}")
        drill_report.add(result)

        crowd.check(tally, result, attack_to)
        assert len(started) == CONVERSATIONS_PER_ADDRESS and spam_refused == {
            "too_many_conversations": SPAM_HELLOS - CONVERSATIONS_PER_ADDRESS}, (len(started), spam_refused)
        assert all(0 < ttl <= 300_000 for ttl in ttls), "never-used conversations are kept minutes, not days"
        assert longest <= QUEUE_LENGTH and set(flood_refused) == {"queue_full"}, (longest, flood_refused)
        assert queued + len(crowd.waiting) >= QUEUE_LENGTH - 1, "the flood was held at the cap, not below it"
        assert left == waiting, f"the flooders left the queue once gone: {left}"
        assert all(refused_for_size and seconds < 5 for _, seconds, refused_for_size in tracker_results), tracker_results
        # After the free failures each one holds the next attempt back 1, 2, 4 … s: a guess that comes after
        # a hold has run out is checked again, so a slow machine (guesses seconds apart) sees one more check for
        # each doubling of the time the guessing took.
        expired_holds = math.ceil(math.log2(guessing_seconds + 1))
        assert guesses.get(401, 0) <= FREE_GUESSES + 1 + expired_holds and set(guesses) <= {401, 429}, \
            (guesses, guessing_seconds)
        assert guesses.get(429, 0) >= GUESSES - FREE_GUESSES - 1 - expired_holds, "the guesser was held back"
        assert own_login == 200, "an agent elsewhere is not held back for the guesser"
        assert not any(client.errors for client in crowd.clients), [dict(c.errors) for c in crowd.clients]
        assert not any(send.errors for send in crowd.ledger.sends.values()), "nobody real got an error"
        assert during, "the others kept chatting during the attack"
    finally:
        await crowd.close()
        await redis.close()


def test_attackers_are_held_at_the_caps_and_nobody_else_notices(redis_url, rasa_url, action_server_url, drill_prefix,
                                                               drill_report):
    add_agents(redis_url, drill_prefix, AGENTS)
    with started_bridge(redis_url, rasa_url, "drill-abuse", drill_prefix, **CAPS) as bridge:
        asyncio.run(abuse_drill(redis_url, drill_prefix, bridge, action_server_url, drill_report))
