"""Nothing to guess or spoof (docs/security.md): logins, revocable tokens kept out of URLs, host
names, the admin port, error bodies and the names customers see, each through real bridges."""

from __future__ import annotations

import asyncio
import http.client
import json
import subprocess
import time
import uuid
from typing import Dict, Optional, Tuple

import pytest
import requests
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatusCode

from handoff_client import Agent, login_protocols
from harness.clients import login, queued_customer, staff
from harness.servers import (
    AGENT_PASSWORD, ROOT, add_agent, admin_address, bridge_command, bridge_env, delete_prefixed_keys, running_bridge,
    running_redis,
)


def post(address: str, path: str, body: bytes, headers: Dict[str, str]) -> Tuple[int, Dict[str, str], bytes]:
    connection = http.client.HTTPConnection(address, timeout=10)
    try:
        connection.request("POST", path, body=body, headers=headers)
        reply = connection.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
    finally:
        connection.close()


def get(address: str, path: str, host: str) -> Tuple[int, bytes]:
    connection = http.client.HTTPConnection(address, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host})
        reply = connection.getresponse()
        return reply.status, reply.read()
    finally:
        connection.close()


def test_login_takes_json_only_and_from_allowed_origins(bridge):
    right = json.dumps({"name": "ann", "password": AGENT_PASSWORD}).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        status, _, body = post(bridge, "/api/agents/login", right, {"Content-Type": content_type})
        assert status == 415 and json.loads(body)["error"]["code"] == "unsupported_media_type", (content_type, body)
    status, _, body = post(bridge, "/api/agents/login", right,
                           {"Content-Type": "application/json", "Origin": "http://evil.example"})
    assert status == 403 and json.loads(body)["error"]["code"] == "forbidden_origin"
    status, _, _ = post(bridge, "/api/agents/login", right,
                        {"Content-Type": "application/json; charset=utf-8", "Origin": f"http://{bridge}"})
    assert status == 200


def test_unknown_accounts_and_wrong_passwords_get_the_same_answer(bridge):
    unknown, wrong = login(bridge, f"nobody{uuid.uuid4().hex[:6]}"), login(bridge, "bob", "not the password")
    assert (unknown.status_code, unknown.json()) == (wrong.status_code, wrong.json()) == (
        401, {"error": {"code": "invalid_credentials", "message": "wrong agent name or password"}})


@pytest.fixture()
def throttled(redis_url, rasa_url):
    """Two bridge processes over one Redis with small login limits: 3 free failures per account, 6 per address."""
    prefix = f"hbthrottle{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "tess")
    limits = {"HANDOFF_LOGIN_FREE_PER_ACCOUNT": "3", "HANDOFF_LOGIN_FREE_PER_ADDRESS": "6"}
    with running_bridge(redis_url, rasa_url, "bridge-throttle-a", prefix, **limits) as first, \
            running_bridge(redis_url, rasa_url, "bridge-throttle-b", prefix, **limits) as second:
        yield first, second
    delete_prefixed_keys(redis_url, prefix)


def test_password_guesses_are_held_back_per_account_across_processes(throttled):
    first, second = throttled
    for address in (first, second, first):  # the free failures, counted in Redis whichever process hears them
        assert login(address, "tess", "guess-guess").status_code == 401
    assert login(second, "tess", "guess-guess").status_code == 401  # the 4th: the next waits 1 s
    held = login(first, "tess")  # even the right password waits its turn
    assert held.status_code == 429 and held.json()["error"]["code"] == "too_many_attempts"
    assert 1 <= int(held.headers["Retry-After"]) <= 2
    time.sleep(1.1)
    assert login(second, "tess", "guess-guess").status_code == 401  # the 5th: 2 s now
    assert login(first, "tess").status_code == 429
    time.sleep(2.1)
    assert login(first, "tess").status_code == 200  # and the account's count starts again


def test_guesses_at_many_accounts_from_one_address_are_held_back(throttled):
    first, second = throttled
    for number in range(7):  # 6 free, then the address waits (unknown names count as known ones do)
        assert login(first if number % 2 else second, f"guess{number}", "guess-guess").status_code == 401
    held = login(first, "tess")
    assert held.status_code == 429 and int(held.headers["Retry-After"]) >= 1


def test_behind_a_trusted_proxy_guesses_hold_back_the_guessing_address_only(redis_url, rasa_url):
    prefix = f"hbthrottle{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "tess")
    settings = {"HANDOFF_LOGIN_FREE_PER_ACCOUNT": "100", "HANDOFF_LOGIN_FREE_PER_ADDRESS": "3",
                "HANDOFF_TRUSTED_PROXIES": "127.0.0.1/32"}

    def login_from(bridge: str, client: str, name: str, password: str = AGENT_PASSWORD) -> requests.Response:
        return requests.post(f"http://{bridge}/api/agents/login", json={"name": name, "password": password},
                             headers={"X-Forwarded-For": client}, timeout=10)

    try:
        with running_bridge(redis_url, rasa_url, "bridge-throttle-proxy", prefix, **settings) as bridge:
            for number in range(4):  # 3 free failures, then the guessing address waits
                assert login_from(bridge, "203.0.113.7", f"guess{number}", "guess-guess").status_code == 401
            assert login_from(bridge, "203.0.113.7", "tess").status_code == 429
            # Everyone else comes through the same proxy, and is not held back for the guesser.
            assert login_from(bridge, "198.51.100.20", "tess").status_code == 200
    finally:
        delete_prefixed_keys(redis_url, prefix)


def test_other_host_names_are_refused_on_every_route_and_socket(bridge):
    port = bridge.rsplit(":", 1)[1]
    for path in ("/", "/console", "/health", "/widget/chat.js", "/ws/customer"):
        status, body = get(bridge, path, f"evil.example:{port}")
        assert status == 421 and json.loads(body)["error"]["code"] == "unknown_host", (path, status, body)
        assert get(bridge, path, f"localhost:{port}")[0] != 421

    upgrade = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}", "Upgrade": "websocket",
               "Connection": "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}
    connection = http.client.HTTPConnection(bridge, timeout=10)
    try:
        connection.request("GET", "/ws/customer", headers=upgrade)
        assert connection.getresponse().status == 421  # not 101: no socket for a rebound page
    finally:
        connection.close()


def test_a_malformed_host_is_refused_like_an_unknown_one(bridge):
    """Found by an attacker: "localhost:8080 evil" passed as localhost."""
    port = bridge.rsplit(":", 1)[1]
    for host in (f"localhost:{port} evil", f"localhost:{port}evil", "localhost:", f"localhost:{port}:1",
                 "localhost:abc", f"localhost :{port}", "local host", "[::1", "[::1]x", f"localhost/:{port}",
                 f"user@localhost:{port}", "localhost:999999", f"localhost.:{port}", f"127.0.0.1@evil:{port}", ""):
        for path in ("/health", "/widget/chat.js"):
            status, body = get(bridge, path, host)
            assert status == 421 and json.loads(body)["error"]["code"] == "unknown_host", (host, path, status, body)
    for host in (f"localhost:{port}", "localhost", f"LOCALHOST:{port}", f"127.0.0.1:{port}"):
        assert get(bridge, "/health", host)[0] == 200, host


def with_hosts(address: str, path: str, hosts: Tuple[str, ...], headers: Dict[str, str]) -> Tuple[int, bytes]:
    """A GET with each of ``hosts`` as a Host header of its own (http.client sends one otherwise)."""
    connection = http.client.HTTPConnection(address, timeout=10)
    try:
        connection.putrequest("GET", path, skip_host=True)
        for host in hosts:
            connection.putheader("Host", host)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        reply = connection.getresponse()
        return reply.status, reply.read()
    finally:
        connection.close()


def test_a_request_with_two_host_headers_is_refused(bridge):
    """Found by an attacker: a known Host followed by another was answered as the first (RFC 9112: 400)."""
    port = bridge.rsplit(":", 1)[1]
    own = f"localhost:{port}"
    upgrade = {"Origin": f"http://{own}", "Upgrade": "websocket", "Connection": "Upgrade",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}
    for path, headers in (("/health", {}), ("/widget/chat.js", {}), ("/ws/customer", upgrade)):
        for hosts in ((own, "evil.example"), (own, own), ("evil.example", own)):
            status, body = with_hosts(bridge, path, hosts, headers)
            assert status == 400 and json.loads(body)["error"]["code"] == "malformed", (path, hosts, status, body)
        assert with_hosts(bridge, path, (own,), headers)[0] in (101, 200), path


def test_head_answers_like_get_without_the_body(bridge):
    """Found by an attacker: HEAD / and /console answered 405, HEAD of a widget file said 0 bytes."""
    for path in ("/", "/console", "/health", "/widget/chat.js", "/widget/console/console.js"):
        got = requests.get(f"http://{bridge}{path}", timeout=10)
        assert got.status_code == 200, path
        head = requests.head(f"http://{bridge}{path}", timeout=10)
        assert head.status_code == 200 and head.content == b"", (path, head.status_code)
        assert head.headers["content-length"] == str(len(got.content)), path
        assert head.headers["content-type"] == got.headers["content-type"], path
    assert requests.head(f"http://{bridge}/api/agents/login", timeout=10).status_code == 405


def test_metrics_and_readiness_are_served_on_the_loopback_admin_port_only(bridge):
    for path in ("/metrics", "/ready"):
        assert requests.get(f"http://{bridge}{path}", timeout=5).status_code == 404
    admin = admin_address(bridge)
    assert admin.startswith("127.0.0.1:") and admin != bridge
    assert requests.get(f"http://{admin}/ready", timeout=5).json()["ready"] is True
    assert "handoff_queue_length" in requests.get(f"http://{admin}/metrics", timeout=5).text
    assert requests.get(f"http://{bridge}/health", timeout=5).json() == {"status": "ok"}
    status, body = get(admin, "/metrics", f"evil.example:{admin.rsplit(':', 1)[1]}")  # rebound to loopback
    assert status == 421 and json.loads(body)["error"]["code"] == "unknown_host"


def test_error_bodies_carry_no_addresses_or_exception_text(rasa_url):
    with running_redis("redis-guard") as redis_server:
        prefix = f"hberrors{uuid.uuid4().hex[:6]}"
        add_agent(redis_server.url, prefix, "ann")
        with running_bridge(redis_server.url, rasa_url, "bridge-errors", prefix) as address:
            token = login(address, "ann").json()["token"]
            redis_server.stop()
            internal = (str(redis_server.port), "127.0.0.1", "Error", "Errno", "Traceback", "Connection", "refused")
            status, _, body = post(address, "/api/agents/login",
                                   json.dumps({"name": "ann", "password": AGENT_PASSWORD}).encode(),
                                   {"Content-Type": "application/json"})
            assert status == 500 and json.loads(body) == {"error": {
                "code": "internal_error", "message": "something went wrong on our side; please try again"}}
            ready = requests.get(f"http://{admin_address(address)}/ready", timeout=10)
            assert ready.status_code == 503 and ready.json()["checks"]["redis"] == "unavailable"

            async def hello() -> str:
                async with websockets.connect(f"ws://{address}/ws/customer") as ws:
                    await ws.send(json.dumps({"type": "hello", "id": "h", "data": {}}))
                    return str(await asyncio.wait_for(ws.recv(), 10))

            reply = asyncio.run(hello())
            assert json.loads(reply)["data"]["message"] == "something went wrong on our side; please reconnect"

            async def agent_connects() -> str:
                async with websockets.connect(f"ws://{address}/ws/agent", subprotocols=login_protocols(token)) as ws:
                    return str(await asyncio.wait_for(ws.recv(), 10))

            agent_reply = asyncio.run(agent_connects())
            assert json.loads(agent_reply)["data"] == {
                "code": "internal_error", "message": "something went wrong on our side; please reconnect"}
            for text in (body.decode(), ready.text, reply, agent_reply):
                assert not any(word in text for word in internal), text


async def closed_reason(agent: Agent, timeout: float) -> Optional[str]:
    """The close reason of an agent's socket the bridge closes (reading what comes meanwhile)."""
    try:
        while True:
            await asyncio.wait_for(agent.ws.recv(), timeout)
    except ConnectionClosed as closed:
        return closed.rcvd.reason if closed.rcvd else None


async def first_error(address: str, token: str) -> str:
    """The error code an agent socket with this token gets first ("let in" when it gets its own status, which
    comes first once let in)."""
    async with websockets.connect(f"ws://{address}/ws/agent", subprotocols=login_protocols(token)) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        return "let in" if first["type"] == "agent_status" else str(first["data"]["code"])


def logout(address: str, token: str) -> requests.Response:
    return requests.post(f"http://{address}/api/agents/logout", headers={"Authorization": f"Bearer {token}"},
                         json={}, timeout=10)


def test_logout_ends_every_login_of_the_account_and_closes_its_sockets(bridge, second_bridge, redis_url, bridge_prefix):
    add_agent(redis_url, bridge_prefix, "lou", "--roles", "agent,supervisor")

    async def scenario() -> None:
        here, there = login(bridge, "lou").json()["token"], login(second_bridge, "lou").json()["token"]
        connected = Agent(second_bridge, token=there)
        await connected.open()
        await connected.expect("queue")
        dashboard = Agent(bridge, token=here, endpoint="supervisor")
        await dashboard.open()
        await dashboard.expect("dashboard")
        assert logout(bridge, here).json() == {"logged_out": "lou"}
        # Closed at their next check, by either process, with a reason the console can show.
        assert await asyncio.gather(closed_reason(connected, 15), closed_reason(dashboard, 15)) == [
            "login revoked; log in again"] * 2
        for token in (here, there):
            assert await first_error(bridge, token) == "invalid_token"
        assert logout(bridge, here).status_code == 401  # ended already
        fresh = login(bridge, "lou").json()["token"]  # a new login works
        agent = Agent(bridge, token=fresh)
        await agent.open()
        await agent.expect("queue")
        await agent.close()

    asyncio.run(scenario())


def test_a_new_password_or_removal_ends_earlier_logins(bridge, redis_url, bridge_prefix):
    add_agent(redis_url, bridge_prefix, "rhea")
    token = login(bridge, "rhea").json()["token"]
    assert asyncio.run(first_error(bridge, token)) == "let in"
    add_agent(redis_url, bridge_prefix, "rhea")  # a password reset
    assert asyncio.run(first_error(bridge, token)) == "invalid_token"
    token = login(bridge, "rhea").json()["token"]
    assert asyncio.run(first_error(bridge, token)) == "let in"
    subprocess.run(bridge_command("-m", "handoff.auth", "remove", "rhea"), cwd=ROOT, check=True, capture_output=True,
                   env=bridge_env({"REDIS_URL": redis_url, "HANDOFF_KEY_PREFIX": bridge_prefix}))
    assert asyncio.run(first_error(bridge, token)) == "invalid_token"


def test_tokens_are_refused_in_the_url(bridge):
    token = login(bridge, "ann").json()["token"]

    async def scenario() -> None:
        with pytest.raises(InvalidStatusCode):  # no subprotocol offered: the handshake itself fails
            await websockets.connect(f"ws://{bridge}/ws/agent?token={token}")
        async with websockets.connect(f"ws://{bridge}/ws/agent?token={token}", subprotocols=login_protocols("")) as ws:
            assert json.loads(await ws.recv())["data"]["code"] == "invalid_token"

    asyncio.run(scenario())


def test_customers_see_the_display_name_never_the_login_name(bridge, redis_url, bridge_prefix):
    add_agent(redis_url, bridge_prefix, "dee-x42", "--display-name", "Dee")

    async def scenario() -> None:
        customer = await queued_customer(bridge)
        agent = await staff(bridge, "dee-x42")
        await agent.send("claim", {"conversation_id": customer.conversation_id}, id="claim")
        status = await customer.expect("status", state="agent")
        assert status["data"]["agent"] == "Dee"
        await agent.say("Hello, I am here to help", conversation_id=customer.conversation_id)
        message = await customer.expect("message", kind="agent")
        assert message["data"]["data"]["agent"] == "Dee"
        own = await agent.expect("message", kind="agent")
        assert own["data"]["data"]["agent"] == "dee-x42"  # the console knows its own messages by the login name
        await agent.send("close", {"conversation_id": customer.conversation_id}, id="close")
        await customer.expect("status", state="closed")
        everything = json.dumps(customer.received + [status, message])
        assert "dee-x42" not in everything and "dee" not in everything.replace("Dee", "")
        await customer.close()
        await agent.close()
        assert login(bridge, "dee-x42").json()["display_name"] == "Dee"

    asyncio.run(scenario())


def test_display_names_with_markup_bidi_controls_or_another_agents_name_are_refused(redis_url, bridge_prefix):
    """Found by an attacker: 'Ann <img src=x onerror=alert(1)>' was accepted, and two agents could both be "Bob"."""
    env = bridge_env({"REDIS_URL": redis_url, "HANDOFF_KEY_PREFIX": bridge_prefix,
                      "HANDOFF_AGENT_PASSWORD": AGENT_PASSWORD})

    def add(name: str, display_name: str) -> subprocess.CompletedProcess:
        return subprocess.run(bridge_command("-m", "handoff.auth", "add", name, "--display-name", display_name),
                              cwd=ROOT, env=env, capture_output=True, text=True)

    refused = {
        "Ann <img src=x onerror=alert(1)>": "'<' or '>'",
        "Ann \u202eeoJ": "control or direction",
        "Ann\u200bLee": "control or direction",
        "A" * 41: "at most 40",
    }
    for display_name, reason in refused.items():
        added = add("mallory", display_name)
        assert added.returncode == 2 and reason in added.stderr and "Traceback" not in added.stderr, \
            (display_name, added.stderr)
    assert add("fe2rob", "Robin").returncode == 0
    twin = add("rob2", " robin ")
    assert twin.returncode == 2 and "fe2rob is already shown to customers as 'Robin'" in twin.stderr, twin.stderr
    assert add("fe2rob", "Robin").returncode == 0, "an account keeps its own name when reset"
    assert add("rob2", "Robin Two").returncode == 0
    listed = subprocess.run(bridge_command("-m", "handoff.auth", "list"), cwd=ROOT, env=env, capture_output=True,
                            text=True).stdout
    assert "mallory" not in listed and "shown_as=Robin Two" in listed


def test_content_editors_answers_may_use_only_the_brand_placeholders(bridge, redis_url, bridge_prefix):
    add_agent(redis_url, bridge_prefix, "cole", "--roles", "content")
    token = login(bridge, "cole").json()["token"]

    async def scenario() -> None:
        editor = Agent(bridge, token=token, endpoint="content")
        await editor.open()
        await editor.expect("catalog")
        for kind, request in (
                ("new_faq", {"item_ids": ["i1"], "key": "k", "category": "cards",
                             "answer": "We will call you on {callback_phone}."}),
                ("new_intent", {"item_ids": ["i1"], "name": "ask_x", "answer": "Because {  handoff_evidence }"})):
            await editor.send(kind, request, id=kind)
            refused = await editor.next_matching(lambda e, kind=kind: e["id"] == kind, f"the reply to {kind}", 10)
            assert refused["type"] == "error" and refused["data"]["code"] == "malformed"
            assert refused["data"]["message"].startswith(
                "answers may only use the placeholders {bank_name}, {help_url}, {support_phone}, {support_email}")
        await editor.close()

    asyncio.run(scenario())
