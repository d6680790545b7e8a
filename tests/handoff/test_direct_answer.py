"""The bot's answer goes to the socket that asked for it before the ack, and to every other socket of
the conversation once (issue 15), through real bridge processes, Redis and Rasa.

The asking socket's process writes the answer itself, then the ack; the same answer, announced
through Redis, reaches the conversation's other sockets (another tab on the same process, another
on a second process), and the asking socket, which has sent it already, skips that copy by its id.
"""

from __future__ import annotations

import asyncio
from typing import Dict, List

from handoff_client import Customer, Envelope, message_order
from harness.chats import LONG_CHAT

# Turns the bot answers itself (no handoff): the first ten of the long chat.
TURNS = LONG_CHAT[:10]
# Between turns: the bridge's rate limit (5 a second, bursts of 10) never refuses one.
PAUSE_SECONDS = 0.25


async def until_quiet(customer: Customer, quiet: float = 0.5) -> List[Envelope]:
    """Every envelope the socket gets until none comes for ``quiet`` seconds."""
    frames: List[Envelope] = []
    while True:
        try:
            frames.append(await customer.receive(timeout=quiet))
        except asyncio.TimeoutError:
            return frames


def message_ids(frames: List[Envelope]) -> List[str]:
    return [str(frame["id"]) for frame in frames if frame["type"] == "message"]


def test_the_answer_reaches_the_asking_socket_before_the_ack_and_every_other_socket_once(bridge, second_bridge):
    async def scenario() -> None:
        asking = await Customer.connect(bridge)
        resume = {"conversation_id": asking.conversation_id, "token": asking.token}
        other_tab = await Customer.connect(bridge, **resume)
        other_process = await Customer.connect(second_bridge, **resume)
        for customer in (asking, other_tab, other_process):
            await until_quiet(customer)  # the statuses after the hellos

        seen: List[Envelope] = []  # everything the asking socket got, in order
        acked: Dict[str, int] = {}  # the customer's message id -> where its ack is in ``seen``
        for text in TURNS:
            key = (await asking.say(text)).id
            while not (seen and seen[-1]["type"] == "ack" and seen[-1]["id"] == key):
                seen.append(await asking.receive(timeout=30))
            acked[seen[-1]["data"]["message_id"]] = len(seen) - 1
            await asyncio.sleep(PAUSE_SECONDS)
        seen += await until_quiet(asking)

        replay = await Customer.connect(second_bridge, **resume)  # the whole transcript, from a hello
        transcript = message_ids(await until_quiet(replay))
        assert len(transcript) >= 2 * len(TURNS), transcript
        assert message_ids(seen) == transcript, "the asking socket: every message once, in order"
        assert message_ids(await until_quiet(other_tab)) == transcript, "another tab of the same process"
        assert message_ids(await until_quiet(other_process)) == transcript, "another process's socket"

        said = sorted(acked, key=message_order)
        for turn, message_id in enumerate(said):
            following = said[turn + 1] if turn + 1 < len(said) else None
            answer = [index for index, frame in enumerate(seen) if frame["type"] == "message"
                      and frame["data"]["kind"] == "bot" and message_order(str(frame["id"])) > message_order(message_id)
                      and (following is None or message_order(str(frame["id"])) < message_order(following))]
            assert answer, f"turn {turn} ({TURNS[turn]!r}) was answered"
            assert max(answer) < acked[message_id], f"turn {turn}: the answer before the ack, {seen}"
        for customer in (asking, other_tab, other_process, replay):
            await customer.close()

    asyncio.run(scenario())
