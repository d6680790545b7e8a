"""What the Rasa server answers on ``POST /webhooks/rest/suggest`` (bot/channels.py): suggested
replies to a customer message, after indexing the finished conversations' pairs the bridge relays.

The FAQ answers come from one NLU parse of the message (the model's ranking of every answer);
the agents' replies from the shared index (bot/suggestions/index.py), by the cosine between the
message's sentence embedding, which that parse has just computed, and those of the customer
messages the replies answered. Nothing here changes a conversation or its tracker.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Tuple

from bot.nlu.sentence_encoder import load_encoder
from bot.redis_endpoint import redis_client
from bot.suggestions.faq import Suggestion, answer_texts, faq_suggestions, topic_of
from bot.suggestions.index import LearnedPair, ReplyIndex

__all__ = ["MAX_LEARNED", "MAX_TEXT", "SuggestRequest", "Suggester", "answer", "index_from_environment", "suggest_request"]

MAX_TEXT = 5_000  # characters of a message (the bridge's own limit is lower)
MAX_LEARNED = 50  # pairs relayed with one request
MAX_LIMIT = 10
# How alike two customer messages must be (cosine of their MiniLM embeddings) for the reply to one
# to be suggested for the other: a judgement (no data set of agents' replies to tune it on), high
# enough that a reply about another matter is rarely offered; fewer suggestions beat wrong ones.
MIN_SIMILARITY = 0.6


@dataclass(frozen=True)
class SuggestRequest:
    text: str
    faq_limit: int
    agent_limit: int
    learned: List[LearnedPair]


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise ValueError(f"'{name}' must be a non-empty string of at most {MAX_TEXT} characters")
    return value.strip()


def _limit(body: Mapping[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_LIMIT:
        raise ValueError(f"'{name}' must be a whole number from 0 to {MAX_LIMIT}")
    return value


def suggest_request(body: Any) -> SuggestRequest:
    """The request checked at the edge: ``{"text", "faq_limit"?, "agent_limit"?, "learn"?: [{"id",
    "customer", "reply"}]}``; anything else is a ValueError saying what is wrong."""
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    learn = body.get("learn", [])
    if not isinstance(learn, list) or len(learn) > MAX_LEARNED or not all(isinstance(item, dict) for item in learn):
        raise ValueError(f"'learn' must be a list of at most {MAX_LEARNED} objects")
    pairs = []
    for item in learn:
        pair_id = item.get("id")
        if not isinstance(pair_id, str) or not 0 < len(pair_id) <= 200:
            raise ValueError("each learned pair needs an 'id' of 1 to 200 characters")
        pairs.append(LearnedPair(pair_id, _text(item.get("customer"), "customer"), _text(item.get("reply"), "reply")))
    return SuggestRequest(_text(body.get("text"), "text"), _limit(body, "faq_limit", 3),
                          _limit(body, "agent_limit", 2), pairs)


class Suggester:
    """Suggestions from a loaded Rasa agent and the shared index of agents' replies."""

    def __init__(self, agent: Any, index: ReplyIndex) -> None:
        self.agent = agent
        self.index = index

    async def learn(self, pairs: List[LearnedPair]) -> int:
        """Indexes the pairs not indexed yet; returns how many were new."""
        new = await self.index.unknown(pairs)
        if not new:
            return 0
        topics = [topic_of(await self.agent.parse_message(pair.customer)) for pair in new]
        vectors = load_encoder().encode([pair.customer for pair in new])  # the parses computed them
        return await self.index.add(new, vectors, topics)

    async def suggest(self, text: str, faq_limit: int = 3, agent_limit: int = 2) -> List[Suggestion]:
        """Agents' earlier replies to similar messages first (they fit the wording), then the FAQ answers."""
        parse: Dict[str, Any] = await self.agent.parse_message(text)
        domain = self.agent.domain
        answers = answer_texts(domain.responses, {slot.name: slot.initial_value for slot in domain.slots})
        faq = faq_suggestions(text, parse, answers, faq_limit)
        if not agent_limit:
            return faq
        vector = load_encoder().encode([text])[0]
        replies = (await self.index.current()).nearest(vector, agent_limit, MIN_SIMILARITY)
        return [*replies, *faq]


def index_from_environment() -> ReplyIndex:
    """The shared index in the Redis every Rasa server reaches through ``REDIS_URL`` (as its tracker
    store does, endpoints.yml), under ``SUGGESTIONS_KEY_PREFIX`` (default ``support``, the tracker
    store's prefix). ValueError without ``REDIS_URL``."""
    url = os.environ.get("REDIS_URL", "").strip()
    if not url:
        raise ValueError("suggestions need REDIS_URL: their index is shared by every Rasa server")
    return ReplyIndex(redis_client(url), f"{os.environ.get('SUGGESTIONS_KEY_PREFIX', 'support')}:")


async def answer(agent: Any, body: Any, suggesters: Dict[int, Suggester]) -> Tuple[int, Dict[str, Any]]:
    """The HTTP status and JSON body for a suggest request: 200 ``{"suggestions", "learned"}``, 400 for
    a malformed request, 503 while no model is loaded or without Redis to share the index through.
    ``suggesters``: this server's one per agent (it holds the index's copy)."""
    try:
        request = suggest_request(body)
    except ValueError as error:
        return 400, {"error": str(error)}
    if not agent.is_ready():
        return 503, {"error": "no model is loaded yet"}
    if id(agent) not in suggesters:
        try:
            suggesters[id(agent)] = Suggester(agent, index_from_environment())
        except ValueError as error:
            return 503, {"error": str(error)}
    suggester = suggesters[id(agent)]
    learned = await suggester.learn(request.learned)
    suggestions = await suggester.suggest(request.text, request.faq_limit, request.agent_limit)
    return 200, {"suggestions": suggestions, "learned": learned}
