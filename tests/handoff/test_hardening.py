"""What an attacker tried against the running bridge (docs/security.md), each through real bridges
and Redis: IPv6 networks counted as one client, silent sockets closed, staff never locked out by
anonymous sockets, refusals in the log (a flood of them not), errors in our own words, and
``make agent`` taking any name literally."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
import redis as redis_sync
import requests
import websockets
from websockets.exceptions import ConnectionClosed

from handoff.refusals import Refusal, RefusalLog
from handoff_client import login_protocols
from harness.servers import AGENT_PASSWORD, ROOT, add_agent, delete_prefixed_keys, running_bridge, started_bridge

# The bridge's own checks answer before the bot is asked: no Rasa is needed here.
NO_RASA = "http://127.0.0.1:9"
HOME = "2001:db8:1:2"  # one IPv6 home connection's /64


@pytest.fixture(scope="module")
def plain_bridge(redis_url) -> Iterator[str]:
    prefix = f"hbplain{uuid.uuid4().hex[:6]}"
    with running_bridge(redis_url, NO_RASA, "bridge-plain", prefix) as address:
        yield address
    delete_prefixed_keys(redis_url, prefix)


async def customer_socket(address: str, forwarded_for: Optional[str] = None, origin: Optional[str] = None) -> Any:
    headers = {key: value for key, value in (("X-Forwarded-For", forwarded_for), ("Origin", origin)) if value}
    return await websockets.connect(f"ws://{address}/ws/customer", extra_headers=headers)


async def reply_to(ws: Any, kind: str, data: Dict[str, Any], frame_id: str) -> Dict[str, Any]:
    await ws.send(json.dumps({"type": kind, "id": frame_id, "data": data}))
    return await answer(ws, frame_id)


async def answer(ws: Any, frame_id: str) -> Dict[str, Any]:
    """The reply (welcome, ack or error) that names ``frame_id``; pushes in between are skipped."""
    while True:
        reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if reply["id"] == frame_id and reply["type"] in ("welcome", "ack", "error"):
            return reply


def log_in(address: str, name: str, password: str, forwarded_for: str = "") -> requests.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return requests.post(f"http://{address}/api/agents/login", json={"name": name, "password": password},
                         headers=headers, timeout=10)


def lines_of(log: Path, kind: str) -> List[str]:
    return [line for line in log.read_text().splitlines() if f"refused {kind}:" in line]


def test_ipv6_clients_of_one_network_share_the_per_address_caps(redis_url):
    prefix = f"hbipv6{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "tess")
    caps = {"HANDOFF_TRUSTED_PROXIES": "127.0.0.1/32", "HANDOFF_MAX_CONNECTIONS_PER_IP": "2",
            "HANDOFF_LOGIN_FREE_PER_ADDRESS": "2", "HANDOFF_LOGIN_FREE_PER_ACCOUNT": "100"}
    try:
        with started_bridge(redis_url, NO_RASA, "bridge-ipv6", prefix, **caps) as server:
            address = server.address

            async def sockets() -> None:
                held = [await customer_socket(address, f"{HOME}::1"), await customer_socket(address, f"{HOME}::2")]
                for number, ws in enumerate(held):
                    assert (await reply_to(ws, "hello", {}, f"hi{number}"))["type"] == "welcome"
                # Another of the network's 2^64 addresses is the same client ...
                third = await customer_socket(address, f"{HOME}:ffff:1:2:3")
                refused = json.loads(await asyncio.wait_for(third.recv(), 10))
                assert refused["data"]["code"] == "too_many_connections", refused
                # ... another network is not held back.
                neighbour = await customer_socket(address, "2001:db8:1:3::1")
                assert (await reply_to(neighbour, "hello", {}, "hi"))["type"] == "welcome"
                for ws in (*held, third, neighbour):
                    await ws.close()

            asyncio.run(sockets())
            for number in range(3):  # 2 free failures for the network, each from a new address of it
                assert log_in(address, f"guess{number}", "guess-guess", f"{HOME}::{number + 10:x}").status_code == 401
            held_back = log_in(address, "tess", AGENT_PASSWORD, f"{HOME}:abcd::99")
            assert held_back.status_code == 429, held_back.text
            assert log_in(address, "tess", AGENT_PASSWORD, "2001:db8:1:3::7").status_code == 200
            # Each refusal is in the log, with the address it came from and the account tried.
            logins = lines_of(server.log, "login")
            assert any(f"address={HOME}::a account='guess0' wrong name or password" in line for line in logins), logins
            assert any(f"address={HOME}:abcd::99 account='tess' held back" in line for line in logins), logins
            assert any(f"address={HOME}:ffff:1:2:3" in line for line in lines_of(server.log, "connections"))
    finally:
        delete_prefixed_keys(redis_url, prefix)


def test_silent_customer_sockets_are_closed_and_never_lock_the_staff_out(redis_url):
    prefix = f"hbsilent{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "ann")
    settings = {"HANDOFF_MAX_CONNECTIONS_PER_IP": "2", "HANDOFF_MAX_STAFF_CONNECTIONS_PER_IP": "2",
                "HANDOFF_HELLO_TIMEOUT": "3"}
    try:
        with running_bridge(redis_url, NO_RASA, "bridge-silent", prefix, **settings) as address:
            async def scenario() -> None:
                opened = time.monotonic()
                silent = [await customer_socket(address), await customer_socket(address)]
                while slots.zcard(f"{prefix}:slots:127.0.0.1") < 2:  # taken once the handshake is done
                    assert time.monotonic() - opened < 2, "the silent sockets got no slots"
                    await asyncio.sleep(0.05)
                # The address's customer slots are all taken ...
                over = await customer_socket(address)
                assert json.loads(await asyncio.wait_for(over.recv(), 10))["data"]["code"] == "too_many_connections"
                # ... and its agents still get theirs.
                token = log_in(address, "ann", AGENT_PASSWORD).json()["token"]
                agents = [await websockets.connect(f"ws://{address}/ws/agent", subprotocols=login_protocols(token))
                          for _ in range(2)]
                for agent in agents:  # let in: their own status comes first
                    assert json.loads(await asyncio.wait_for(agent.recv(), 10))["type"] == "agent_status"
                # A third staff socket is over the staff's own cap.
                third = await websockets.connect(f"ws://{address}/ws/agent", subprotocols=login_protocols(token))
                assert json.loads(await asyncio.wait_for(third.recv(), 10))["data"]["code"] == "too_many_connections"
                assert time.monotonic() - opened < 3, "too slow: the silent sockets may have been closed already"
                # A socket that says nothing is told why, and closed.
                started = time.monotonic()
                for ws in silent:
                    told = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    assert told["type"] == "error" and told["data"]["code"] == "hello_timeout", told
                    try:
                        await asyncio.wait_for(ws.recv(), 10)
                        raise AssertionError("the silent socket is still open")
                    except ConnectionClosed as closed:
                        assert closed.rcvd is not None and closed.rcvd.code == 1008
                assert time.monotonic() - started < 10
                # Their slots are free again, and a customer who says hello in time stays.
                talker = await customer_socket(address)
                assert (await reply_to(talker, "hello", {}, "hi"))["type"] == "welcome"
                await asyncio.sleep(4)
                await asyncio.wait_for(await talker.ping(), 10)  # still open
                for ws in (*agents, over, third, talker):
                    await ws.close()

            slots = redis_sync.Redis.from_url(redis_url)
            try:
                asyncio.run(scenario())
            finally:
                slots.close()
    finally:
        delete_prefixed_keys(redis_url, prefix)


def test_refusals_are_logged_once_each_and_a_flood_of_them_is_cut_short(redis_url):
    prefix = f"hbrefused{uuid.uuid4().hex[:6]}"
    try:
        with started_bridge(redis_url, NO_RASA, "bridge-refused", prefix) as server:
            address = server.address
            evil = {"Origin": "http://evil.example", "Content-Type": "application/json"}
            for _ in range(60):  # a burst: at most LINES_PER_SECOND lines a second of it
                requests.post(f"http://{address}/api/agents/login", data=b"{}", headers=evil, timeout=10)
            time.sleep(1.1)
            requests.post(f"http://{address}/api/agents/login", data=b"{}", headers=evil, timeout=10)

            async def sockets() -> None:
                ws = await customer_socket(address, origin="http://evil.example")
                assert json.loads(await asyncio.wait_for(ws.recv(), 10))["data"]["code"] == "forbidden_origin"
                forged = await websockets.connect(f"ws://{address}/ws/agent",
                                                  subprotocols=login_protocols("ann.1.forged"))
                assert json.loads(await asyncio.wait_for(forged.recv(), 10))["data"]["code"] == "invalid_token"
                for each in (ws, forged):
                    await each.close()

            asyncio.run(sockets())
            time.sleep(0.5)
            origins = lines_of(server.log, "origin")
            assert 1 < len(origins) < 60 and "address=127.0.0.1" in origins[0], origins
            assert any("more origin refusals suppressed" in line for line in origins), origins
            assert any("/ws/customer from origin 'http://evil.example'" in line for line in origins)
            tokens = lines_of(server.log, "token")
            assert len(tokens) == 1 and "/ws/agent: invalid_token" in tokens[0], tokens
    finally:
        delete_prefixed_keys(redis_url, prefix)


def test_a_refusal_log_writes_so_many_lines_a_second_and_counts_the_rest():
    now = [100.0]
    log = RefusalLog(lines_per_second=3, clock=lambda: now[0])
    written = [log.refused(Refusal.LOGIN, "203.0.113.7", "wrong name or password", "ann") for _ in range(5)]
    assert written == [True, True, True, False, False] and log.suppressed == {Refusal.LOGIN: 2}
    assert log.refused(Refusal.ORIGIN, "203.0.113.7", "from 'http://evil.example'")  # each kind its own lines
    now[0] += 1
    assert log.refused(Refusal.LOGIN, "203.0.113.7", "wrong name or password", "ann")
    assert log.suppressed == {}  # said in that line


def test_errors_are_in_our_own_words_keep_the_frame_s_id_and_signals_are_checked(plain_bridge):
    async def scenario() -> None:
        ws = await customer_socket(plain_bridge)
        assert (await reply_to(ws, "hello", {}, "hi"))["type"] == "welcome"
        huge = '{"type": "message", "id": "big", "data": {"text": "x", "n": ' + "9" * 5000 + "}}"
        garbled = '{"type": "message", "id": "bad", "data": {text: 1}}'
        for raw, frame_id in ((huge, "big"), (garbled, "bad")):
            await ws.send(raw)
            refused = await answer(ws, frame_id)
            assert refused["data"]["code"] == "malformed", refused
            for leak in ("sys.", "set_int_max_str_digits", "Exceeds", "Expecting", "line 1 column"):
                assert leak not in refused["data"]["message"], refused
        for kind, data in (("typing", {"active": "yes"}), ("typing", {}), ("read", {"up_to": "not-an-id"}),
                           ("read", {"up_to": {"x": 1}})):
            refused = await reply_to(ws, kind, data, f"{kind}-signal")
            assert refused["type"] == "error" and refused["data"]["code"] == "malformed", (kind, data, refused)
        await ws.close()

    asyncio.run(scenario())


def test_the_demo_page_may_not_be_framed_but_the_widget_may_be_embedded(plain_bridge):
    page = requests.get(f"http://{plain_bridge}/", timeout=10)
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    widget = requests.get(f"http://{plain_bridge}/widget/chat.js", timeout=10)
    assert widget.status_code == 200 and "X-Frame-Options" not in widget.headers
    assert widget.headers["Access-Control-Allow-Origin"] == "*"


def test_make_agent_takes_every_field_literally(redis_url):
    prefix = f"hbmake{uuid.uuid4().hex[:6]}"
    marker = Path(f"/tmp/{prefix}")  # short: a display name has at most 40 characters
    env = {**os.environ, "REDIS_URL": redis_url, "HANDOFF_KEY_PREFIX": prefix,
           "HANDOFF_AGENT_PASSWORD": AGENT_PASSWORD}
    try:
        for value in (f"Ann `touch {marker}`", f"\"O'Neil\" $(touch {marker})", f"$(shell touch {marker})"):
            done = subprocess.run(["make", "-s", "agent", "NAME=ann", f"DISPLAY_NAME={value}",
                                   f"GROUPS=$(shell touch {marker})"],
                                  cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr
            assert not marker.exists(), "a shell command in a field ran"
            client = redis_sync.Redis.from_url(redis_url)
            try:
                record = json.loads(client.hget(f"{prefix}:agents", "ann"))
            finally:
                client.close()
            assert record["display_name"] == value and record["groups"] == [f"$(shell touch {marker})"]
    finally:
        delete_prefixed_keys(redis_url, prefix)
        marker.unlink(missing_ok=True)


def test_a_message_with_nothing_visible_is_refused_at_the_edge(plain_bridge):
    """Found by an attacker: zero-width spaces were stored, sent to the bot and shown to the agent as an
    empty line. Whitespace, format characters (zero-width space, joiners, word joiner, BOM), variation
    selectors and the blank-looking fillers are refused as ``empty_text``, before anything is kept."""
    async def scenario() -> None:
        ws = await customer_socket(plain_bridge)
        assert (await reply_to(ws, "hello", {}, "hi"))["type"] == "welcome"
        for number, text in enumerate(("\u200b\u200b", "\u200c\u200d\ufeff\u2060", " \u00a0\u3000\n\t\u200b",
                                       "\ufe0f\u180e\u00ad", "\u3164\u2800\u115f\u1160\uffa0", "", "  ",
                                       "\u202e\u200b")):
            refused = await reply_to(ws, "message", {"text": text}, f"blank-{number}")
            assert refused["type"] == "error" and refused["data"]["code"] == "empty_text", (text, refused)
            assert refused["data"]["message"] == "'text' has nothing to read: only spaces or invisible characters"
        refused = await reply_to(ws, "message", {"text": 3}, "not-text")
        assert refused["data"]["code"] == "malformed", refused
        await ws.close()

    asyncio.run(scenario())


def test_make_agent_without_a_terminal_or_a_password_says_how_to_give_one(redis_url):
    """Found by an attacker: without a terminal it ended in an EOFError traceback."""
    prefix = f"hbnopw{uuid.uuid4().hex[:6]}"
    env = {key: value for key, value in os.environ.items() if key != "HANDOFF_AGENT_PASSWORD"}
    env.update(REDIS_URL=redis_url, HANDOFF_KEY_PREFIX=prefix)
    wanted = ("error: no password given: type it at a terminal, pipe it in "
              "(printf 'password\\n' | make agent NAME=ann) or set HANDOFF_AGENT_PASSWORD")
    try:
        done = subprocess.run(["make", "-s", "agent", "NAME=ann"], cwd=ROOT, env=env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, start_new_session=True, timeout=300)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert wanted in done.stderr.splitlines(), done.stderr
        client = redis_sync.Redis.from_url(redis_url)
        try:
            assert client.hget(f"{prefix}:agents", "ann") is None
        finally:
            client.close()
    finally:
        delete_prefixed_keys(redis_url, prefix)
