"""Rasa's REST channel, made safe to retry: the bridge sends each customer
message with its id (``metadata.message_id``, kept in the tracker), and a retry
with ``metadata.retry`` too; a retried message Rasa has handled already is
answered again from the tracker instead of being handled twice. Only retries
are looked up: an ordinary message costs what it costs on Rasa's own channel.

When the bridge asks for a handoff payload on the customer's behalf, it may send
what the customer wrote that the bot never saw (to an agent before a transfer, a
message left for the team) in ``metadata.customer_wrote``: a list of texts. The
channel classifies each with the bot's own NLU and hands the action the turns
(text, intent, confidence, topic), so the summary names their topics
(docs/handoff-payload.md); they are not added to the conversation as messages.

Why: a bridge process killed while Rasa answers leaves the customer's retry to
another process, which asks again. Handled twice, the question would count as
the customer repeating themselves (stuck detection) and the answer could
differ. Rasa's lock store serialises a conversation, so a retry that arrives
while the first attempt is still being handled waits for it, then finds it.

``POST /webhooks/rest/suggest`` answers agents' suggested replies to a customer message (through
the bridge: bot/suggestions/suggester.py, docs/bridge-protocol.md "Suggested replies"); it reads
and writes no conversation, only the shared index of agents' earlier replies.

credentials.yml::

    bot.channels.RetrySafeRestInput:
"""

from __future__ import annotations

import json
import logging
from asyncio import CancelledError
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.rasa_compat import rest_input_channel, rest_message, rest_sender
from bot.suggestions import suggester as suggestions
from bot.stuck.conversation import parsed_turn

__all__ = ["CUSTOMER_WROTE", "MAX_WRITTEN", "RetrySafeRestInput", "classified"]

logger = logging.getLogger(__name__)

# How often a retry looks whether the first attempt has let go of the conversation's lock.
LOCK_POLL_SECONDS = 0.05
# The metadata key of what the customer wrote that the bot did not see, and how many of those (the latest) count.
CUSTOMER_WROTE = "customer_wrote"
MAX_WRITTEN = 10


class RetrySafeRestInput(RestInput):
    """POST /webhooks/rest/webhook ``{"sender", "message", "metadata": {"message_id", "retry"?}?}``, as Rasa's."""

    def __init__(self) -> None:
        super().__init__()
        self._suggesters: Dict[int, suggestions.Suggester] = {}  # holds each agent's copy of the index

    @classmethod
    def name(cls) -> Text:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            sender_id = await rest_sender(self, request)
            metadata = self.get_metadata(request)
            retried = metadata.get("message_id") if isinstance(metadata, dict) and metadata.get("retry") else None
            collector = CollectingOutputChannel()
            if isinstance(metadata, dict) and CUSTOMER_WROTE in metadata:
                metadata = {**metadata, CUSTOMER_WROTE: await classified(request.app.ctx.agent, metadata[CUSTOMER_WROTE])}
            if isinstance(retried, str) and sender_id is not None and await answered_before(
                    request.app.ctx.agent, sender_id, retried, collector):
                return response.json(collector.messages)
            try:
                await on_new_message(UserMessage(rest_message(self, request), collector, sender_id,
                                                 input_channel=rest_input_channel(self, request),
                                                 metadata=metadata))
            except CancelledError:
                logger.error("Rasa's handling of a message from %s was cancelled", sender_id)
            except Exception:  # noqa: BLE001 - as Rasa's own channel: the caller gets what was said so far
                logger.exception("handling a message from %s failed", sender_id)
            return response.json(collector.messages)

        @webhook.route("/suggest", methods=["POST"])
        async def suggest(request: Request) -> HTTPResponse:
            try:
                body = json.loads(request.body or b"null")
            except ValueError:
                return response.json({"error": "the body must be JSON"}, status=400)
            status, answered = await suggestions.answer(request.app.ctx.agent, body, self._suggesters)
            return response.json(answered, status=status)

        return webhook


async def classified(agent: Any, written: Any) -> List[Dict[str, Any]]:
    """The latest MAX_WRITTEN texts of ``written`` as payload turns, classified by the bot's NLU
    (anything but a list of texts counts as nothing written)."""
    texts = [text for text in written if isinstance(text, str) and text.strip()] if isinstance(written, list) else []
    turns = []
    for text in texts[-MAX_WRITTEN:]:
        turns.append(parsed_turn(text, await agent.parse_message(text)).describe())
    return turns


async def answered_before(agent: Any, sender_id: Text, message_id: Text, collector: CollectingOutputChannel) -> bool:
    """Puts the bot's answer to the message with this id in ``collector``; False if it is new."""
    async with agent.lock_store.lock(sender_id, wait_time_in_seconds=LOCK_POLL_SECONDS):
        tracker = await agent.tracker_store.retrieve(sender_id)
    if tracker is None:
        return False
    events = list(tracker.events)
    asked: Optional[int] = next((index for index in range(len(events) - 1, -1, -1)
                                 if isinstance(events[index], UserUttered)
                                 and (events[index].metadata or {}).get("message_id") == message_id), None)
    if asked is None:
        return False
    for event in events[asked + 1:]:
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered):
            await collector.send_response(sender_id, {"text": event.text, **{
                key: value for key, value in (event.data or {}).items() if value}})
    logger.info("message %s from %s was handled before: answered again from the tracker", message_id, sender_id)
    return True
