"""Forget a customer: every conversation of a contact (or one anonymous conversation) removed from every
store, and audited (docs/data-model.md "Forget this customer").

The archive goes first (archive.forget.forget_rows: the rows deleted and the conversations' tombstones
recorded, in one transaction that no archiver batch overlaps), so that nothing the outbox or an archiver
still holds can bring them back; then Redis: the live store's keys and the entries of shared keys that
refer to the conversations (the key table of handoff/store.py), Rasa's trackers (bot/tracker_store.py),
the teaching inbox (teaching/store.py) and the bot's suggestion index (bot/suggestions/index.py). The
audit entry (archive.forget.audit) says who, when and how many of each thing, never whose or what.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Set

import psycopg
from redis.asyncio import Redis

from archive.forget import audit, conversations_of, forget_rows

__all__ = ["Forgetter", "Stores"]

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
    """Where each store keeps its keys in Redis, and the archive (None: no archive)."""

    prefix: str = "hb"
    tracker_prefix: str = "support"  # endpoints.yml tracker_store key_prefix
    suggestions_prefix: str = "support"  # SUGGESTIONS_KEY_PREFIX
    teach_prefix: str = "teach"  # TEACH_KEY_PREFIX
    database_url: Optional[str] = None


@dataclass
class Forgetter:
    redis: Redis
    stores: Stores
    counts: Dict[str, int] = field(default_factory=dict)

    def _count(self, kind: str, amount: int) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + int(amount)

    async def forget(self, who: str, contact_id: str = "", conversation_id: str = "") -> Dict[str, int]:
        """Forgets the contact's conversations (or the one conversation, and its contact when it had one
        signed); returns the counts audited. ValueError: neither given."""
        if not contact_id and not conversation_id:
            raise ValueError("forget needs a contact id or a conversation id")
        self.counts = {}
        p = self.stores.prefix
        if conversation_id and not contact_id:
            contact_id = _text(await self.redis.hget(f"{p}:conv:{conversation_id}", "contact_id") or "")
        ids: Set[str] = {conversation_id} if conversation_id else set()
        if contact_id:
            ids |= {_text(member) for member in await self.redis.zrange(f"{p}:contact-convs:{contact_id}", 0, -1)}
        if self.stores.database_url:
            async with await psycopg.AsyncConnection.connect(self.stores.database_url, autocommit=True) as connection:
                if contact_id:
                    ids |= set(await conversations_of(connection, contact_id))
                for kind, amount in (await forget_rows(connection, sorted(ids), contact_id or None)).items():
                    self._count(kind, amount)
        self._count("conversations", len(ids))
        await self._forget_live(ids, contact_id)
        await self._forget_trackers(ids)
        await self._forget_teaching(ids)
        await self._forget_suggestions(ids)
        await audit(self.redis, p, who, "contact" if contact_id else "conversation", self.counts)
        return dict(self.counts)

    async def _keys(self, pattern: str) -> List[str]:
        return [_text(key) async for key in self.redis.scan_iter(match=pattern, count=1000)]

    async def _forget_live(self, ids: Set[str], contact_id: str) -> None:
        p, redis = self.stores.prefix, self.redis
        for conversation_id in sorted(ids):
            self._count("messages", await redis.xlen(f"{p}:log:{conversation_id}"))
            own = [f"{p}:{kind}:{conversation_id}" for kind in
                   ("conv", "log", "files", "passed", "customer-sockets", "idem", "mail", "mail-lock")]
            own += await self._keys(f"{p}:window:uploads:conv-{conversation_id}:*")
            self._count("live_keys", await redis.delete(*own))
        if contact_id:
            self._count("live_keys", await redis.delete(f"{p}:contact:{contact_id}", f"{p}:contact-convs:{contact_id}"))
        if not ids:
            return
        members = sorted(ids)
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


async def _main(arguments: List[str]) -> Dict[str, int]:
    import argparse
    import getpass
    import os

    parser = argparse.ArgumentParser(prog="python -m handoff.forget", description=__doc__.split("\n\n")[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--contact", default="", help="the site's customer id (a signed identity)")
    which.add_argument("--conversation", default="", help="a conversation id (an anonymous customer's)")
    options = parser.parse_args(arguments)
    env = os.environ
    stores = Stores(prefix=env.get("HANDOFF_KEY_PREFIX", "hb"), teach_prefix=env.get("TEACH_KEY_PREFIX", "teach"),
                    suggestions_prefix=env.get("SUGGESTIONS_KEY_PREFIX", "support"),
                    tracker_prefix=env.get("TRACKER_KEY_PREFIX", "support"),
                    database_url=env.get("DATABASE_URL") or None)
    redis = Redis.from_url(env.get("REDIS_URL", "redis://127.0.0.1:6380/0"))
    try:
        return await Forgetter(redis, stores).forget(f"cli:{getpass.getuser()}", options.contact, options.conversation)
    finally:
        await redis.aclose()


if __name__ == "__main__":
    import asyncio
    import sys

    print(json.dumps(asyncio.run(_main(sys.argv[1:])), sort_keys=True))
