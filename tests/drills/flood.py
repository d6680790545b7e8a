"""The flood drill's attacker, run as its own process so that its work does not slow
the drill's measuring clients: ``python -m tests.drills.flood HOST:PORT SECONDS``.

One customer connection first sends one frame of each bad kind, one at a time
and within its rate limit, and notes the answer to each: frames too large
(over HANDOFF_MAX_MESSAGE_BYTES; one of them 800 KB of nested lists), not
JSON, of the wrong types, of an unknown type, a message without an id. Then
it floods: all of those and typing signals, as fast as the socket takes them,
far beyond the rate limit. It waits until the bridge has worked through them
all, asks the bot something on the same socket as a normal customer would,
sends one frame over 1 MiB (the websocket library closes the socket),
reconnects, resumes and writes again. Prints "flooding" when the flood starts,
then what came back as JSON: the answer to each single frame, the error codes
by kind of frame during the flood (each frame's id starts with its kind;
frames without one are "without id"), how long the bridge took to work through
the flood, the answers to the two messages after it, the close code.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from collections import Counter, defaultdict
from typing import Any, Callable, DefaultDict, Dict, List

from handoff_client import Customer, Envelope

__all__ = ["FRAMES", "flood"]

OVER_ONE_MIB = "x" * ((1 << 20) + 100)
NESTED_LISTS = ",".join(["[0]"] * 200_000)  # 800 KB: refused unread, or it costs the event loop dearly

# kind -> a frame of that kind (its id, when it has one, starts with the kind)
FRAMES: Dict[str, Callable[[int], str]] = {
    "big": lambda n: json.dumps({"type": "message", "id": f"big-{n}", "data": {"text": "x" * 20_000}}),
    "nested": lambda n: '{"type": "message", "id": "nested-%d", "data": {"text": "hi", "x": [%s]}}' % (n, NESTED_LISTS),
    "nonjson": lambda n: "this is not json {",
    "notobject": lambda n: json.dumps({"type": "message", "id": f"notobject-{n}", "data": "not an object"}),
    "wrongtype": lambda n: json.dumps({"type": "message", "id": f"wrongtype-{n}", "data": {"text": 42}}),
    "unknown": lambda n: json.dumps({"type": "launch_rockets", "id": f"unknown-{n}", "data": {}}),
    "blank": lambda n: json.dumps({"type": "message", "id": f"blank-{n}", "data": {"text": "   "}}),
    "noid": lambda n: json.dumps({"type": "message", "data": {"text": "no key"}}),
    "typing": lambda n: json.dumps({"type": "typing", "id": f"typing-{n}", "data": {"active": True}}),
}
ANSWERED = [kind for kind in FRAMES if kind != "typing"]  # typing within the rate limit gets no answer
ANSWER_SECONDS = 30.0


def outcome(envelope: Dict[str, Any]) -> str:
    """An answer in a word: "ack", or the error's code."""
    return str(envelope["data"]["code"]) if envelope["type"] == "error" else str(envelope["type"])


class Socket:
    """A customer connection (handoff_client, read by its own task) that sends frames as they are, bad ones
    included, and collects the answers (acks and errors, in order)."""

    def __init__(self, customer: Customer) -> None:
        self.customer = customer
        self.answers: List[Dict[str, Any]] = []
        self.bot_answered = asyncio.Event()
        self._answered = asyncio.Event()
        customer.listeners.append(self._note)

    @classmethod
    async def open(cls, address: str, conversation_id: str = "", token: str = "") -> "Socket":
        socket = cls(Customer(address, conversation_id=conversation_id, token=token, keep=False, max_size=None))
        await socket.customer.start()
        return socket

    def _note(self, envelope: Envelope) -> None:
        if envelope["type"] in ("ack", "error"):
            self.answers.append(envelope)
            self._answered.set()
        elif envelope["type"] == "message" and envelope["data"]["kind"] == "bot":
            self.bot_answered.set()

    async def send(self, frame: str) -> None:
        """One frame, as it is."""
        assert self.customer.ws is not None, "not connected"
        await self.customer.ws.send(frame)

    async def answer(self, wanted: Callable[[Dict[str, Any]], bool], after: int = 0,
                     timeout: float = ANSWER_SECONDS) -> Dict[str, Any]:
        """The first answer from index ``after`` on that ``wanted`` accepts (waits for it)."""
        deadline = time.monotonic() + timeout
        while True:
            found = next((envelope for envelope in self.answers[after:] if wanted(envelope)), None)
            if found is not None:
                return found
            self._answered.clear()
            await asyncio.wait_for(self._answered.wait(), max(0.0, deadline - time.monotonic()))

    async def answer_to(self, frame: str) -> Dict[str, Any]:
        """Sends one frame and waits for the next answer (the bridge answers one socket's frames in order)."""
        after = len(self.answers)
        await self.send(frame)
        return await self.answer(lambda envelope: True, after)

    async def answer_to_message(self, message_id: str, text: str) -> str:
        await self.send(json.dumps({"type": "message", "id": message_id, "data": {"text": text}}))
        return outcome(await self.answer(lambda envelope: envelope["id"] == message_id))


async def flood(address: str, seconds: float) -> Dict[str, Any]:
    socket = await Socket.open(address)
    singles = {kind: await socket.answer_to(FRAMES[kind](0)) for kind in ANSWERED}

    print("flooding", flush=True)
    flood_from = len(socket.answers)
    sent = 0
    started = time.monotonic()
    for n, kind in enumerate(itertools.cycle(FRAMES), start=1):
        if time.monotonic() - started > seconds:
            break
        await socket.send(FRAMES[kind](n))
        sent += 1
    # The bridge works through what is buffered on the way; the answer to an unknown type marks the end.
    await socket.send(json.dumps({"type": "launch_rockets", "id": "end-0", "data": {}}))
    await socket.answer(lambda envelope: envelope["id"] == "end-0", flood_from, timeout=120)
    drained = time.monotonic() - started
    codes: DefaultDict[str, Counter] = defaultdict(Counter)
    for envelope in socket.answers[flood_from:]:
        codes[(envelope["id"] or "").split("-")[0] or "without id"][outcome(envelope)] += 1

    await asyncio.sleep(2.5)  # the rate limit's bucket fills up again
    after_flood = await socket.answer_to_message("after", "hello")  # on the same socket, after all those errors
    await asyncio.wait_for(socket.bot_answered.wait(), ANSWER_SECONDS)
    await socket.send(OVER_ONE_MIB)
    await asyncio.wait_for(socket.customer.wait_stopped(), ANSWER_SECONDS)
    close_code = socket.customer.close_code

    again = await Socket.open(address, socket.customer.conversation_id, socket.customer.token)
    after_reconnect = await again.answer_to_message("resumed", "thanks")
    await again.customer.close()
    return {"singles": {kind: outcome(envelope) for kind, envelope in singles.items()},
            "single_messages": {kind: envelope["data"].get("message") for kind, envelope in singles.items()},
            "sent": sent, "drained_seconds": drained,
            "codes": {kind: dict(counts) for kind, counts in codes.items()}, "after_flood": after_flood,
            "close_code": close_code, "after_reconnect": after_reconnect}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(flood(sys.argv[1], float(sys.argv[2])))))
