"""A terminal user of the bridge: lines in, messages out.

``python -m handoff_client customer --url ws://HOST:8080`` chats as a customer
(the bot, then a person after ``/person``; signed in, with the identity a site
signed for them in ``HANDOFF_IDENTITY``: docs/identity.md); ``python -m handoff_client agent
--url ws://HOST:8080 --name ann`` works the queue as an agent (the password
from ``HANDOFF_AGENT_PASSWORD`` or a prompt). Both reconnect and resume on
their own, as the widget and the console do.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from typing import AsyncIterator, Awaitable, Callable, Dict, List, Optional, TextIO, Tuple
from urllib.parse import urlparse

from handoff_client.envelope import Envelope
from handoff_client.roles import Agent, Customer, LoginRefused
from handoff_client.transport import NotReceived, Transport

__all__ = ["AgentTerminal", "CustomerTerminal", "main", "parse_url"]

PASSWORD_VARIABLE = "HANDOFF_AGENT_PASSWORD"
# A signed identity (docs/identity.md) is a credential for a day: read from the environment, never an argument
# that other users of the machine could read in the process list.
IDENTITY_VARIABLE = "HANDOFF_IDENTITY"
RETRY_SECONDS = 1.0
CONNECT_SECONDS = 15.0  # to the first connection; later drops are reconnected without end
# Errors after which the socket is closed for good: reconnecting would only be refused again.
FATAL = frozenset({"invalid_token", "invalid_identity", "identity_required", "forbidden", "forbidden_origin"})


def parse_url(url: str) -> Tuple[str, bool]:
    """``ws://host:port`` (or wss://, http://, https://) -> (host:port, secure)."""
    parsed = urlparse(url)
    if parsed.scheme not in ("ws", "wss", "http", "https") or not parsed.netloc:
        raise ValueError(f"not a bridge address: {url!r} (expected ws://HOST:PORT)")
    return parsed.netloc, parsed.scheme in ("wss", "https")


def short(conversation_id: str) -> str:
    return conversation_id[:8]


async def input_lines(stream: TextIO) -> AsyncIterator[str]:
    """Lines typed (or piped) in, without blocking the event loop."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stream)
    except (ValueError, OSError):  # a regular file: read it in a thread
        while line := await loop.run_in_executor(None, stream.readline):
            yield line.rstrip("\n")
        return
    while raw := await reader.readline():
        yield raw.decode(errors="replace").rstrip("\n")


class Terminal:
    """What both sides share: printing, the input loop, commands, and stopping on a fatal error."""

    help = ""
    # Errors the client deals with itself: what the person at the terminal reads instead of the code.
    handled: Dict[str, str] = {}

    def __init__(self, client: Transport, out: TextIO) -> None:
        self.client = client
        self.out = out
        self.ended = asyncio.Event()
        self.exit_code = 0
        client.listeners.append(self._show)

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def _show(self, envelope: Envelope) -> None:
        data = envelope.get("data") or {}
        if envelope.get("type") == "error" and data.get("code") in self.handled:
            self.say(self.handled[str(data.get("code"))])
        elif envelope.get("type") == "error":
            self.say(f"! {data.get('code')}: {data.get('message')}")
            if data.get("code") in FATAL:
                self.exit_code = 1
                self.ended.set()
        else:
            self.show(envelope)

    def show(self, envelope: Envelope) -> None:
        """Prints what the person at the terminal should see of this envelope."""

    def commands(self) -> Dict[str, Callable[[str], Awaitable[None]]]:
        """Command -> what it does with the rest of the line."""
        return {}

    async def line(self, text: str) -> None:
        """A plain line (not a command)."""

    async def run(self, lines: AsyncIterator[str]) -> int:
        self.say(self.help)
        reading = asyncio.ensure_future(self._read(lines))
        ended = asyncio.ensure_future(self.ended.wait())
        await asyncio.wait({reading, ended}, return_when=asyncio.FIRST_COMPLETED)
        for task in (reading, ended):
            task.cancel()
        await self.client.close()
        return self.exit_code

    async def _read(self, lines: AsyncIterator[str]) -> None:
        async for text in lines:
            text = text.strip()
            if not text:
                continue
            command, _, argument = text.partition(" ")
            if command in ("/leave", "/quit"):
                return
            if command == "/help":
                self.say(self.help)
            elif command in self.commands():
                await self.commands()[command](argument.strip())
            elif command.startswith("/"):
                self.say(f"unknown command {command}; /help lists them")
            else:
                await self.line(text)


class CustomerTerminal(Terminal):
    help = "Type a message and press Enter. /person: talk to a person; /back: back to the assistant; /leave: quit."
    handled = {"conversation_closed": "* This chat is closed: what you sent starts a new one."}

    def __init__(self, customer: Customer, out: TextIO) -> None:
        super().__init__(customer, out)
        self.customer = customer
        self._told: Tuple[object, ...] = ()

    def commands(self) -> Dict[str, Callable[[str], Awaitable[None]]]:
        return {"/person": self.person, "/back": self.back}

    async def person(self, _: str) -> None:
        await self.customer.talk_to_person()

    async def back(self, _: str) -> None:
        await self.customer.leave_queue()

    async def line(self, text: str) -> None:
        await self.customer.say(text)

    def show(self, envelope: Envelope) -> None:
        kind, data = envelope.get("type"), envelope.get("data") or {}
        if kind == "message":
            extra = data.get("data") or {}
            if data.get("kind") == "customer":
                if data.get("client_id") not in self.customer.requests:  # typed here: already on screen
                    self.say(f"you (elsewhere): {data.get('text')}")
            elif data.get("kind") == "system":
                self.say(f"* {data.get('text')}")
            else:
                self.say(f"{extra.get('agent') or data.get('kind')}: {data.get('text')}")
            for button in extra.get("buttons") or []:
                self.say(f"    [{button.get('title')}]")
            if extra.get("image"):
                self.say(f"    (image: {extra['image']})")
        elif kind == "status":
            told = (data.get("state"), data.get("position"), data.get("agent"))
            if told != self._told:
                self._told = told
                self.say(self.describe_status(data))

    @staticmethod
    def describe_status(status: Dict[str, object]) -> str:
        state = status.get("state")
        if state == "queued":
            return f"[waiting for a person: number {status.get('position')} in line, {status.get('wait')}]"
        if state == "agent":
            return f"[talking to {status.get('agent')}]"
        if state == "closed":
            return "[the chat is closed]"
        return "[talking to the assistant]"


class AgentTerminal(Terminal):
    help = ("/queue: who is waiting; /claim ID or number: take a chat; /accept or /decline ID or number: a chat "
            "offered to you (a group assigned automatically); type to answer the current chat; "
            "/to ID: switch chats; /close: end the current chat; /leave: quit.")

    def __init__(self, agent: Agent, out: TextIO) -> None:
        super().__init__(agent, out)
        self.agent = agent
        self.current: Optional[str] = None

    def commands(self) -> Dict[str, Callable[[str], Awaitable[None]]]:
        return {"/queue": self.list_queue, "/claim": self.claim, "/accept": self.accept, "/decline": self.decline,
                "/to": self.switch, "/close": self.close}

    def resolve(self, reference: str, candidates: List[str]) -> Optional[str]:
        """A conversation by its number in ``candidates`` (from 1) or the start of its id."""
        if reference.isdigit() and 1 <= int(reference) <= len(candidates):
            return candidates[int(reference) - 1]
        matches = [c for c in candidates if reference and c.startswith(reference)]
        if len(matches) != 1:
            self.say(f"no single conversation matches {reference!r}")
            return None
        return matches[0]

    async def list_queue(self, _: str) -> None:
        if not self.agent.queue:
            self.say("nobody is waiting")
        for number, conversation_id in enumerate(self.agent.queue, start=1):
            item = self.agent.queue_items[conversation_id]
            self.say(f"{number}. {short(conversation_id)} ({item.get('group')}, {item.get('reason')}): "
                     f"{item.get('summary') or ''}")

    async def claim(self, reference: str) -> None:
        conversation_id = self.resolve(reference, self.agent.queue)
        if conversation_id:
            await self.agent.claim(conversation_id)

    async def accept(self, reference: str) -> None:
        conversation_id = self.resolve(reference, sorted(self.agent.offers))
        if conversation_id:
            await self.agent.accept_offer(conversation_id)

    async def decline(self, reference: str) -> None:
        conversation_id = self.resolve(reference, sorted(self.agent.offers))
        if conversation_id:
            await self.agent.decline_offer(conversation_id)

    async def switch(self, reference: str) -> None:
        conversation_id = self.resolve(reference, sorted(self.agent.serving))
        if conversation_id:
            self.current = conversation_id
            self.say(f"answering {short(conversation_id)}")

    async def close(self, reference: str) -> None:
        conversation_id = self.resolve(reference, sorted(self.agent.serving)) if reference else self.current
        if conversation_id:
            await self.agent.close_conversation(conversation_id)

    async def line(self, text: str) -> None:
        if self.current is None:
            self.say("no chat to answer: /claim one first")
            return
        await self.agent.say(text, self.current)

    def show(self, envelope: Envelope) -> None:
        kind, data = envelope.get("type"), envelope.get("data") or {}
        if kind == "queue":
            self.say(f"{len(data.get('items', []))} waiting (/queue lists them)")
        elif kind == "queue_changed":
            for item in data.get("added", []):
                self.say(f"+ waiting: {short(item['conversation_id'])} ({item.get('reason')}): {item.get('summary') or ''}")
        elif kind == "offers":
            for item in data.get("items", []):
                self.say(f"offered to you: {short(item['conversation_id'])} ({item.get('reason')}): "
                         f"{item.get('summary') or ''} (/accept or /decline within {item.get('offer_seconds')} s)")
        elif kind == "conversation":
            conversation_id = self.current = str(data["conversation_id"])
            summary = (data.get("handoff") or {}).get("summary") or ""
            self.say(f"now answering {short(conversation_id)}: {summary}")
        elif kind == "message":
            if data.get("client_id") in self.agent.requests:
                return  # typed here
            self.say(f"[{short(data['conversation_id'])}] {data.get('kind')}: {data.get('text')}")
        elif kind == "released":
            released = data["conversation_id"]
            self.say(f"{short(released)} is no longer yours")
            if self.current == released:
                self.current = next(iter(sorted(self.agent.serving - {released})), None)


async def _run(arguments: argparse.Namespace, out: TextIO) -> int:
    address, secure = parse_url(arguments.url)
    terminal: Terminal
    if arguments.role == "customer":
        terminal = CustomerTerminal(Customer(address, reconnect=True, retry_seconds=RETRY_SECONDS, keep=False,
                                             secure=secure, identity=os.environ.get(IDENTITY_VARIABLE, "")), out)
    else:
        password = os.environ.get(PASSWORD_VARIABLE) or getpass.getpass(f"password for {arguments.name}: ")
        terminal = AgentTerminal(Agent(address, arguments.name, password=password, reconnect=True,
                                       retry_seconds=RETRY_SECONDS, keep=False, secure=secure), out)
    try:
        await terminal.client.start(timeout=CONNECT_SECONDS)
    except LoginRefused as refused:
        terminal.say(f"! {refused}")
        return 2
    except (OSError, ConnectionError, NotReceived) as error:
        await terminal.client.close()
        terminal.say(f"! cannot reach the bridge at {arguments.url}: {error}")
        return 2
    return await terminal.run(input_lines(sys.stdin))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handoff_client", description=__doc__.split("\n\n")[0])
    roles = parser.add_subparsers(dest="role", required=True)
    customer = roles.add_parser("customer", help=f"chat with the assistant, then a person (signed in with the identity in"
                                                 f" ${IDENTITY_VARIABLE}, if set)")
    customer.add_argument("--url", required=True, help="the bridge, ws://HOST:PORT")
    agent = roles.add_parser("agent", help=f"answer customers (password from ${PASSWORD_VARIABLE} or a prompt)")
    agent.add_argument("--url", required=True, help="the bridge, ws://HOST:PORT")
    agent.add_argument("--name", required=True, help="the account's login name")
    arguments = parser.parse_args(argv)
    try:
        parse_url(arguments.url)
    except ValueError as error:
        parser.error(str(error))
    try:
        return asyncio.run(_run(arguments, sys.stdout))
    except KeyboardInterrupt:
        return 130
