"""The bridge's client of the bot: Rasa's REST webhook, one request per customer turn.

:class:`handoff.service.Bridge` is given one (this aiohttp one by default), so the bot is one object
with three questions, what it answers to a message, its handoff payload for a person, and the
replies it suggests to agents (bot/suggestions/), and a failure of any kind is one exception,
:class:`BotUnavailable`.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional, Sequence

import aiohttp

__all__ = ["BotClient", "BotUnavailable", "CUSTOMER_WROTE", "HANDOFF_SOURCE", "MAX_WRITTEN", "PREVIOUS_HANDOFF", "REQUEST_PERSON"]

# How the bridge asks the bot for its handoff payload on the customer's behalf: the request intent,
# with what the customer did in the metadata (actions/summary.py SOURCE_KEY; docs/handoff-payload.md).
REQUEST_PERSON = "/request_human"
HANDOFF_SOURCE = "handoff_source"
# What the bot did not see (bot/channels.py classifies it) and the payload a new one extends (actions/summary.py).
CUSTOMER_WROTE = "customer_wrote"
PREVIOUS_HANDOFF = "previous_handoff"
# How many of the customer's latest messages the bot is sent (it reads no more: bot/channels.py MAX_WRITTEN).
MAX_WRITTEN = 10


class BotUnavailable(Exception):
    """The bot did not answer (down, too slow, or an answer that is not a list of messages)."""


class BotClient:
    def __init__(self, http: aiohttp.ClientSession, url: str, timeout_seconds: float) -> None:
        self._http = http
        self._url = f"{url}/webhooks/rest/webhook"
        self._suggest_url = f"{url}/webhooks/rest/suggest"
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    async def reply(self, conversation_id: str, message_id: str, text: str, retry: bool = False,
                    extra: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
        """The bot's messages in answer to ``text``. The message's id, kept in Rasa's tracker, makes a
        retry safe: asked again with ``retry``, Rasa answers a message it has handled from its tracker
        (bot/channels.py)."""
        metadata: Dict[str, Any] = {**(extra or {}), "message_id": message_id, **({"retry": True} if retry else {})}
        try:
            async with self._http.post(self._url, json={"sender": conversation_id, "message": text,
                                                        "metadata": metadata}, timeout=self._timeout) as response:
                response.raise_for_status()
                replies = await response.json()
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            raise BotUnavailable(repr(error)) from error
        if not isinstance(replies, list):
            raise BotUnavailable(f"unexpected reply from Rasa: {replies!r}")
        return [reply for reply in replies if isinstance(reply, dict)]

    async def handoff_for(self, conversation_id: str, key: str, source: str, customer_wrote: Sequence[str] = (),
                          previous: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
        """What the bot says when the customer asks for a person by ``source`` (a button, a request
        left instead of waiting, a transfer): its messages, one of them with the handoff payload.
        ``customer_wrote``: what the customer wrote that the bot did not see (to agents, a message
        left); ``previous``: the payload the conversation was handed over with, which the new one extends."""
        extra: Dict[str, Any] = {HANDOFF_SOURCE: source}
        if customer_wrote:
            extra[CUSTOMER_WROTE] = list(customer_wrote)
        if previous:
            extra[PREVIOUS_HANDOFF] = previous
        return await self.reply(conversation_id, key, REQUEST_PERSON, extra=extra)

    async def suggest(self, text: str, learn: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """Suggested replies to a customer's ``text``: ``{text, source ("faq" or "agent"), score, topic}``,
        best first; ``learn``: finished conversations' pairs for the bot to index first
        (handoff.suggestions)."""
        try:
            async with self._http.post(self._suggest_url, json={"text": text, "learn": learn},
                                       timeout=self._timeout) as response:
                answer = await response.json(content_type=None)
                if response.status != 200:
                    raise BotUnavailable(f"Rasa refused suggestions ({response.status}): {answer!r}")
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            raise BotUnavailable(repr(error)) from error
        items = answer.get("suggestions") if isinstance(answer, dict) else None
        if not isinstance(items, list) or not all(_is_suggestion(item) for item in items):
            raise BotUnavailable(f"unexpected suggestions from Rasa: {answer!r}")
        return [{"text": item["text"], "source": item["source"], "score": float(item["score"]),
                 "topic": item["topic"]} for item in items]


def _is_suggestion(item: Any) -> bool:
    return (isinstance(item, dict) and isinstance(item.get("text"), str) and item.get("source") in ("faq", "agent")
            and isinstance(item.get("score"), (int, float)) and isinstance(item.get("topic"), str))
