"""Forget a customer: every conversation of a contact (or one anonymous conversation) removed from every
store, and audited (docs/data-model.md "Forget this customer").

An open chat is ended first: every socket of the conversation, on any bridge process, hears ``{"forgotten":
true}`` on its live channel (the customer is told kindly that the chat ended, the serving agent's tab closes
with the reason: handoff.connections), and only then is anything erased. Whatever those sockets send later
finds no conversation (``not_found``: the store's scripts write only to a conversation that exists, and a
hello's token is checked against the erased hash: ``invalid_token``), so no key of it comes back.

The archive goes first (archive.forget.forget_rows: the rows deleted and the conversations' tombstones
recorded, in one transaction that no archiver batch overlaps), so that nothing the outbox or an archiver
still holds can bring them back; then Redis: the live store's keys and the entries of shared keys that
refer to the conversations (the key table of handoff/store.py), Rasa's trackers (bot/tracker_store.py),
the teaching inbox (teaching/store.py) and the bot's suggestion index (bot/suggestions/index.py). The
audit entry (archive.forget.audit) says who, when and how many of each thing, never whose or what.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from dataclasses import dataclass, field
from functools import partial
from typing import Any, AsyncContextManager, Callable, Dict, List, Mapping, Optional, Set

import psycopg
from redis.asyncio import Redis

from archive.forget import archived_of, audit, forget_rows
from archive.migrate import migrate
from handoff.archive_reader import writing
from handoff.exceptions import ConversationNotFound
from handoff.mail_rules import recipient_digest
from handoff.settings import Settings

__all__ = ["ArchiveWriter", "Forgetter", "Stores"]

# Opens a connection to the archive that may write (handoff.archive_reader: ArchiveReader.writing, writing).
ArchiveWriter = Callable[[], AsyncContextManager["psycopg.AsyncConnection[Any]"]]

# Shared keys scanned for a conversation's entries (SCAN patterns after the prefix).
_SETS = ("serving:*",)
_ZSETS_BY_MEMBER = ("queue", "queue:*", "customers-seen")
_ZSETS_BY_PREFIX = ("claims:*", "exits:*")
_HASHES_BY_FIELD = ("offers", "mentions:*")
_STREAMS = ("outbox", "ratings", "requests", "mail-outbox")


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _refers(fields: Mapping[Any, Any], ids: Set[str]) -> bool:
    """A stream entry of the conversations: a field that is one of their ids (outbox "conv", ratings' and
    requests' "conversation", the mail outbox's), or the teaching inbox's JSON with their "conversation_id"."""
    for value in map(_text, fields.values()):
        if value in ids:
            return True
        if value.startswith("{") and '"conversation_id"' in value:
            try:
                if json.loads(value).get("conversation_id") in ids:
                    return True
            except ValueError:
                continue
    return False


@dataclass(frozen=True)
class Stores:
    """Where each store keeps its keys in Redis."""

    prefix: str = "hb"
    tracker_prefix: str = "support"  # endpoints.yml tracker_store key_prefix
    suggestions_prefix: str = "support"  # SUGGESTIONS_KEY_PREFIX
    teach_prefix: str = "teach"  # TEACH_KEY_PREFIX

    @classmethod
    def from_settings(cls, settings: Settings) -> "Stores":
        """The bridge's (HANDOFF_KEY_PREFIX, TRACKER_KEY_PREFIX, SUGGESTIONS_KEY_PREFIX, TEACH_KEY_PREFIX)."""
        return cls(prefix=settings.key_prefix, tracker_prefix=settings.tracker_key_prefix,
                   suggestions_prefix=settings.suggestions_key_prefix, teach_prefix=settings.teach_key_prefix)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Stores":
        """The CLI's, which runs without the bridge's settings (no HANDOFF_SECRET): the same variables."""
        return cls(prefix=env.get("HANDOFF_KEY_PREFIX", "hb"), tracker_prefix=env.get("TRACKER_KEY_PREFIX", "support"),
                   suggestions_prefix=env.get("SUGGESTIONS_KEY_PREFIX", "support"),
                   teach_prefix=env.get("TEACH_KEY_PREFIX", "teach"))


@dataclass
class Forgetter:
    """``archive``: how to open a connection that writes to the archive (None: no archive)."""

    redis: Redis
    stores: Stores
    archive: Optional[ArchiveWriter] = None
    counts: Dict[str, int] = field(default_factory=dict)

    def _count(self, kind: str, amount: int) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + int(amount)

    async def forget(self, who: str, contact_id: str = "", conversation_id: str = "") -> Dict[str, int]:
        """Forgets the contact's conversations (or the one conversation, and its customer's others when it
        was signed); returns the counts audited. ConversationNotFound: no store knows them (nothing done,
        nothing audited); ValueError: neither given."""
        if not contact_id and not conversation_id:
            raise ValueError("forget needs a contact id or a conversation id")
        self.counts = {}
        p, redis = self.stores.prefix, self.redis
        if conversation_id and not contact_id:
            contact_id = _text(await redis.hget(f"{p}:conv:{conversation_id}", "contact_id") or "")
        ids: Set[str] = set()
        if conversation_id and await redis.exists(f"{p}:conv:{conversation_id}", f"{p}:log:{conversation_id}"):
            ids.add(conversation_id)
        known = bool(contact_id) and bool(await redis.exists(f"{p}:contact:{contact_id}"))
        if contact_id:
            ids |= {_text(member) for member in await redis.zrange(f"{p}:contact-convs:{contact_id}", 0, -1)}
        if self.archive is not None:
            async with self.archive() as connection:
                await migrate(connection)  # the tombstones' table, before any archiver has made it
                archived, archived_contact = await archived_of(connection, contact_id, conversation_id)
                ids |= archived
                known = known or archived_contact
                if not ids and not known:
                    raise ConversationNotFound("no store keeps that customer or conversation")
                for kind, amount in (await forget_rows(connection, sorted(ids), contact_id or None)).items():
                    self._count(kind, amount)
        elif not ids and not known:
            raise ConversationNotFound("no store keeps that customer or conversation")
        self._count("conversations", len(ids))
        await self.end_chats(ids)
        await self._forget_live(ids, contact_id)
        if ids:  # the agents' queue cards and request lists, and the supervisors' boards, read again without them
            await self.redis.publish(f"{p}:queue-events", json.dumps({"forgotten": True, "request": "forgotten"}))
        await self._forget_trackers(ids)
        await self._forget_teaching(ids)
        await self._forget_suggestions(ids)
        await audit(redis, p, who, "contact" if contact_id else "conversation", self.counts)
        return dict(self.counts)

    async def end_chats(self, ids: Set[str]) -> None:
        """Tells every socket of the conversations, on every process, that their chat ended for good."""
        for conversation_id in sorted(ids):
            await self.redis.publish(f"{self.stores.prefix}:live:{conversation_id}", json.dumps({"forgotten": True}))

    async def _keys(self, pattern: str) -> List[str]:
        return [_text(key) async for key in self.redis.scan_iter(match=pattern, count=1000)]

    async def _forget_live(self, ids: Set[str], contact_id: str) -> None:
        p, redis = self.stores.prefix, self.redis
        recipients = set()  # the mail caps' counters are per recipient's digest (handoff.mail)
        if contact_id:
            recipients.add(_text(await redis.hget(f"{p}:contact:{contact_id}", "email") or ""))
        for conversation_id in sorted(ids):
            recipients |= {_text(value or "") for value in (
                await redis.hget(f"{p}:mail:{conversation_id}", "to"),
                await redis.hget(f"{p}:conv:{conversation_id}", "contact_email"))}
            self._count("messages", await redis.xlen(f"{p}:log:{conversation_id}"))
            own = [f"{p}:{kind}:{conversation_id}" for kind in
                   ("conv", "log", "files", "passed", "customer-sockets", "idem", "mail", "mail-lock")]
            self._count("live_keys", await redis.delete(*own))
        for key in await self._keys(f"{p}:answer-mail:*"):  # a request's answer by email (handoff.answer_mail)
            conversation, to = (_text(value or "") for value in await redis.hmget(key, ["conversation", "to"]))
            if conversation in ids:
                recipients.add(to)
                self._count("live_keys", await redis.delete(key))
        for address in recipients - {""}:
            digest = recipient_digest(address)
            counters = await self._keys(f"{p}:mail-day:recipient:{digest}:*")
            if counters:
                self._count("live_keys", await redis.delete(*counters))
        if contact_id:
            self._count("live_keys", await redis.delete(f"{p}:contact:{contact_id}", f"{p}:contact-convs:{contact_id}"))
        if not ids:
            return
        members = sorted(ids)
        windows = [key for key in await self._keys(f"{p}:window:uploads:conv-*")  # one scan for them all
                   if key[len(f"{p}:window:uploads:conv-"):].rsplit(":", 1)[0] in ids]
        if windows:
            self._count("live_keys", await redis.delete(*windows))
        for pattern in _ZSETS_BY_MEMBER:
            for key in await self._keys(f"{p}:{pattern}"):
                if _text(await redis.type(key)) == "zset":
                    self._count("live_entries", await redis.zrem(key, *members))
        self._count("live_entries", await redis.srem(f"{p}:queue-priority", *members))
        for pattern in _SETS:
            for key in await self._keys(f"{p}:{pattern}"):
                self._count("live_entries", await redis.srem(key, *members))
        for pattern in _HASHES_BY_FIELD:
            for key in await self._keys(f"{p}:{pattern}"):
                self._count("live_entries", await redis.hdel(key, *members))
        for pattern in _ZSETS_BY_PREFIX:
            for key in await self._keys(f"{p}:{pattern}"):
                gone = [member async for member, _ in redis.zscan_iter(key)
                        if _text(member).split(":", 1)[0] in ids]
                if gone:
                    self._count("live_entries", await redis.zrem(key, *gone))
        for name in _STREAMS:
            gone_ids = await self._forget_stream(f"{p}:{name}", ids)
            if name == "requests" and gone_ids:
                await redis.delete(*(f"{p}:request-state:{entry_id}" for entry_id in gone_ids))
        pending = f"{p}:suggest-pending"
        for raw in await redis.lrange(pending, 0, -1):
            try:
                pair_id = str(json.loads(raw).get("id", ""))
            except ValueError:
                continue
            if pair_id.split(":", 1)[0] in ids:
                self._count("live_entries", await redis.lrem(pending, 0, raw))

    async def _forget_stream(self, key: str, ids: Set[str], batch: int = 1000) -> List[str]:
        """Deletes the stream's entries that refer to the conversations (XRANGE in pages); returns their ids."""
        gone: List[str] = []
        start = "-"
        while True:
            entries = await self.redis.xrange(key, min=start, max="+", count=batch)
            gone += [_text(entry_id) for entry_id, fields in entries if _refers(fields, ids)]
            if len(entries) < batch:
                break
            start = "(" + _text(entries[-1][0])
        if gone:
            self._count("stream_entries", await self.redis.xdel(key, *gone))
        return gone

    async def _forget_trackers(self, ids: Set[str]) -> None:
        prefix = self.stores.tracker_prefix
        keys = [f"{prefix}:{{tracker:{conversation_id}}}:{kind}" for conversation_id in sorted(ids)
                for kind in ("events", "window")]
        keys += [f"{prefix}:tracker:{conversation_id}" for conversation_id in sorted(ids)]  # Rasa's own store
        if keys:
            self._count("tracker_keys", await self.redis.delete(*keys))

    async def _forget_teaching(self, ids: Set[str]) -> None:
        prefix, redis = self.stores.teach_prefix, self.redis
        self._count("inbox_candidates", len(await self._forget_stream(f"{prefix}:incoming", ids)))
        for key in await self._keys(f"{prefix}:item:*"):
            if _text(await redis.hget(key, "conversation_id") or "") in ids:
                item_id = key[len(f"{prefix}:item:"):]
                await redis.zrem(f"{prefix}:open", item_id)
                self._count("inbox_items", await redis.delete(key))
        raw = await redis.get(f"{prefix}:groups")
        if raw:
            saved = json.loads(raw)
            groups = []
            for group in saved.get("groups", []):
                items = [item for item in group.get("items", []) if item.get("conversation_id") not in ids]
                if items:
                    groups.append({**group, "items": items, "size": len(items)} if len(items) != len(group["items"])
                                  else group)
            if len(groups) != len(saved.get("groups", [])) or groups != saved.get("groups", []):
                await redis.set(f"{prefix}:groups", json.dumps({**saved, "groups": groups,
                                                                "open": await redis.zcard(f"{prefix}:open")}))

    async def _forget_suggestions(self, ids: Set[str]) -> None:
        prefix = f"{self.stores.suggestions_prefix}:{{suggest}}"
        gone = [pair async for pair, _ in self.redis.hscan_iter(f"{prefix}:replies")
                if _text(pair).split(":", 1)[0] in ids]
        if gone:
            self._count("suggestions", await self.redis.hdel(f"{prefix}:replies", *gone))
            await self.redis.zrem(f"{prefix}:order", *gone)
            await self.redis.incr(f"{prefix}:version")


async def _main(arguments: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m handoff.forget", description=__doc__.split("\n\n")[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--contact", default="", help="the site's customer id (a signed identity)")
    which.add_argument("--conversation", default="", help="a conversation id (an anonymous customer's)")
    options = parser.parse_args(arguments)
    redis = Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6380/0"))
    database_url = os.environ.get("DATABASE_URL", "")
    archive = partial(writing, database_url, int(os.environ.get("HANDOFF_FORGET_TIMEOUT_MS",
                                                                Settings.forget_timeout_ms))) if database_url else None
    try:
        counts = await Forgetter(redis, Stores.from_env(os.environ), archive).forget(
            f"cli:{getpass.getuser()}", options.contact, options.conversation)
    except ConversationNotFound as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        await redis.aclose()
    print(json.dumps(counts, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_main(sys.argv[1:])))
