"""Private notes in a conversation's transcript, @mentions and the note a transfer carries, in Redis.

A note is an entry of the conversation's transcript (``{p}:log:{id}``) of kind ``note``, stored and
announced like any message (Store.append), so agents see it in order with the rest; the customer's
socket never sends it (handoff.visibility lists the kinds a customer sees). What else it keeps:

    {p}:mentions:{agent}  hash    conversation id -> the latest mention of the agent in it (JSON:
                                  note_id, by, by_name, excerpt, ts, seen, count); kept the retention
                                  from the latest mention; each new mention drops those of conversations
                                  that have expired, then the oldest beyond MAX_MENTIONS_KEPT (and with
                                  it the right to read that conversation it gave: handoff.mentions)
    conversation hash     field   "transfer_note": the id of the note the last transfer carried
                                  (shown first to whoever receives it; none: ""), set by the
                                  transfer's commit (Bridge.transfer)

A mention is announced on the mentioned agent's ``{p}:agent-events:{agent}`` channel
(``{"mentioned": id}``), which every process holding a socket of theirs hears.
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, List, Optional, Set

from handoff.auth import AgentDirectory
from handoff.exceptions import ConversationNotFound, InvalidTransition
from handoff.machine import Conversation, State
from handoff.mentions import NOTE_KIND, mention_entry, mentioned_names, require_may_read, require_mentionable
from handoff.store import Store

__all__ = ["MAX_MENTIONS_KEPT", "NoteDesk"]

# Mention notifications an agent keeps (the newest, one per conversation).
MAX_MENTIONS_KEPT = 50


# A new mention (ARGV[2], JSON; its count is one more than the mention it replaces) of the agent (KEYS[1],
# their mentions) in conversation ARGV[1], kept ARGV[3] ms from now; the mentions of conversations that
# have expired (no hash ARGV[5] .. id) go, then the oldest beyond ARGV[4]; announced on KEYS[2].
_NOTIFY = """
local entry = cjson.decode(ARGV[2])
local earlier = redis.call('HGET', KEYS[1], ARGV[1])
if earlier then entry['count'] = (tonumber(cjson.decode(earlier)['count']) or 0) + 1 end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(entry))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local kept = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if redis.call('EXISTS', ARGV[5] .. all[i]) == 0 then
    redis.call('HDEL', KEYS[1], all[i])
  else
    local item = cjson.decode(all[i + 1])
    local ms, seq = string.match(item['note_id'] or '', '^(%d+)-(%d+)$')
    table.insert(kept, {all[i], tonumber(item['ts']) or 0, tonumber(ms) or 0, tonumber(seq) or 0})
  end
end
if #kept > tonumber(ARGV[4]) then
  table.sort(kept, function(a, b)
    if a[2] ~= b[2] then return a[2] > b[2] end
    if a[3] ~= b[3] then return a[3] > b[3] end
    return a[4] > b[4]
  end)
  for i = tonumber(ARGV[4]) + 1, #kept do redis.call('HDEL', KEYS[1], kept[i][1]) end
end
redis.call('PUBLISH', KEYS[2], cjson.encode({mentioned = ARGV[1]}))
"""
# The agent's (KEYS[1]) mention in conversation ARGV[1] seen, if unseen and still note ARGV[2] ('': any);
# announced on KEYS[2]. Returns 1 when marked.
_SEEN = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local entry = cjson.decode(raw)
if entry['seen'] or (ARGV[2] ~= '' and entry['note_id'] ~= ARGV[2]) then return 0 end
entry['seen'] = true
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(entry))
redis.call('PUBLISH', KEYS[2], cjson.encode({mentions = 'seen'}))
return 1
"""


class NoteDesk:
    def __init__(self, store: Store, agents: AgentDirectory) -> None:
        self.store = store
        self.agents = agents
        # Each change of a mention is one script: processes notifying and marking seen at once lose nothing.
        self._notify_script = store.redis.register_script(_NOTIFY)
        self._seen_script = store.redis.register_script(_SEEN)

    def _mentions_key(self, agent: str) -> str:
        return self.store.key("mentions", agent)

    def agent_events(self, agent: str) -> str:
        return self.store.key("agent-events", agent)

    async def was_mentioned(self, agent: str, conversation_id: str) -> bool:
        return bool(await self.store.redis.hexists(self._mentions_key(agent), conversation_id))

    async def require_reader(self, agent: str, conversation_id: str) -> Conversation:
        """The conversation, if ``agent`` may read its notes (handoff.mentions.may_read_notes)."""
        conversation = await self.store.load(conversation_id)
        roles = (await self.agents.profile(agent))["roles"]
        require_may_read(conversation, agent, roles, await self.was_mentioned(agent, conversation_id))
        return conversation

    async def check_mentions(self, text: str) -> List[str]:
        """The colleagues ``text`` mentions, all of them agents (else UnknownMention)."""
        names = mentioned_names(text)
        if names:
            require_mentionable(names, await self.agents.profiles())
        return names

    async def write(self, agent: str, conversation_id: str, text: str, key: str, names: List[str],
                    transfer: Optional[Dict[str, str]] = None) -> str:
        """Stores a note (once per ``key``) and notifies the colleagues it mentions (``names``, checked
        before: check_mentions), returns its id; the writer is checked before too (require_reader).
        A ``transfer`` note (``to_agent`` or ``to_group``) is written while its writer still serves
        the conversation, checked in the same step, as the cap on notes is (Store.append)."""
        data: Dict[str, Any] = {"agent": agent, "shown_as": await self.agents.display_name(agent), "mentions": names}
        if transfer:
            data["transfer"] = transfer
        serving = (State.AGENT, agent) if transfer else (None, "")
        appended = await self.store.append(conversation_id, NOTE_KIND, f"note:{agent}:{key}", text, data,
                                           only_in=serving[0], only_agent=serving[1])
        if appended.state is None:
            raise ConversationNotFound(f"no conversation {conversation_id}")
        if appended.added:
            for name in names:
                if name != agent:
                    await self._notify(name, conversation_id, appended.id, agent, data["shown_as"], text)
        return appended.id

    async def _notify(self, agent: str, conversation_id: str, note_id: str, by: str, by_name: str, text: str) -> None:
        entry = mention_entry(conversation_id, note_id, by, by_name, text, int(time.time() * 1000))
        await self._notify_script(keys=[self._mentions_key(agent), self.agent_events(agent)],
                                  args=[conversation_id, json.dumps(entry), self.store.ttl_ms, MAX_MENTIONS_KEPT,
                                        self.store.key("conv") + ":"])

    async def mentions(self, agent: str) -> List[Dict[str, Any]]:
        """The agent's mention notifications, newest first."""
        raw = await self.store.redis.hvals(self._mentions_key(agent))
        return sorted((json.loads(value) for value in raw), key=lambda item: item["ts"], reverse=True)

    async def mentioned_in(self, agent: str) -> Set[str]:
        """The conversations a note has mentioned the agent in (their queue marks them)."""
        return {key.decode() for key in await self.store.redis.hkeys(self._mentions_key(agent))}

    async def seen(self, agent: str, conversation_id: str, note_id: str = "") -> bool:
        """Marks the agent's mention in the conversation seen, only if it is still ``note_id`` (the one
        their console showed; "": whichever is latest); False when there was nothing unseen to mark."""
        return bool(await self._seen_script(keys=[self._mentions_key(agent), self.agent_events(agent)],
                                            args=[conversation_id, note_id]))

    # ---- the note a transfer carries ------------------------------------------------

    async def transfer_note_written(self, agent: str, conversation_id: str, text: str, key: str,
                                    to_agent: Optional[str], to_group: Optional[str]) -> str:
        """Stores a transfer's note while ``agent`` still serves the conversation and returns its id, which
        the transfer's commit pins for whoever receives the conversation (Bridge.transfer)."""
        target = {"to_agent": to_agent} if to_agent else {"to_group": to_group or ""}
        names = await self.check_mentions(text)
        try:
            return await self.write(agent, conversation_id, text, key, names, transfer=target)
        except InvalidTransition:
            raise InvalidTransition(f"{agent} is not serving this conversation") from None

    async def transfer_note(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        """The note the last transfer carried, as its receiver sees it first: ``{id, text, by, by_name,
        ts, to_agent | to_group}``; None without one (or once a new handoff has started since)."""
        note_id, transferred_by = await self.store.redis.hmget(self.store.key("conv", conversation_id),
                                                              ["transfer_note", "transferred_by"])
        if not note_id or not transferred_by:
            return None
        entries = await self.store.redis.xrange(self.store.key("log", conversation_id), note_id, note_id)
        if not entries:
            return None
        fields = {k.decode(): v.decode() for k, v in entries[0][1].items()}
        data = json.loads(fields["data"])
        if fields["kind"] != NOTE_KIND or data.get("agent") != transferred_by.decode():
            return None
        return {"id": note_id.decode(), "text": fields["text"], "by": data["agent"], "by_name": data.get("shown_as", ""),
                "ts": int(fields["ts"]), **data.get("transfer", {})}
