"""Canned responses for agents: ``shortcut``, ``title`` and ``text``, kept in Redis, edited by supervisors.

Agents type ``/shortcut`` in the console (or pick from the list) to insert the
text; ``{agent}`` in a text becomes the agent's name. Supervisors create, edit
and delete them in the console (:class:`CannedDesk`: the hash ``{p}:canned``,
shortcut -> ``{title, text}``, shared by every bridge process; each change is
announced on ``{p}:workspace-events`` and every console gets the list again).
The YAML file (``HANDOFF_CANNED_RESPONSES``) is the initial set: loaded into
Redis once, the first time a bridge starts on a Redis that never had any
(``{p}:canned-seeded``), so responses deleted later stay deleted. The file is
checked when the bridge starts, so a mistake stops it with a clear message
instead of showing agents a broken list.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml
from redis.asyncio import Redis

from handoff.exceptions import AlreadyExists, LimitReached, MalformedMessage, UnknownItem
from handoff.protocol import readable

__all__ = ["CannedDesk", "DEFAULT_PATH", "MAX_CANNED", "MAX_TITLE", "canned_of", "load_canned_responses",
           "shortcut_of"]

DEFAULT_PATH = Path(__file__).with_name("canned_responses.yml")
_SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,23}$")
MAX_TITLE = 60
MAX_CANNED = 200

# The file's set, once (KEYS[2] marks that it was loaded): ARGV are shortcut, {title, text} pairs.
_SEED = """
if not redis.call('SET', KEYS[2], '1', 'NX') then return 0 end
if #ARGV > 0 then redis.call('HSET', KEYS[1], unpack(ARGV)) end
return 1
"""
# Saves ARGV[1] (ARGV[2]: {title, text}) in place of ARGV[3] ('' for a new one), at most ARGV[4] in all.
# Returns 1, or -1 the shortcut is taken, -2 the one edited is gone, -3 the set is full.
_SAVE = """
if ARGV[3] == '' and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return -1 end
if ARGV[3] ~= '' and redis.call('HEXISTS', KEYS[1], ARGV[3]) == 0 then return -2 end
if ARGV[3] ~= '' and ARGV[3] ~= ARGV[1] and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return -1 end
if ARGV[3] == '' and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then return -3 end
if ARGV[3] ~= '' then redis.call('HDEL', KEYS[1], ARGV[3]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


def load_canned_responses(path: Path, max_text: int) -> List[Dict[str, str]]:
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"canned responses {path}: {error}") from None
    if not isinstance(entries, list):
        raise ValueError(f"canned responses {path}: expected a list of {{shortcut, title, text}}")
    responses: List[Dict[str, str]] = []
    seen = set()
    for number, entry in enumerate(entries, 1):
        where = f"canned responses {path}, entry {number}"
        if not isinstance(entry, dict) or set(entry) != {"shortcut", "title", "text"}:
            raise ValueError(f"{where}: needs exactly shortcut, title and text")
        shortcut, title, text = (str(entry[name]).strip() for name in ("shortcut", "title", "text"))
        if not _SHORTCUT.match(shortcut):
            raise ValueError(f"{where}: shortcut {shortcut!r} must be lower-case letters, digits, '-' or '_'")
        if shortcut in seen:
            raise ValueError(f"{where}: shortcut {shortcut!r} is used twice")
        if not title or len(title) > MAX_TITLE or not text or len(text) > max_text:
            raise ValueError(f"{where}: title 1-{MAX_TITLE} and text 1-{max_text} characters")
        seen.add(shortcut)
        responses.append({"shortcut": shortcut, "title": title, "text": text})
    return responses


def shortcut_of(data: Dict[str, Any], name: str = "shortcut") -> str:
    value = data.get(name)
    if not isinstance(value, str) or not _SHORTCUT.fullmatch(value):
        raise MalformedMessage(f"'{name}' must be 1-24 lower-case letters, digits, '-' or '_' (no '/')")
    return value


def canned_of(data: Dict[str, Any], max_text: int) -> Dict[str, str]:
    """A canned response as a supervisor sent it (``canned_save``), checked as the file's are."""
    shortcut = shortcut_of(data)
    title, text = data.get("title"), data.get("text")
    if not isinstance(title, str) or not 0 < len(readable(title).strip()) <= MAX_TITLE:
        raise MalformedMessage(f"'title' must be 1-{MAX_TITLE} characters")
    if not isinstance(text, str) or not readable(text).strip() or len(text) > max_text:
        raise MalformedMessage(f"'text' must be 1-{max_text} characters")
    return {"shortcut": shortcut, "title": " ".join(readable(title).split()), "text": readable(text).strip()}


class CannedDesk:
    """The canned responses in Redis (see the module's docstring)."""

    def __init__(self, redis: Redis, prefix: str, channel: str) -> None:
        self.redis = redis
        self.key = f"{prefix}:canned"
        self.seeded_key = f"{prefix}:canned-seeded"
        self.channel = channel
        self._seed = redis.register_script(_SEED)
        self._save = redis.register_script(_SAVE)

    async def seed(self, responses: List[Dict[str, str]]) -> bool:
        """Loads the file's set unless Redis has had canned responses before; True when it did."""
        pairs = [part for item in responses
                 for part in (item["shortcut"], json.dumps({"title": item["title"], "text": item["text"]}))]
        return bool(await self._seed(keys=[self.key, self.seeded_key], args=pairs))

    async def items(self) -> List[Dict[str, str]]:
        """Every canned response, by shortcut."""
        stored = await self.redis.hgetall(self.key)
        return sorted(({"shortcut": key.decode(), **json.loads(value)} for key, value in stored.items()),
                      key=lambda item: item["shortcut"])

    async def save(self, response: Dict[str, str], replaces: Optional[str]) -> None:
        """A new canned response (``replaces`` None), or one edited (its shortcut may change)."""
        result = await self._save(keys=[self.key], args=[
            response["shortcut"], json.dumps({"title": response["title"], "text": response["text"]}),
            replaces or "", str(MAX_CANNED)])
        if result == -1:
            raise AlreadyExists(f"the shortcut /{response['shortcut']} is taken")
        if result == -2:
            raise UnknownItem(f"no canned response /{replaces} (deleted meanwhile?)")
        if result == -3:
            raise LimitReached(f"there are {MAX_CANNED} canned responses already; delete one first", code="too_many")
        await self.redis.publish(self.channel, json.dumps({"canned": 1}))

    async def delete(self, shortcut: str) -> None:
        if not await self.redis.hdel(self.key, shortcut):
            raise UnknownItem(f"no canned response /{shortcut} (deleted meanwhile?)")
        await self.redis.publish(self.channel, json.dumps({"canned": 1}))
