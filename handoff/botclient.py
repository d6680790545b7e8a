"""The bridge's client of the bot: Rasa's REST webhook, one request per customer turn.

:class:`handoff.service.Bridge` is given one (this aiohttp one by default), so the bot is one object
with three questions, what it answers to a message, its handoff payload for a person, and the
replies it suggests to agents (bot/suggestions/), and a failure of any kind is one exception,
:class:`BotUnavailable`.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional

import aiohttp

__all__ = ["BotClient", "BotUnavailable", "HANDOFF_SOURCE", "REQUEST_PERSON"]

# How the bridge asks the bot for its handoff payload on the customer's behalf: the request intent,
# with what the customer did in the metadata (actions/summary.py SOURCE_KEY; docs/handoff-payload.md).
REQUEST_PERSON = "/request_human"
HANDOFF_SOURCE = "handoff_source"


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

    async def handoff_for(self, conversation_id: str, key: str, source: str) -> List[Dict[str, Any]]:
        """What the bot says when the customer asks for a person by ``source`` (a button, a request
        left instead of waiting): its messages, one of them with the handoff payload."""
        return await self.reply(conversation_id, key, REQUEST_PERSON, extra={HANDOFF_SOURCE: source})

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
