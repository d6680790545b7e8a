"""Suggested replies for agents, as the bridge relays them: the bot computes them (bot/suggestions/,
where the sentence embeddings live), the bridge only chooses what to ask and what to pass on.

- ``suggest`` (an agent serving or viewing a conversation): the customer's latest message goes to
  the bot (``POST /webhooks/rest/suggest``, handoff.botclient), which answers its FAQ answers ranked
  by the NLU and replies agents gave before to similar messages.
- When an agent's part of a conversation ends (closed, handed back to the bot), its customer message
  -> agent reply pairs wait in ``{p}:suggest-pending`` and are relayed to the bot with the next
  suggest requests, which index them in the bot's Redis index and then drop them here.

What may be suggested to another customer (``reply_pairs``, sans I/O): only what agents sent to the
customer (kind ``agent``), never their private notes, the customer's own words or the bot's, nor a
file (its text is its name: "Jane Doe passport.jpg"); and no
reply that may carry personal data: an email address, a run of 6 or more digits (a phone, card,
account number or sort code; spaces and hyphens between digits count as one run), a card's last
four ("ending in 4821"), a name after a greeting or a title ("Hi Margaret", "Dear Mr Okafor"), a
street address ("10 Downing Street") or a UK postcode ("SW1A 2AA"), or any value of the
conversation's details or capitalised word of one (the customer's name, contact). It errs on the
side of leaving a reply out. The bot then offers only replies the team gave, near-identical, in
several different conversations (bot/suggestions/index.py): a reply about one person's
circumstances is not suggested to another, and the bridge checks what it passes on once more.
- Answers already sent in the conversation, by the bot or an agent, are not suggested again (the
  customer has had them, and often asked for a person because of the bot's).
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from redis.asyncio import Redis

from handoff.attachments import attachment_of
from handoff.botclient import BotClient
from handoff.store import Store

__all__ = ["MAX_PENDING", "RELAYED_PER_REQUEST", "Suggestions", "latest_customer_message", "may_be_suggested", "offered",
           "reply_pairs"]

MAX_PENDING = 1_000  # pairs waiting for the bot; past it the oldest go
RELAYED_PER_REQUEST = 20
CUSTOMER_MESSAGES_PER_PAIR = 3  # what the customer wrote since the last reply, at most this many messages
MAX_PAIR_CHARACTERS = 1_000
RECENT_MESSAGES = 200  # where the latest customer message and the bot's answers already sent are looked for
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
_DIGIT_RUN = re.compile(r"\d(?:[\s-]?\d){5,}")
_LAST_DIGITS = re.compile(r"\b(?:ending|ends)\b(?:\s+(?:in|with))?\s*\W?\s*\d{3,}", re.IGNORECASE)
_NAME_AFTER_GREETING = re.compile(
    r"\b(?:[Hh]i|[Hh]ello|[Hh]ey|[Dd]ear|[Tt]hanks|[Tt]hank you|[Mm]orning|[Gg]ood (?:morning|afternoon|evening)|"
    r"[Ww]elcome(?: back)?|[Ss]orry|[Bb]ye)[\s,]+(?!(?:There|Again|Everyone|All|Team|For|So|And|But|I|We|You|It|To|"
    r"From|About|Very|Once|Both)\b)[A-Z][a-z'\-]+")
_TITLE_NAME = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Madam|Lady|Lord)\.?\s+[A-Z][a-z'\-]+")
_STREET = re.compile(
    r"\b\d+[A-Za-z]?,?\s+(?:[A-Z][a-z'\-]+\s+){1,3}(?:Street|St|Road|Rd|Lane|Ln|Avenue|Ave|Close|Drive|Dr|Way|"
    r"Place|Pl|Court|Ct|Crescent|Gardens|Square|Sq|Terrace|Hill|Grove|Park|Row|Walk|Mews|Green|Parade|Rise|View)\b")
_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE)
_PERSONAL_PATTERNS = (_EMAIL, _DIGIT_RUN, _LAST_DIGITS, _NAME_AFTER_GREETING, _TITLE_NAME, _STREET, _POSTCODE)


def may_be_suggested(reply: str, personal: Iterable[str]) -> bool:
    """Whether a reply may be offered to other customers verbatim (no personal data as far as rules see)."""
    if len(reply.split()) < 2 or any(pattern.search(reply) for pattern in _PERSONAL_PATTERNS):
        return False
    lowered = reply.lower()
    return not any(re.search(rf"\b{re.escape(value.lower())}\b", lowered) for value in _personal_words(personal))


def _personal_words(personal: Iterable[str]) -> List[str]:
    """Each value (3 characters or more) and each capitalised word of it (a name: "Jo" of "Jo Bloggs")."""
    values = list(personal)
    words = [value for value in values if len(value.strip()) >= 3]
    words += [word for value in values for word in value.split() if len(word) >= 2 and word[0].isupper()]
    return words


def reply_pairs(conversation_id: str, messages: Sequence[Mapping[str, Any]],
                details: Mapping[str, Any]) -> List[Dict[str, str]]:
    """``{"id", "customer", "reply"}`` for each agent reply that follows customer messages, oldest first."""
    personal = [value for value in details.values() if isinstance(value, str)]
    pairs: List[Dict[str, str]] = []
    asked: List[str] = []
    for message in messages:
        if attachment_of(message) is not None:
            continue  # a file's text is its name: neither a question nor a reply to suggest
        if message["kind"] == "customer" and message["text"].strip():
            asked = [*asked, message["text"].strip()][-CUSTOMER_MESSAGES_PER_PAIR:]
        elif message["kind"] == "agent" and asked:
            if may_be_suggested(message["text"], personal):
                pairs.append({"id": f"{conversation_id}:{message['id']}",
                              "customer": "\n".join(asked)[-MAX_PAIR_CHARACTERS:],
                              "reply": message["text"][:MAX_PAIR_CHARACTERS]})
            asked = []
    return pairs


class Suggestions:
    def __init__(self, redis: Redis, store: Store, bot: BotClient) -> None:
        self.redis = redis
        self.store = store
        self.bot = bot
        self.pending_key = store.key("suggest-pending")

    async def remember(self, conversation_id: str) -> int:
        """Queues the conversation's pairs for the bot's index (an agent's part of it ended)."""
        pairs = reply_pairs(conversation_id, await self.store.messages_after(conversation_id, None),
                            await self.store.details(conversation_id))
        if pairs:
            async with self.redis.pipeline(transaction=True) as pipeline:
                pipeline.rpush(self.pending_key, *(json.dumps(pair) for pair in pairs))
                pipeline.ltrim(self.pending_key, -MAX_PENDING, -1)
                await pipeline.execute()
        return len(pairs)

    async def for_conversation(self, conversation_id: str) -> Dict[str, Any]:
        """``{"message_id", "items"}`` for the customer's latest message (none: no items); BotUnavailable
        when the bot does not answer. Pending pairs go with the request and are dropped once indexed
        (another process relaying the same ones at once costs nothing: the bot keeps each id once)."""
        recent = await self.store.newest_messages(conversation_id, RECENT_MESSAGES)
        latest = latest_customer_message(recent)
        if latest is None:
            return {"message_id": None, "items": []}
        pending = await self.redis.lrange(self.pending_key, 0, RELAYED_PER_REQUEST - 1)
        items = await self.bot.suggest(latest["text"], [json.loads(raw) for raw in pending])
        if pending:
            async with self.redis.pipeline(transaction=False) as pipeline:
                for raw in pending:
                    pipeline.lrem(self.pending_key, 1, raw)
                await pipeline.execute()
        return {"message_id": latest["id"], "items": offered(items, recent)}


def latest_customer_message(newest_first: Sequence[Mapping[str, Any]]) -> Optional[Mapping[str, Any]]:
    """The customer's latest written message (a file, whose text is its name, is not one)."""
    for message in newest_first:
        if message["kind"] == "customer" and message["text"].strip() and attachment_of(message) is None:
            return message
    return None


def _normalised(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def offered(items: Sequence[Dict[str, Any]], messages: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """The bot's suggestions an agent may see: none the bot or an agent already sent in this conversation,
    and no agent's reply with personal data (checked again: the index may hold replies from before)."""
    sent = {_normalised(message["text"]) for message in messages if message["kind"] in ("bot", "agent")}
    return [item for item in items if _normalised(item["text"]) not in sent
            and (item["source"] != "agent" or may_be_suggested(item["text"], ()))]
