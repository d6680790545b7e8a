"""The terminal client (python -m handoff_client) as a person uses it: a subprocess whose
lines go in and whose output is read, against the real bridge, Redis and Rasa."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import List

from handoff.identity import sign
from handoff_client import Customer
from harness.chats import QUESTIONS
from harness.clients import queued_customer
from harness.servers import AGENT_PASSWORD, IDENTITY_SECRET, ROOT, VENV_BIN, add_agent, base_env


class Terminal:
    """One ``python -m handoff_client`` process."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.output: List[str] = []

    @classmethod
    async def start(cls, *arguments: str, **env: str) -> "Terminal":
        process = await asyncio.create_subprocess_exec(
            str(VENV_BIN / "python"), "-m", "handoff_client", *arguments, cwd=ROOT, env={**base_env(), **env},
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        return cls(process)

    async def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{line}\n".encode())
        await self.process.stdin.drain()

    async def shows(self, fragment: str, timeout: float = 60.0) -> str:
        """The next line of output that contains ``fragment``."""
        assert self.process.stdout is not None
        while True:
            try:
                raw = await asyncio.wait_for(self.process.stdout.readline(), timeout)
            except asyncio.TimeoutError:
                raise AssertionError(f"no line with {fragment!r}; the terminal showed {self.output}") from None
            if not raw:
                raise AssertionError(f"the terminal ended before showing {fragment!r}: {self.output}")
            line = raw.decode().rstrip("\n")
            self.output.append(line)
            if fragment in line:
                return line

    async def leave(self) -> int:
        await self.type("/leave")
        return await asyncio.wait_for(self.process.wait(), 30)


def test_a_customer_at_a_terminal_gets_the_bots_answer(bridge):
    async def scenario() -> None:
        terminal = await Terminal.start("customer", "--url", f"ws://{bridge}")
        await terminal.shows("[talking to the assistant]")
        await terminal.type(QUESTIONS["card_arrival"][0])
        answer = await terminal.shows("bot: ")
        assert answer.startswith("bot: ") and answer[len("bot: "):].strip(), terminal.output
        assert await terminal.leave() == 0

    asyncio.run(scenario())


def test_a_signed_in_customer_continues_at_a_second_terminal(bridge):
    """HANDOFF_IDENTITY signs the terminal in as the site's customer: a second terminal of the same customer
    resumes the conversation and shows what was written at the first; a forged identity ends the terminal."""
    identity = sign(IDENTITY_SECRET, {"id": f"term-{uuid.uuid4().hex[:8]}", "name": "Bo Li",
                                      "issued_at": int(time.time())})

    async def scenario() -> None:
        phone = await Terminal.start("customer", "--url", f"ws://{bridge}", HANDOFF_IDENTITY=identity)
        await phone.shows("[talking to the assistant]")
        await phone.type("written at the first terminal")
        await phone.shows("bot: ")
        laptop = await Terminal.start("customer", "--url", f"ws://{bridge}", HANDOFF_IDENTITY=identity)
        await laptop.shows("you (elsewhere): written at the first terminal")
        assert await laptop.leave() == 0 and await phone.leave() == 0
        forged = await Terminal.start("customer", "--url", f"ws://{bridge}", HANDOFF_IDENTITY=identity[:-4] + "AAAA")
        await forged.shows("! invalid_identity")
        assert await asyncio.wait_for(forged.process.wait(), 30) != 0

    asyncio.run(scenario())


def test_an_agent_at_a_terminal_claims_answers_and_closes_a_chat(bridge, redis_url, bridge_prefix):
    add_agent(redis_url, bridge_prefix, "tess")

    async def scenario() -> None:
        customer: Customer = await queued_customer(bridge)
        short = customer.conversation_id[:8]
        terminal = await Terminal.start("agent", "--url", f"ws://{bridge}", "--name", "tess",
                                        HANDOFF_AGENT_PASSWORD=AGENT_PASSWORD)
        await terminal.shows("waiting (/queue lists them)")  # the queue, pushed on connecting
        await terminal.type("/queue")
        await terminal.shows(f". {short} (")
        await terminal.type(f"/claim {short}")
        await terminal.shows(f"now answering {short}")
        await customer.expect("status", state="agent")
        await terminal.type("Hello from a terminal")
        await customer.expect("message", kind="agent", text="Hello from a terminal")
        await customer.say("thanks, I lost my card")
        await terminal.shows(f"[{short}] customer: thanks, I lost my card")
        await terminal.type("/close")
        await customer.expect("status", state="closed")
        assert await terminal.leave() == 0
        await customer.close()

    asyncio.run(scenario())
