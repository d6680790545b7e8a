"""The Redis store against a real redis-server (started by tests/conftest.py)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Awaitable, Callable

import pytest

from handoff.exceptions import ConversationNotFound, InvalidTransition
from handoff.machine import (
    AgentClaimed, Closed, Conversation, CustomerAskedForPerson, State, Transferred, apply,
)
from handoff.rules import announcements, notices
from handoff.store import NewMessages, Routing, Store
from tests.conftest import fresh_prefix


def run(redis_url: str, scenario: Callable[[Store], Awaitable[Any]]) -> Any:
    """Run ``scenario`` with a store under a fresh prefix, whose keys are deleted after."""

    async def main() -> Any:
        async with fresh_prefix(redis_url, "test") as (client, prefix):
            return await scenario(Store(client, prefix=prefix))

    return asyncio.run(main())


def test_a_conversation_round_trips_and_checks_its_token(redis_url):
    async def scenario(store: Store) -> None:
        await store.create("c1", "secret-token")

        assert await store.load("c1") == Conversation("c1")
        assert await store.token_matches("c1", "secret-token")
        assert not await store.token_matches("c1", "guess")
        assert not await store.token_matches("nope", "secret-token")

    run(redis_url, scenario)


def test_a_retried_send_is_stored_once_and_replay_starts_after_the_last_seen(redis_url):
    async def scenario(store: Store) -> None:
        await store.create("c1", "secret-token")
        first = await store.append("c1", "customer", "key-1", "hello")
        again = await store.append("c1", "customer", "key-1", "hello")
        second = (await store.append("c1", "bot", "bot-1", "hi there", {"buttons": []})).id

        assert first.added and not again.added and again.id == first.id
        assert first.state is State.BOT, "the append reports whom the conversation was with, in the same step"
        assert [m["text"] for m in await store.messages_after("c1", None)] == ["hello", "hi there"]
        [after] = await store.messages_after("c1", first.id)
        assert after["id"] == second and after["kind"] == "bot" and after["data"] == {"buttons": []}

    run(redis_url, scenario)


def test_a_stale_write_is_refused(redis_url):
    async def scenario(store: Store) -> None:
        conversation = await store.create("c1", "t")
        queued, _ = apply(conversation, CustomerAskedForPerson())

        stored = await store.commit(conversation, queued, queue="add")
        assert stored is not None and stored.version == 1
        assert await store.commit(conversation, queued, queue="add") is None  # read before the change
        assert (await store.load("c1")).state is State.QUEUED
        assert (await store.load_waiting("c1")).position == 1

    run(redis_url, scenario)


def test_the_notices_and_announcements_of_a_change_are_written_by_the_commit_itself(redis_url):
    """One script stores the change and what follows it (a bridge killed after the commit loses
    none of it: tests/drills/test_bridge_killed.py); a stale commit writes neither."""

    async def scenario(store: Store) -> None:
        queued, _ = apply(await store.create("c1", "t"), CustomerAskedForPerson())
        queued = await store.commit(Conversation("c1"), queued, queue="add")
        claimed, effects = apply(queued, AgentClaimed("ann"))
        follows = notices(queued.version + 1, effects)
        state, queue_changed = announcements(queued, claimed)
        live = store.redis.pubsub()
        await live.subscribe(store.live_channel("c1"), store.queue_channel)
        await live.get_message(timeout=1)
        await live.get_message(timeout=1)  # the two subscriptions confirmed

        stored = await store.commit(queued, claimed, queue="remove", notices=follows, state=state,
                                    queue_changed=queue_changed)
        stale = await store.commit(queued, claimed, queue="remove", notices=notices(queued.version + 1, effects))

        assert stored is not None and stored.state is State.AGENT and stale is None
        [joined] = await store.messages_after("c1", None)
        assert (joined["kind"], joined["data"], joined["client_id"]) == ("system", {"notice": "agent_joined"}, "")
        heard = []
        while (message := await live.get_message(timeout=1)) is not None:
            heard.append((message["channel"].decode(), json.loads(message["data"])))
        assert heard == [(store.live_channel("c1"), {"state": "agent"}),
                         (store.queue_channel, {"conversation": "c1"}),
                         (store.live_channel("c1"), {"message": joined["id"], "after": None,
                                                     "entry": {k: v for k, v in joined.items() if k != "id"}})]
        assert store.announced(heard[2][1]) == NewMessages(None, [joined]), "announced as an append's message is"
        await live.reset()

    run(redis_url, scenario)


def test_what_a_queued_customer_writes_is_announced_to_the_agents_only_by_the_append_itself(redis_url):
    """The queue card's "said" update: published by the script that stores the message (no command of its
    own), on the agents' channel only: not on the queue's channel (queued customers and supervisors listen
    there) nor on the conversation's live channel; only for a typed message while queued."""

    async def scenario(store: Store) -> None:
        await store.create("c1", "t")
        await store.append("c1", "customer", "customer:k0", "my card is stuck")  # with the bot: no card to update
        queued, _ = apply(Conversation("c1"), CustomerAskedForPerson())
        assert await store.commit(Conversation("c1"), queued, queue="add") is not None
        listening = store.redis.pubsub()
        await listening.subscribe(store.said_channel, store.queue_channel, store.live_channel("c1"))
        for _ in range(3):
            await listening.get_message(timeout=1)  # the subscriptions confirmed

        typed = await store.append("c1", "customer", "customer:k1", "sorry, the cat walked on the keyboard")
        await store.append("c1", "customer", "customer:k2", "Yes", {"payload": "/affirm"})  # a button: not a message
        await store.append("c1", "customer", "customer:k1", "sorry, the cat walked on the keyboard")  # resent
        heard = []
        while (message := await listening.get_message(timeout=0.3)) is not None:
            heard.append((message["channel"].decode(), json.loads(message["data"])))
        await listening.reset()

        assert [payload for channel, payload in heard if channel == store.said_channel] == [{"said": "c1"}]
        assert all(channel == store.live_channel("c1") for channel, _ in heard if channel != store.said_channel)
        assert not any("said" in payload for channel, payload in heard if channel != store.said_channel)
        assert [payload["message"] for channel, payload in heard if channel == store.live_channel("c1")][0] == typed.id

    run(redis_url, scenario)


def test_two_agents_claiming_at_once_only_one_wins(redis_url):
    async def scenario(store: Store) -> None:
        conversation = await store.create("c1", "t")
        queued = await store.commit(conversation, apply(conversation, CustomerAskedForPerson())[0], queue="add")
        assert queued is not None

        async def claim(agent: str) -> bool:
            current = await store.load("c1")
            if current.state is not State.QUEUED:
                return False
            claimed, _ = apply(current, AgentClaimed(agent))
            return await store.commit(current, claimed, queue="remove") is not None

        results = await asyncio.gather(*(claim(f"agent-{n}") for n in range(8)))

        assert sum(results) == 1
        final = await store.load("c1")
        assert final.state is State.AGENT and final.agent == f"agent-{results.index(True)}"
        assert await store.queue() == []

    run(redis_url, scenario)


def test_the_front_of_the_queue_goes_before_everyone(redis_url):
    async def scenario(store: Store) -> None:
        for name in ("a", "b", "c"):
            conversation = await store.create(name, "t")
            await store.commit(conversation, apply(conversation, CustomerAskedForPerson())[0], queue="add")
            await asyncio.sleep(0.002)
        requeued = await store.create("d", "t")
        await store.commit(requeued, apply(requeued, CustomerAskedForPerson())[0], queue="front")

        assert [member for member, _ in await store.queue()] == ["d", "a", "b", "c"]
        assert (await store.load_waiting("b")).position == 3

    run(redis_url, scenario)


def test_unknown_conversations_are_reported(redis_url):
    async def scenario(store: Store) -> None:
        with pytest.raises(ConversationNotFound):
            await store.load("missing")

    run(redis_url, scenario)


def test_a_message_is_routed_once_and_a_dead_routers_lease_runs_out(redis_url):
    async def scenario(store: Store) -> None:
        await store.create("c1", "t")
        first = (await store.append("c1", "customer", "customer:k1", "hello")).id
        second = (await store.append("c1", "customer", "customer:k2", "anyone?")).id

        assert await store.take_routing("c1", first, "p1", lease_ms=60_000) is Routing.TAKEN
        assert await store.take_routing("c1", first, "p2", lease_ms=60_000) is Routing.HELD, "a retry waits for it"
        await store.routed("c1", first)
        assert await store.take_routing("c1", first, "p2", lease_ms=60_000) is Routing.DONE

        # The process routing the second renews its lease while it lives; then it is killed.
        assert await store.take_routing("c1", second, "p1", lease_ms=100) is Routing.TAKEN
        assert await store.keep_routing("c1", second, "p1", lease_ms=60_000)
        await asyncio.sleep(0.15)
        assert await store.take_routing("c1", second, "p2", lease_ms=60_000) is Routing.HELD, "renewed: held past 100 ms"
        assert await store.keep_routing("c1", second, "p1", lease_ms=1)  # its last renewal, then it died
        await asyncio.sleep(0.05)
        assert await store.take_routing("c1", second, "p2", lease_ms=60_000) is Routing.RETAKEN
        # The dead holder (had it only stalled) can neither renew nor give back the new holder's lease.
        assert not await store.keep_routing("c1", second, "p1", lease_ms=60_000)
        assert not await store.keep_routing("c1", second, "p1", lease_ms=0)
        assert await store.take_routing("c1", second, "p3", lease_ms=60_000) is Routing.HELD
        assert await store.keep_routing("c1", second, "p2", lease_ms=0)  # failed half-way: given back
        assert await store.take_routing("c1", second, "p3", lease_ms=60_000) is Routing.TAKEN

    run(redis_url, scenario)


def test_what_was_stored_in_answer_to_a_message_is_found_by_its_id(redis_url):
    async def scenario(store: Store) -> None:
        await store.create("c1", "t")
        asked = (await store.append("c1", "customer", "customer:k1", "my card?")).id
        other = (await store.append("c1", "customer", "customer:k2", "and my pin?")).id
        assert await store.answers_to("c1", asked) == []
        await store.append("c1", "bot", f"bot:{asked}:0", "It takes 5 days.", {"buttons": []})
        await store.append("c1", "bot", f"bot:{other}:0", "Not this one.")
        await store.append("c1", "bot", f"bot:{asked}:1", "Did that help?")
        answers = await store.answers_to("c1", asked)
        assert [(m["kind"], m["text"], m["data"]) for m in answers] == [
            ("bot", "It takes 5 days.", {"buttons": []}), ("bot", "Did that help?", {})]
        await store.append("c1", "system", f"bot-down:{other}", "Sorry", {"notice": "bot_unavailable"})
        assert [m["data"].get("notice") for m in await store.answers_to("c1", other)] == [None, "bot_unavailable"]

    run(redis_url, scenario)


def test_group_queues_times_and_handling_change_with_the_conversation(redis_url):
    async def scenario(store: Store) -> None:
        async def step(conversation_id: str, event: Any, queue: str, by: str = "") -> Conversation:
            before = await store.load(conversation_id)
            stored = await store.commit(before, apply(before, event)[0], queue=queue, transferred_by=by)
            assert stored is not None
            return stored

        for name, group in (("a", "general"), ("b", "cards"), ("c", "general")):
            await store.create(name, "t")
            await step(name, CustomerAskedForPerson(group), "add")
        assert await store.redis.zrange(f"{store.prefix}:queue:general", 0, -1) == [b"a", b"c"]
        waiting = await store.load_waiting("c")
        assert (waiting.position, waiting.waiting, waiting.agents) == (2, {"general": 2}, {})  # nobody online

        first = (await store.times("a"))["waiting_since"]
        await step("a", AgentClaimed("ann"), "remove")
        assert await store.redis.zrange(f"{store.prefix}:queue:general", 0, -1) == [b"c"]
        await asyncio.sleep(0.01)
        await step("a", Transferred("ann", to_group="cards"), "front", by="ann")
        assert await store.redis.zrange(f"{store.prefix}:queue:cards", 0, -1) == [b"a", b"b"]
        times = await store.times("a")
        assert times["waiting_since"] == first and times["queued_at"] > first, "a transfer keeps the wait so far"
        cards = await store.group_figures("cards")
        assert cards.positions == {"a": 1, "b": 2}
        place_of_a = await store.redis.zscore(f"{store.prefix}:queue:cards", "a")  # b's queueing time, less 1 ms
        assert cards.ahead_since_ms(2) == min(first, place_of_a), "b is told at least a's whole wait, not from a's new place"
        assert cards.ahead_since_ms(1) is None and cards.ahead_since_ms(None) is None
        assert (await store.redis.hget(f"{store.prefix}:conv:a", "transferred_by")) == b"ann"
        handled = [int(value) for value in await store.redis.lrange(f"{store.prefix}:handling", 0, -1)]
        assert len(handled) == 1 and handled[0] >= 10, "the agent's part ended: its handling time is kept"
        assert int(await store.ready_since("ann") or 0) >= int(times["queued_at"]), "ann is free for the next one"

        await store.record_claim("cards", "x", 1_000, 5_000, 60_000)
        await store.record_give_up("cards", "z", 2_000, 90_000)
        await store.record_claim("cards", "y", 1_000 + 31 * 60_000, 7_000, 8_000)  # the first two are out of the window now
        assert await store.redis.zrange(f"{store.prefix}:claims:cards", 0, -1) == [b"y:1861000:7000"]
        assert await store.redis.zrange(f"{store.prefix}:exits:cards", 0, -1) == [b"y:1861000:8000:claimed"]
        now = int(time.time() * 1000)
        await store.record_claim("general", "u", now, 2_000, 30_000)
        await store.record_give_up("general", "v", now, 90_000)
        figures = await store.group_figures("general")
        assert sorted(figures.exits) == [(now, 30_000, False), (now, 90_000, True)], "what the estimate reads"
        assert (await store.group_figures("cards")).exits == [], "the reading is of the last half hour only"

    run(redis_url, scenario)


def test_the_wait_figures_read_when_each_chat_in_progress_was_taken(redis_url):
    """The ages of the chats in progress (handoff.estimate): each claimed_at, written by the commit that gave
    the chat to its agent, read with the queued customers' times while someone is queued in the group."""
    async def scenario(store: Store) -> None:
        await store.redis.hset(f"{store.prefix}:agents", "ann", json.dumps({"groups": ["all"], "max_chats": 3,
                                                                           "roles": ["agent"]}))
        await store.mark_online("ann", "ann-socket", 30_000, arriving=True)
        for name in ("a", "b", "c"):
            conversation = await store.create(name, "t")
            queued = await store.commit(conversation, apply(conversation, CustomerAskedForPerson())[0], queue="add")
            assert queued is not None
            if name != "c":
                assert await store.commit(queued, apply(queued, AgentClaimed("ann"))[0], queue="remove") is not None
        taken = [int((await store.times(name))["claimed_at"]) for name in ("a", "b")]
        figures = await store.group_figures("general")
        assert figures.agents == {"ann": (["all"], 3, 2)} and figures.positions == {"c": 1}
        assert figures.started_ms == {"ann": taken}
        assert (await store.load_waiting("c")).started_ms == {"ann": taken}, "what the customer's estimate reads"
        await store.redis.delete(f"{store.prefix}:conv:b")  # expired meanwhile: ann's ages are not all known
        assert (await store.group_figures("general")).started_ms == {}
        await store.redis.zrem(f"{store.prefix}:queue:general", "c")
        assert (await store.group_figures("general")).started_ms == {}, "nobody queued: nothing read"

    run(redis_url, scenario)


def test_the_wait_figures_count_those_queued_ahead_of_each_customer_in_every_group(redis_url):
    """An agent's free slot takes the oldest customer it sees: the estimate shares the agent's slots by those
    ahead of the customer (handoff.estimate), read from the queues' scores in the same round trip."""
    async def scenario(store: Store) -> None:
        await store.redis.hset(f"{store.prefix}:agents", "ann", json.dumps({"groups": ["all"], "max_chats": 1,
                                                                           "roles": ["agent"]}))
        await store.mark_online("ann", "ann-socket", 30_000, arriving=True)
        for name, group in (("a", "general"), ("b", "cards"), ("c", "general"), ("d", "cards")):
            conversation = await store.create(name, "t")
            assert await store.commit(conversation, apply(conversation, CustomerAskedForPerson(group))[0],
                                      queue="add") is not None
            await asyncio.sleep(0.002)  # queued in this order
        cards = await store.group_figures("cards")
        assert cards.waiting == {"cards": 2, "all": 4}
        assert (cards.ahead("cards", 1), cards.ahead("cards", 2)) == ({"cards": 1, "all": 2}, {"cards": 2, "all": 4})
        assert cards.ahead("cards", 3) is None and cards.ahead("cards", None) is None, "not among those read"
        waiting = await store.load_waiting("b")
        assert (waiting.waiting, waiting.ahead) == ({"cards": 2, "all": 4}, {"cards": 1, "all": 2}), "c, d: behind b"

    run(redis_url, scenario)


def test_the_agents_serving_anyone_are_kept_by_the_commit_and_found_without_a_scan(redis_url):
    async def scenario(store: Store) -> None:
        async def queued(conversation_id: str) -> Conversation:
            conversation = await store.create(conversation_id, "t")
            stored = await store.commit(conversation, apply(conversation, CustomerAskedForPerson())[0], queue="add")
            assert stored is not None
            return stored

        async def move(current: Conversation, event: Any, queue: str) -> Conversation:
            stored = await store.commit(current, apply(current, event)[0], queue=queue)
            assert stored is not None
            return stored

        first = await move(await queued("c1"), AgentClaimed("ann"), "remove")
        second = await move(await queued("c2"), AgentClaimed("ann"), "remove")
        assert await store.agents_serving() == ["ann"]
        await move(second, Transferred("ann", to_agent="bob"), "")
        assert await store.agents_serving() == ["ann", "bob"]
        await move(first, Closed("ann"), "")
        assert await store.agents_serving() == ["bob"], "ann serves nobody now"
        await store.forget_serving("bob", "c2")
        assert await store.agents_serving() == []

        # Serving sets from before the index: a starting process lists their agents.
        await store.redis.sadd(store.key("serving", "cy"), "c3")
        await store.index_agents_serving()
        assert await store.agents_serving() == ["cy"]

    run(redis_url, scenario)


def test_a_customer_message_counts_its_conversation_once_in_the_step_that_stores_it(redis_url):
    """What Store.count_once does, done by the append (a bot turn's first message costs no more round trips)."""

    async def scenario(store: Store) -> None:
        await store.create("c1", "t")
        counted = ("counted:2026-12-06", "2026-12-06", ["conversations", "hour:09:conversations"])
        for key in ("k1", "k2", "k2"):
            await store.append("c1", "customer", f"customer:{key}", "hello", count_once=counted)
        assert not await store.count_once("c1", *counted)  # counted already
        counters, _ = await store.day("2026-12-06")
        assert counters == {"conversations": 1, "hour:09:conversations": 1}

    run(redis_url, scenario)


def test_a_conversation_that_is_gone_gets_nothing_written_again(redis_url):
    """A forget (handoff.forget) erases the conversation's keys while its sockets and a bot turn may still be
    at work: a later message is refused, and a late bot answer or routing step writes no key back."""
    async def scenario(store: Store) -> None:
        await store.create("c1", "secret-token")
        message_id = (await store.append("c1", "customer", "key-1", "hello")).id
        await store.redis.delete(store.key("conv", "c1"), store.key("log", "c1"), store.key("idem", "c1"))

        with pytest.raises(ConversationNotFound):
            await store.append("c1", "customer", "key-2", "one more thing")
        assert await store.take_routing("c1", message_id, "p1", lease_ms=60_000) is Routing.DONE
        await store.routed("c1", message_id)
        assert not await store.keep_routing("c1", message_id, "p1", lease_ms=60_000)
        with pytest.raises(InvalidTransition):  # dropped, as after a person took over
            await store.answer("c1", message_id, [{"text": "late answer"}], routed=True)
        assert [key async for key in store.redis.scan_iter(f"{store.key('')}*c1*")] == []

    run(redis_url, scenario)


def test_a_pressed_button_is_checked_against_the_newest_messages_read_in_one_round_trip(redis_url):
    """Store.buttons_to_check: the newest messages while a check is due; nothing to check for a button sent
    before (checked then), nor in a closed or gone conversation (the append refuses it, saying why)."""
    async def scenario(store: Store) -> None:
        await store.create("c1", "t")
        await store.append("c1", "bot", "bot-1", "Shall I?", {"buttons": [{"title": "Yes", "payload": "/affirm"}]})
        await store.append("c1", "customer", "customer:k1", "Yes", {"payload": "/affirm"})
        newest = await store.buttons_to_check("c1", "customer:k2", 20)
        assert [message["text"] for message in newest or []] == ["Yes", "Shall I?"], "newest first"
        assert await store.buttons_to_check("c1", "customer:k1", 20) is None, "sent before: checked then"
        assert await store.buttons_to_check("gone", "customer:k2", 20) is None
        closed = Conversation("c1", state=State.CLOSED)
        assert await store.commit(Conversation("c1"), closed) is not None
        assert await store.buttons_to_check("c1", "customer:k2", 20) is None

    run(redis_url, scenario)


def test_the_append_says_whether_a_queued_customers_stay_has_had_its_once_per_stay_notice(redis_url):
    """Store.append's ``told_once``: the step that stores a queued customer's message finds the stay's notice
    missing or stored, so that later messages of a stay cost no read; with the bot, or not asked, nothing."""
    async def scenario(store: Store) -> None:
        await store.create("c1", "t")
        with_bot = await store.append("c1", "customer", "customer:k0", "hello", told_once="kept:")
        assert with_bot.untold_stay is None
        queued, _ = apply(Conversation("c1"), CustomerAskedForPerson())
        assert await store.commit(Conversation("c1"), queued, queue="add") is not None
        queued_at = (await store.times("c1"))["queued_at"]

        first = await store.append("c1", "customer", "customer:k1", "anyone?", told_once="kept:")
        assert first.untold_stay == queued_at
        assert (await store.append("c1", "customer", "customer:k1", "anyone?", told_once="kept:")).untold_stay is None, \
            "a resent message is not the stay's first"
        assert (await store.append("c1", "customer", "customer:k2", "hi")).untold_stay is None, "not asked"
        await store.append("c1", "system", f"kept:{queued_at}", "We've kept your message", {"notice": "kept_for_person"})
        assert (await store.append("c1", "customer", "customer:k3", "hello?", told_once="kept:")).untold_stay is None

    run(redis_url, scenario)


def test_the_append_that_takes_a_bot_messages_lease_brings_the_handoff_the_queue_refused(redis_url):
    """Store.append's lease comes with the refused handoff kept (Store.keep_refused_handoff), so that asking the
    bot costs no read of its own; without a lease, or once it is taken, nothing."""
    async def scenario(store: Store) -> None:
        await store.create("c1", "t")
        assert (await store.append("c1", "customer", "customer:k0", "hi", lease=("p1", 60_000))).refused_handoff is None
        kept = {"reason": "frustration", "turns": [{"text": "this is useless"}]}
        await store.keep_refused_handoff("c1", kept)
        leased = await store.append("c1", "customer", "customer:k1", "and my card?", lease=("p1", 60_000))
        assert leased.leased and leased.refused_handoff == kept
        assert (await store.append("c1", "customer", "customer:k2", "hello?")).refused_handoff is None, "no lease"
        assert await store.take_refused_handoff("c1") == kept
        assert (await store.append("c1", "customer", "customer:k3", "so?", lease=("p1", 60_000))).refused_handoff is None

    run(redis_url, scenario)
