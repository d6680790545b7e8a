"""What a human agent needs to know when they take over a conversation.

Pure functions over a rasa_sdk ``Tracker``: they read the events (through the
same turn model the stuck detector uses, so turns older than the tracker's
window count too: bot/tracker_store.py) and build the ``handoff`` payload
documented in docs/handoff-payload.md: what the customer asked and what the
bot answered since the last handoff, why it hands over, and what the customer
told the bot (never its own bookkeeping).
"""

from __future__ import annotations

import re
from typing import Any, Dict, FrozenSet, List, Optional, Text, Tuple

from rasa_sdk import Tracker

from bot.stuck.conversation import Turn, conversation_since_last_handoff

__all__ = ["CONVERSATION_SOURCE", "CUSTOMER_WROTE_KEY", "PREVIOUS_KEY", "REASON_DESCRIPTIONS", "REQUEST_SOURCES", "SILENT_SOURCES", "WRITTEN_KEY",
           "SOURCE_DESCRIPTIONS", "SOURCE_KEY", "URGENT_TOPICS", "handoff_payload", "handoff_source"]

# The bridge asks for the payload with a message whose metadata says what the customer did
# (docs/handoff-payload.md "The button"); without it the bot decided from the conversation itself.
SOURCE_KEY = "handoff_source"
CONVERSATION_SOURCE = "conversation"
SOURCE_DESCRIPTIONS: Dict[Text, Text] = {
    "button": 'they pressed "Talk to a person"',
    # Left in the widget, queued or not (the bot is asked only when there was no payload yet): no "instead of waiting".
    "callback": "they left a request to be called back",
    "message": "they left a message for the team",
    "transfer": "an agent then transferred the chat",
}
# A request left instead of waiting (nobody joins the chat now) or a transfer between people: the bot
# says nothing to the customer.
SILENT_SOURCES: FrozenSet[Text] = frozenset({"callback", "message", "transfer"})
# What the bridge adds to the metadata (bot/channels.py classifies the texts): what the customer wrote that
# the bot did not see (to an agent, a message left), and the payload the conversation was handed over with
# (a transfer or a request while queued), whose turns come first and whose reason stays.
CUSTOMER_WROTE_KEY = "customer_wrote"
PREVIOUS_KEY = "previous_handoff"
# How many of the payload's last turns the customer wrote to the team (``written``): the bridge sends them
# again, with what followed, when the payload is extended.
WRITTEN_KEY = "written_to_team"
# A request left instead of waiting (the bridge asks the bot for its payload with these sources): nobody has talked
# to the customer yet, so an earlier one is no boundary of the next handoff's summary (_since_a_person).
REQUEST_SOURCES: FrozenSet[Text] = frozenset({"callback", "message"})
# What a button sends the bot, as agents read it.
BUTTON_TEXTS: Dict[Text, Text] = {"/request_human": 'Pressed "Talk to a person"'}

REASON_DESCRIPTIONS: Dict[Text, Text] = {
    "requested": "the customer asked for a person",
    "distress": "the customer is in distress (bereavement, hardship, fraud or needing someone)",
    "callback": "the customer asked to be called back",
    "repeated_fallback": "the bot did not understand several messages in a row",
    "bot_repeating": "the bot was about to repeat itself",
    "customer_repeating": "the customer asked the same question again after it was answered",
    "unresolved": "the customer said the answer did not help",
    "frustration": "the customer is frustrated",
    "action_error": "an action failed while serving the customer",
    "ping_pong": "the customer kept switching between two questions",
    "no_resolution": "a long conversation reached no resolution",
}

# How many of the latest customer messages the payload lists.
RECENT_TURNS = 10
# How much of the bot's reply each listed message carries, and the summary quotes (characters).
MAX_REPLY = 300
MAX_QUOTED_REPLY = 160
# How many exchanges (a message and the bot's reply) the summary quotes, the latest.
SUMMARY_EXCHANGES = 4
# Topics where the customer's money or access is at risk now, most urgent first: the summary leads with
# what they wrote about the most urgent one, whatever came after it (small talk, "never mind").
URGENT_TOPICS: Tuple[Text, ...] = (
    "unrecognised_transaction", "lost_or_stolen_card", "card_swallowed", "cancel_transfer",
    "transfer_not_received", "charged_twice", "payment_deferral",
)
DISTRESS = "distress"  # the stuck detector's reason (docs/handoff-payload.md)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def handoff_source(tracker: Tracker) -> Text:
    """What made the customer ask, from the latest message's metadata: a name in SOURCE_DESCRIPTIONS
    when the bridge asked on the customer's behalf, else ``conversation``."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    source = metadata.get(SOURCE_KEY) if isinstance(metadata, dict) else None
    return source if source in SOURCE_DESCRIPTIONS else CONVERSATION_SOURCE


def _told_by_customer(domain: Optional[Dict[Text, Any]]) -> FrozenSet[Text]:
    """Slots filled from what the customer said (any mapping but ``custom``). The others (brand,
    handoff bookkeeping, the earlier turns' brief, Rasa's session_started_metadata with its
    message ids) mean nothing to the agent."""
    slots = (domain or {}).get("slots") or {}
    return frozenset(
        name for name, spec in slots.items()
        if any(isinstance(mapping, dict) and mapping.get("type") != "custom"
               for mapping in (spec or {}).get("mappings") or [])
    )


def _customer_slots(tracker: Tracker, domain: Optional[Dict[Text, Any]]) -> Dict[Text, Any]:
    told = _told_by_customer(domain)
    return {name: value for name, value in sorted(tracker.current_slot_values().items())
            if name in told and value is not None}


def _pressed(events: List[Dict[Text, Any]]) -> Dict[Text, Text]:
    """What each button the bot showed sends, as agents read it: 'Pressed "No"', the title the customer saw
    (a later button with the same payload wins), never the raw ``/deny``; BUTTON_TEXTS for the bridge's own."""
    pressed: Dict[Text, Text] = {}
    for event in events:
        data = event.get("data") if event.get("event") == "bot" else None
        for button in (data.get("buttons") or [] if isinstance(data, dict) else []):
            if isinstance(button, dict) and isinstance(button.get("payload"), str) and button.get("title"):
                pressed[button["payload"]] = f'Pressed "{button["title"]}"'
    return {**pressed, **BUTTON_TEXTS}


def _readable(entry: Dict[Text, Any], pressed: Dict[Text, Text]) -> Dict[Text, Any]:
    """A described turn with a pressed button's payload put in words (``pressed``: _pressed)."""
    return {**entry, "text": pressed.get(entry["text"], entry["text"])}


def _shortened(text: Text, limit: int) -> Text:
    """At most ``limit`` characters, an ellipsis marking a cut."""
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _listed(turn: Turn, pressed: Dict[Text, Text]) -> Dict[Text, Any]:
    entry = _readable(turn.describe(), pressed)
    if turn.replies:
        entry["bot_reply"] = _shortened(turn.replies[0], MAX_REPLY)
    return entry


def _counted(count: int, noun: Text) -> Text:
    """'1 customer message', '2 customer messages': read by agents, never 'message(s)'."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _quote(reply: Text) -> Text:
    """The reply's first sentence (of its first line), cut to MAX_QUOTED_REPLY characters; one
    that introduces a list says there is more."""
    lines = reply.strip().splitlines() or [""]
    sentence = _shortened(_SENTENCE_END.split(lines[0], maxsplit=1)[0], MAX_QUOTED_REPLY)
    return f"{sentence} …" if sentence.endswith(":") else sentence


def _exchanges(turns: List[Turn], pressed: Dict[Text, Text]) -> Optional[Text]:
    """What the customer asked and what the bot answered, the latest SUMMARY_EXCHANGES of them."""
    replied = [turn for turn in turns if turn.replies]
    if not replied:
        return None
    quoted = [
        f'{_what_they_did(turn, pressed)} and the bot '
        f'{"answered" if turn.answered else "replied"} "{_quote(turn.replies[0])}"'
        for turn in replied[-SUMMARY_EXCHANGES:]
    ]
    earlier = len(replied) - len(quoted)
    before = f" (after {_counted(earlier, 'earlier exchange')})" if earlier else ""
    return f"The customer {'; '.join(quoted)}{before}."


def _what_they_did(turn: Turn, pressed: Dict[Text, Text]) -> Text:
    """'asked "…"', 'said "…"', or for a button 'pressed "No"' (its title, unquoted twice)."""
    if turn.text in pressed:
        return pressed[turn.text][0].lower() + pressed[turn.text][1:]
    return f'{"asked" if turn.topic else "said"} "{turn.describe()["text"]}"'


def _written(turns: List[Turn], after_exchanges: bool) -> Optional[Text]:
    """What the customer wrote that the bot never answered (to an agent, a message left), the latest
    SUMMARY_EXCHANGES of them; "Then" when it follows what they asked the bot."""
    if not turns:
        return None
    quoted = "; ".join(f'"{turn.text}"' for turn in turns[-SUMMARY_EXCHANGES:])
    earlier = len(turns) - min(len(turns), SUMMARY_EXCHANGES)
    before = f" (after {_counted(earlier, 'earlier message')})" if earlier else ""
    return f"{'Then the' if after_exchanges else 'The'} customer wrote to the team: {quoted}{before}."


def _most_urgent(turns: List[Turn], written: List[Turn]) -> Optional[Turn]:
    """The customer's latest message about the most urgent of URGENT_TOPICS they raised, if any."""
    raised = [turn for turn in turns + written if turn.topic in URGENT_TOPICS]
    if not raised:
        return None
    return min(reversed(raised), key=lambda turn: URGENT_TOPICS.index(str(turn.topic)))


def _urgent_lead(urgent: Optional[Turn], quoted: List[Turn]) -> Optional[Text]:
    """What the card leads with when the first message quoted is not already about the most urgent topic."""
    if urgent is None or (quoted and quoted[0].topic == urgent.topic):
        return None
    return f'Most urgent: "{urgent.describe()["text"]}" ({str(urgent.topic).replace("_", " ")}).'


def _distress_lead(reason: Text, evidence_turns: Any, last_shown: Optional[Text]) -> Optional[Text]:
    """A customer in distress is never asked again what happened: their words the detector acted on lead the
    card, also when later messages (to the team, after a transfer) would push them out of the quotes, unless
    they are the last message, which the summary quotes anyway (``last_shown``)."""
    if reason != DISTRESS or not isinstance(evidence_turns, list):
        return None
    said = [turn["text"] for turn in evidence_turns
            if isinstance(turn, dict) and isinstance(turn.get("text"), str) and turn["text"] != last_shown]
    quoted = "; ".join(f'"{text}"' for text in said)
    return f"In distress: {quoted}." if said else None


def _named_topics(explanation: Any, evidence: Dict[Text, Any]) -> Any:
    """The detector's explanation with the topics its evidence names (``topic``, ``topics``) as agents read them
    elsewhere ("(charged twice)", not "(charged_twice)")."""
    if not isinstance(explanation, str):
        return explanation
    topics = evidence.get("topics")
    named = [evidence.get("topic"), *(topics if isinstance(topics, list) else [])]
    for topic in named:
        if isinstance(topic, str) and topic:
            explanation = explanation.replace(topic, topic.replace("_", " "))
    return explanation


def _summary_text(reason: Text, how: List[Text], evidence: Dict[Text, Any], turns: List[Turn],
                  written: List[Turn], count: int, topics: List[Text], urgent: Optional[Turn],
                  pressed: Dict[Text, Text]) -> Text:
    """What the customer asked comes first (the card shows the reason beside it), led by the words of a
    customer in distress, or by their most urgent question when something else came first or after it,
    then what they wrote to people, then why once: the detector's explanation when there is one (it says
    the reason's description more precisely), and how it came to people (``how``: SOURCE_DESCRIPTIONS' keys)."""
    exchanges = _exchanges(turns, pressed)
    quoted = [turn for turn in turns if turn.replies][-SUMMARY_EXCHANGES:] or written[-SUMMARY_EXCHANGES:]
    last_shown = (turns[-1].describe()["text"] if not written and turns and turns[-1].text not in pressed
                  else None)
    parts = [said for said in (_distress_lead(reason, evidence.get("turns"), last_shown)
                               or _urgent_lead(urgent, quoted), exchanges,
                               _written(written, after_exchanges=exchanges is not None)) if said]
    explanation = _named_topics(evidence.get("explanation"), evidence)
    reason_text = (explanation if isinstance(explanation, str) and explanation.strip()
                   else REASON_DESCRIPTIONS.get(reason, reason.replace("_", " ")))
    ways = "; ".join(SOURCE_DESCRIPTIONS[source] for source in dict.fromkeys(how) if source in SOURCE_DESCRIPTIONS)
    parts.append(f"Handed over because {reason_text}{f' ({ways})' if ways else ''}.")
    if topics:
        readable = ", ".join(topic.replace("_", " ") for topic in topics)
        parts.append(f"Topics asked about: {readable}.")
    else:
        parts.append("No support topic was recognised.")
    parts.append(f"{_counted(count, 'customer message')}.")
    if last_shown is not None:
        parts.append(f'Last message before the handoff: "{last_shown}".')
    elif not written and turns and turns[-1].text in pressed and turns[-1].text not in BUTTON_TEXTS:
        parts.append(f"Last before the handoff: they {_what_they_did(turns[-1], pressed)}.")
    return " ".join(parts)


def _metadata(tracker: Tracker) -> Dict[Text, Any]:
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    return metadata if isinstance(metadata, dict) else {}


def _topics(turns: List[Turn], before: List[Text]) -> List[Text]:
    """``before`` and the turns' topics, each once, the most recent last."""
    topics = list(before)
    for turn in turns:
        if turn.topic:
            if turn.topic in topics:
                topics.remove(turn.topic)
            topics.append(turn.topic)
    return topics


def _card_topic(reason: Text, topics: List[Text]) -> Optional[Text]:
    """What the queue card is headed with and the chat routed by: the latest FAQ topic, but none for a
    customer in distress, whose card then leads with the reason: a widow asking to close her late husband's
    account is no routine "Close account" case (the topics asked about stay in ``topics``)."""
    if reason == DISTRESS or not topics:
        return None
    return topics[-1]


def _since_a_person(events: List[Dict[Text, Any]]) -> List[Dict[Text, Any]]:
    """The events the summary reads: without a request left instead of waiting before the latest message (the
    bridge's request intent, the payload the bot answered it with, its ``action_handoff``), so that the handoff a
    customer upgrades a callback or a message to starts where that request's summary did. A handoff the queue
    refused comes back as ``previous_handoff`` (handoff/service.py), whose turns come first."""
    users = [index for index, event in enumerate(events) if event.get("event") == "user"]
    kept: List[Dict[Text, Any]] = []
    skipping = False
    for index, event in enumerate(events):
        if event.get("event") == "user":
            metadata = event.get("metadata")
            skipping = (index != users[-1] and isinstance(metadata, dict)
                        and metadata.get(SOURCE_KEY) in REQUEST_SOURCES)
        if not skipping:
            kept.append(event)
    return kept


def handoff_payload(
    tracker: Tracker, reason: Text, evidence: Optional[Dict[Text, Any]] = None,
    domain: Optional[Dict[Text, Any]] = None,
) -> Dict[Text, Any]:
    """The ``custom`` payload that tells the bridge to hand the chat to a person.

    ``domain`` (as the action server gets it) says which slots the customer filled; without it none are listed.
    Asked for by the bridge with a previous handoff's payload (a transfer, a request left while queued),
    that one's turns, reason, evidence and counts come first, then what the customer wrote since.
    """
    metadata = _metadata(tracker)
    source = handoff_source(tracker)
    written = [Turn.from_described(turn) for turn in metadata.get(CUSTOMER_WROTE_KEY) or []
               if isinstance(turn, dict)]
    previous = metadata.get(PREVIOUS_KEY)
    evidence = dict(evidence or {})
    how = [source]
    conversation = conversation_since_last_handoff(_since_a_person(tracker.events))
    pressed = _pressed(tracker.events)
    # The request intent the bridge sent for a request or a transfer is no message of the customer's.
    asked_for = written or isinstance(previous, dict)
    own = conversation.turns[:-1] if asked_for and source in SILENT_SOURCES else conversation.turns
    own_typed = (conversation.count - (len(conversation.turns) - len(own))
                 - sum(turn.text in pressed for turn in own))
    if isinstance(previous, dict):
        # The bot's conversation up to that handoff was summarised in it; what the tracker holds since
        # (after a refused handoff, the customer went on talking to the bot) follows.
        before = [Turn.from_described(turn) for turn in previous.get("turns") or [] if isinstance(turn, dict)]
        # What it lists as written to the team comes again, with anything since, in ``written``.
        listed_written = previous.get(WRITTEN_KEY)
        repeated = min(max(listed_written, 0), len(before)) if isinstance(listed_written, int) else 0
        before = before[:len(before) - repeated]
        reason = str(previous.get("reason") or reason)
        evidence = dict(previous.get("evidence") or {}) if isinstance(previous.get("evidence"), dict) else {}
        how = [str(previous.get("source") or ""), source]
        topics_before = [topic for topic in previous.get("topics") or [] if isinstance(topic, str)]
        typed_before = previous.get("messages")
        typed = (typed_before - repeated if isinstance(typed_before, int) else
                 sum(turn.text not in pressed.values() for turn in before)) + own_typed
        topics_before = _topics(own, topics_before)
        before += own
        slots_before = previous.get("slots")
        slots = {**(slots_before if isinstance(slots_before, dict) else {}), **_customer_slots(tracker, domain)}
    else:
        before = own
        topics_before = conversation.as_earlier().topics
        # A pressed button is said in the reason ("they pressed ..."), not counted as a message.
        typed = own_typed
        slots = _customer_slots(tracker, domain)
    recent = before[-RECENT_TURNS:]
    listed = [_listed(turn, pressed) for turn in recent] + [turn.describe() for turn in written]
    topics = _topics(written, topics_before)
    typed += len(written)
    if isinstance(evidence.get("turns"), list):
        evidence["turns"] = [_readable(turn, pressed) if isinstance(turn, dict) and "text" in turn else turn
                             for turn in evidence["turns"]]
    return {
        "handoff": {
            "reason": reason,
            "source": source,
            "summary": _summary_text(reason, how, evidence, recent, written, typed, topics,
                                     _most_urgent(before, written), pressed),
            "topic": _card_topic(reason, topics),
            "topics": topics,
            "turns": listed[-RECENT_TURNS:],
            "messages": typed,
            WRITTEN_KEY: min(len(written), RECENT_TURNS),
            "slots": slots,
            "evidence": evidence,
        }
    }
