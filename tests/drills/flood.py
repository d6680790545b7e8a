"""The flood drill's attacker, run as its own process so that its work does not slow
the drill's measuring clients: ``python -m tests.drills.flood HOST:PORT SECONDS``.

One customer connection sends, as fast as the socket takes them, frames that
are too large (over HANDOFF_MAX_MESSAGE_BYTES), not JSON, of the wrong types,
of unknown types, without an id, and typing signals far beyond the rate limit;
waits until the bridge has worked through them all, asks the bot something on
the same socket as a normal customer would, sends one frame over 1 MiB (the
websocket library closes the socket), reconnects and resumes. Prints
"flooding" when it starts, then what came back as JSON: the error codes by
kind of frame (each frame's id starts with its kind), how long the bridge took
to work through the flood, the close code.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from collections import Counter, defaultdict
from typing import Any, Callable, DefaultDict, Dict, List

import websockets
from websockets.exceptions import ConnectionClosed

__all__ = ["FRAMES", "flood"]

OVER_ONE_MIB = "x" * ((1 << 20) + 100)

# kind -> a frame of that kind (its id, when it has one, starts with the kind)
FRAMES: Dict[str, Callable[[int], str]] = {
    "big": lambda n: json.dumps({"type": "message", "id": f"big-{n}", "data": {"text": "x" * 20_000}}),
    "nonjson": lambda n: "this is not json {",
    "notobject": lambda n: json.dumps({"type": "message", "id": f"notobject-{n}", "data": "not an object"}),
    "wrongtype": lambda n: json.dumps({"type": "message", "id": f"wrongtype-{n}", "data": {"text": 42}}),
    "unknown": lambda n: json.dumps({"type": "launch_rockets", "id": f"unknown-{n}", "data": {}}),
    "blank": lambda n: json.dumps({"type": "message", "id": f"blank-{n}", "data": {"text": "   "}}),
    "noid": lambda n: json.dumps({"type": "message", "data": {"text": "no key"}}),
    "typing": lambda n: json.dumps({"type": "typing", "id": f"typing-{n}", "data": {"active": True}}),
}


async def _hello(ws: Any, data: Dict[str, Any]) -> Dict[str, Any]:
    await ws.send(json.dumps({"type": "hello", "id": "hello", "data": data}))
    while True:
        envelope = json.loads(await ws.recv())
        if envelope["type"] == "welcome":
            return envelope["data"]


async def flood(address: str, seconds: float) -> Dict[str, Any]:
    url = f"ws://{address}/ws/customer"
    codes: DefaultDict[str, Counter] = defaultdict(Counter)
    messages: Dict[str, List[str]] = defaultdict(list)  # "kind/code" -> the error messages (a few)
    ws = await websockets.connect(url, max_size=None)
    conversation = await _hello(ws, {})
    seen: Dict[str, asyncio.Event] = defaultdict(asyncio.Event)  # envelope id -> received
    bot_answered = asyncio.Event()

    async def read() -> None:
        async for raw in ws:
            envelope = json.loads(raw)
            if envelope["type"] == "error":
                kind = (envelope["id"] or "").split("-")[0] or "without id"
                codes[kind][envelope["data"]["code"]] += 1
                if len(messages[f"{kind}/{envelope['data']['code']}"]) < 3:
                    messages[f"{kind}/{envelope['data']['code']}"].append(envelope["data"]["message"])
            elif envelope["type"] == "message" and envelope["data"]["kind"] == "bot":
                bot_answered.set()
            seen[str(envelope["id"])].set()

    reader = asyncio.create_task(read())
    print("flooding", flush=True)
    sent = 0
    started = time.monotonic()
    for n, kind in enumerate(itertools.cycle(FRAMES)):
        if time.monotonic() - started > seconds:
            break
        await ws.send(FRAMES[kind](n))
        sent += 1
    # The bridge works through what is buffered on the way; an unknown type's error marks the end.
    await ws.send(json.dumps({"type": "launch_rockets", "id": "end-0", "data": {}}))
    await asyncio.wait_for(seen["end-0"].wait(), 120)
    drained = time.monotonic() - started
    await asyncio.sleep(2.5)  # the rate limit's bucket fills up again
    await ws.send(json.dumps({"type": "message", "id": "after", "data": {"text": "hello"}}))
    await asyncio.wait_for(seen["after"].wait(), 30)  # on the same socket, after all those errors
    await asyncio.wait_for(bot_answered.wait(), 30)
    await ws.send(OVER_ONE_MIB)
    try:
        await asyncio.wait_for(reader, 30)
    except ConnectionClosed:
        pass
    close_code = ws.close_code

    again = await websockets.connect(url, max_size=None)
    await _hello(again, {"conversation_id": conversation["conversation_id"], "token": conversation["token"]})
    await again.send(json.dumps({"type": "message", "id": "resumed", "data": {"text": "thanks"}}))
    acked_after_reconnect = False
    while not acked_after_reconnect:
        envelope = json.loads(await asyncio.wait_for(again.recv(), 30))
        acked_after_reconnect = envelope["type"] == "ack" and envelope["id"] == "resumed"
    await again.close()
    return {"sent": sent, "flood_seconds": seconds, "drained_seconds": drained,
            "codes": {kind: dict(c) for kind, c in codes.items()}, "messages": messages, "close_code": close_code,
            "acked_after_reconnect": acked_after_reconnect}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(flood(sys.argv[1], float(sys.argv[2])))))
