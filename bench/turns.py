"""Bot answer latency against conversation length: is turn 200 as fast as turn 10?

    python -m bench.turns                          # 5 conversations of 216 turns per path
    python -m bench.turns --turns 30 --conversations 1    # a quick look (late turn: 25)

One customer talks to the bot for ``--turns`` turns, one message at a time
(each sent once the previous answer is in), straight to Rasa's REST channel
(``rest``) and through the bridge's customer websocket (``bridge``); the two
paths take turns, one conversation at a time, against one stack (Redis,
bridge, action server, Rasa with the shipped endpoints.yml: Redis tracker and
lock stores, the inbox event broker). This process is the customer; the
bridge and Rasa run in their own processes.

Every message of the script is parsed once before the conversations start,
so that each turn finds its text in the sentence encoder's cache (the
script's texts repeat; real customers' do not): early and late turns do the
same NLU work, and what grows is what the conversation's length costs.

The script is an ordinary long chat that must stay with the bot
(harness/chats.py, which the fault drills' bot customers play too): every fourth
message is a support question (each of the 25 FAQ topics twice, in two
wordings a hundred turns apart, plus greetings and "are you a bot?"), the
others are thanks and goodbyes, so no stuck trigger fires (docs/stuck-
detection.md: no_resolution needs 10 messages without thanks, bot_repeating a
third identical answer). A handoff would make the numbers meaningless, so the
run fails if one happens (a ``custom.handoff`` reply, or a bridge status other
than ``bot``).

Reported per path: p50/p99 of the answer latency over turns ``early ± window``
and ``late ± window`` (pooled over the conversations), the late/early p50
ratio (the issue's target: at most 1.2), and the p50 of every block of 25
turns. Through the bridge, latency is from sending the message to receiving
the bot's first answer. Results: a Markdown table and .run/bench/turns.json.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from typing import Any, Dict, List

import aiohttp

from bench.common import latency_summary, markdown_table, percentile, write_result
from bench.stack import running_stack
from bot.stuck.conversation import EARLIER_SLOT
from handoff.machine import handoff_in
from handoff_client import Customer
from harness.chats import LONG_CHAT
from harness.servers import RASA_API_TOKEN

__all__ = ["main"]

BLOCK = 25


class ConversationHandedOff(RuntimeError):
    """The bot gave up on the scripted chat: its latencies would not be the bot's."""


async def rest_conversation(rasa_url: str, turns: int) -> List[float]:
    """Milliseconds per turn, straight to Rasa's REST channel."""
    sender = f"turns-rest-{uuid.uuid4().hex[:8]}"
    latencies: List[float] = []
    async with aiohttp.ClientSession() as session:
        for number, text in enumerate(LONG_CHAT[:turns], start=1):
            started = time.perf_counter()
            async with session.post(f"{rasa_url}/webhooks/rest/webhook",
                                    json={"sender": sender, "message": text}) as response:
                response.raise_for_status()
                replies = await response.json()
            latencies.append((time.perf_counter() - started) * 1000)
            if not replies or handoff_in(tuple(replies)) is not None:
                raise ConversationHandedOff(f"REST turn {number} ({text!r}): {replies}")
    return latencies


async def bridge_conversation(address: str, turns: int) -> List[float]:
    """Milliseconds per turn from sending to the bot's first answer, through the customer websocket."""
    customer = await Customer.connect(address)
    latencies: List[float] = []
    try:
        for number, text in enumerate(LONG_CHAT[:turns], start=1):
            started = time.perf_counter()
            key = (await customer.say(text)).id
            answer = await customer.next_matching(
                lambda envelope: envelope["type"] == "message" and envelope["data"]["kind"] == "bot",
                "bot answer", timeout=30)
            latencies.append((time.perf_counter() - started) * 1000)
            await customer.acknowledged(key)  # every answer of this turn is in
            statuses = [envelope["data"]["state"] for envelope in customer.received if envelope["type"] == "status"]
            answers = [answer["data"]["data"], *(envelope["data"]["data"] for envelope in customer.messages("bot"))]
            if handoff_in(tuple(answers)) is not None or any(state != "bot" for state in statuses):
                raise ConversationHandedOff(f"bridge turn {number} ({text!r}): states {statuses}")
            customer.received.clear()
    finally:
        await customer.close()
    return latencies


def window(conversations: List[List[float]], turn: int, half_width: int) -> List[float]:
    """Latencies of turns turn-half_width .. turn+half_width (1-based) of every conversation."""
    return [latency for latencies in conversations
            for latency in latencies[max(0, turn - half_width - 1):turn + half_width]]


async def warm_up(rasa_url: str) -> bool:
    """Parses every message of the script once, so that all of them are in the sentence encoder's cache
    at every turn: turn 10 and turn 200 then do the same NLU work. Says whether the model's domain has
    the slot the tracker store needs to hand Rasa only the latest turns (bot/tracker_store.py)."""
    async with aiohttp.ClientSession() as session:
        for text in sorted(set(LONG_CHAT)):
            async with session.post(f"{rasa_url}/model/parse", params={"token": RASA_API_TOKEN},
                                    json={"text": text}) as response:
                response.raise_for_status()
        async with session.get(f"{rasa_url}/domain", params={"token": RASA_API_TOKEN},
                               headers={"Accept": "application/json"}) as response:
            response.raise_for_status()
            return EARLIER_SLOT in (await response.json()).get("slots", {})


async def measure(arguments: argparse.Namespace) -> Dict[str, List[List[float]]]:
    results: Dict[str, List[List[float]]] = {"rest": [], "bridge": []}
    # The bridge's per-customer rate limit (5/s) is for people; this customer types as fast as the bot answers.
    with running_stack(HANDOFF_MESSAGES_PER_SECOND="1000", HANDOFF_MESSAGE_BURST="1000") as stack:
        if not await warm_up(stack.rasa_url):
            print(f"warning: the model's domain has no slot {EARLIER_SLOT!r}: Rasa gets whole conversations "
                  "(retrain: make train)", flush=True)
        for number in range(1, arguments.conversations + 1):
            for path in arguments.paths:
                started = time.monotonic()
                if path == "rest":
                    latencies = await rest_conversation(stack.rasa_url, arguments.turns)
                else:
                    latencies = await bridge_conversation(stack.bridges[0].address, arguments.turns)
                results[path].append(latencies)
                print(f"{path} conversation {number}: {arguments.turns} turns in {time.monotonic() - started:.1f} s",
                      flush=True)
    return {path: conversations for path, conversations in results.items() if conversations}


def summarise(conversations: List[List[float]], arguments: argparse.Namespace) -> Dict[str, Any]:
    early = latency_summary(window(conversations, arguments.early, arguments.window))
    late = latency_summary(window(conversations, arguments.late, arguments.window))
    blocks = {f"{start}-{start + BLOCK - 1}": percentile(window(conversations, start + BLOCK // 2, BLOCK // 2), 0.5)
              for start in range(1, arguments.turns - BLOCK + 2, BLOCK)}
    return {"early": early, "late": late, "ratio_p50": late["p50_ms"] / early["p50_ms"], "p50_by_turns": blocks,
            "latencies_ms": conversations}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=len(LONG_CHAT), help=f"turns per conversation (at most {len(LONG_CHAT)})")
    parser.add_argument("--conversations", type=int, default=5, help="conversations per path, one after another")
    parser.add_argument("--early", type=int, default=10, help="the early turn compared")
    parser.add_argument("--late", type=int, help="the late turn compared (default 200, or the last a window allows)")
    parser.add_argument("--window", type=int, default=5, help="turns either side of early and late pooled")
    parser.add_argument("--paths", nargs="+", choices=["rest", "bridge"], default=["rest", "bridge"])
    arguments = parser.parse_args()
    if arguments.late is None:
        arguments.late = min(200, arguments.turns - arguments.window)
    if not arguments.window < arguments.early < arguments.late <= arguments.turns - arguments.window:
        parser.error("need window < early < late <= turns - window")
    if arguments.turns > len(LONG_CHAT):
        parser.error(f"the script has {len(LONG_CHAT)} turns")

    results = {path: summarise(conversations, arguments)
               for path, conversations in asyncio.run(measure(arguments)).items()}
    rows = [{"path": path, "early turns": f"{arguments.early}±{arguments.window}",
             "early p50 ms": result["early"]["p50_ms"], "early p99 ms": result["early"]["p99_ms"],
             "late turns": f"{arguments.late}±{arguments.window}",
             "late p50 ms": result["late"]["p50_ms"], "late p99 ms": result["late"]["p99_ms"],
             "late/early p50": result["ratio_p50"]} for path, result in results.items()]
    print(markdown_table(rows, list(rows[0])))
    print()
    blocks = list(next(iter(results.values()))["p50_by_turns"])
    curve = [{"path": path, **{f"turns {block}": result["p50_by_turns"][block] for block in blocks}}
             for path, result in results.items()]
    print("p50 ms by block of turns:\n")
    print(markdown_table(curve, ["path", *(f"turns {block}" for block in blocks)]))
    path = write_result("turns", {"turns": arguments.turns, "conversations": arguments.conversations,
                                  "early": arguments.early, "late": arguments.late, "window": arguments.window,
                                  "target_ratio": 1.2, "paths": results})
    print(f"\n{path}")


if __name__ == "__main__":
    main()
