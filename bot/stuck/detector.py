"""The triggers that decide a conversation is stuck, as pure functions of its turns.

Every trigger has a name (it becomes the handoff ``reason``), can be switched
off, and reports the evidence it acted on, so an agent (or a developer reading
a log) can see why the bot gave up. Thresholds come from ``config.yml``
(see docs/stuck-detection.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Set

from bot.stuck.conversation import RESOLVED_INTENTS, Earlier, Turn
from bot.stuck.settings import TRIGGERS, DetectorConfig

__all__ = ["TRIGGERS", "DetectorConfig", "StuckDetector", "Verdict"]

# Messages the bot could not act on: not understood, out of scope, or too vague
# to say what the customer needs ("help", "the thing from before").
NOT_UNDERSTOOD_INTENTS = frozenset({"nlu_fallback", "out_of_scope", "need_help"})
# Small talk: when the customer says it again and the bot answers it the same way again,
# the bot is not looping ("ok", "ok", "ok"; thanks and goodbyes; "are you a bot?"; a joke, the
# weather, "are you still there?": the retrieval intent chitchat/..., answered, never "not understood").
SMALL_TALK_INTENTS = frozenset({"greet", "affirm", "deny", "thank", "goodbye", "bot_challenge", "chitchat"})
# Capitals in these are enthusiasm or habit ("OK THANKS", "ARE YOU A BOT"), not shouting.
FRIENDLY_INTENTS = SMALL_TALK_INTENTS | {"request_callback"}
CHECK_QUESTION = "utter_did_that_help"

# An amount of money: "£50", "$20", "50 pounds", "60 quid" (the number is group 1 or 2).
_AMOUNT = re.compile(r"[£$€]\s?(\d+(?:[.,]\d+)?)|\b(\d+(?:[.,]\d+)?)\s?(?:pounds?|quid|euros?|dollars?|gbp|eur|usd)\b",
                     re.IGNORECASE)

# Compares two customer messages: 1.0 for the same meaning, 0.0 for unrelated.
Similarity = Callable[[str, str], float]


def _matches(patterns: Sequence[str], text: str) -> List[str]:
    return [match.group(0) for pattern in patterns for match in [re.search(pattern, text, re.IGNORECASE)] if match]


def _without(patterns: Sequence[str], text: str) -> str:
    for pattern in patterns:
        text = re.sub(pattern, " ", text, flags=re.IGNORECASE)
    return text


def _normalised(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def exact_similarity(first: str, second: str) -> float:
    """Fallback similarity: 1.0 when the messages have the same words."""
    return 1.0 if _normalised(first) == _normalised(second) else 0.0


@dataclass(frozen=True)
class Verdict:
    """A trigger fired: its name, one sentence for a person, and the evidence."""

    reason: str
    explanation: str
    evidence: Dict[str, Any] = field(default_factory=dict)


def _turn_evidence(turns: Sequence[Turn], numbers: Sequence[int], earlier: Earlier) -> List[Dict[str, Any]]:
    """The customer turns a verdict rests on: ``numbers`` count from 1 in ``turns``; the evidence
    numbers them since the last handoff, counting the earlier turns too."""
    return [{"turn": earlier.count + number, **turns[number - 1].describe()} for number in numbers]


class StuckDetector:
    """Checks the latest customer turn against every enabled trigger."""

    def __init__(self, config: DetectorConfig, similarity: Similarity = exact_similarity) -> None:
        self.config = config
        self._similarity = similarity
        self._checks: Dict[str, Callable[[List[Turn], Earlier], Optional[Verdict]]] = {
            "action_error": self._action_error,
            "distress": self._distress,
            "requested": self._requested,
            "frustration": self._frustration,
            "unresolved": self._unresolved,
            "repeated_fallback": self._repeated_fallback,
            "ping_pong": self._ping_pong,
            "customer_repeating": self._customer_repeating,
            "bot_repeating": self._bot_repeating,
            "no_resolution": self._no_resolution,
        }

    def check(self, turns: Sequence[Turn], earlier: Optional[Earlier] = None) -> Optional[Verdict]:
        """The first trigger that fires on the latest turn, or None.

        ``turns`` are the latest customer turns since the last handoff, ``earlier``
        the ones before them in brief; the triggers that look back further than
        ``turns`` reach (bot_repeating, no_resolution, unresolved, and frustration for
        the topics asked before) read it.
        """
        if not turns:
            return None
        history = list(turns)
        for name in TRIGGERS:
            if name in self.config.triggers:
                verdict = self._checks[name](history, earlier or Earlier())
                if verdict:
                    return verdict
        return None

    # ---- the triggers -----------------------------------------------------

    def _action_error(self, turns: List[Turn], earlier: Earlier) -> Optional[Verdict]:
        error = turns[-1].action_error
        if not error:
            return None
        return Verdict(
            "action_error",
            f"an action failed while serving the customer ({error.get('action')}: {error.get('error')})",
            {"error": error, "turns": _turn_evidence(turns, [len(turns)], earlier)},
        )

    def _distress(self, turns: List[Turn], earlier: Earlier) -> Optional[Verdict]:
        phrases = _matches(self.config.distress_patterns, turns[-1].text)
        if not phrases:
            return None
        return Verdict(
            "distress",
            "the customer is in distress and needs a person",
            {"phrases": phrases, "turns": _turn_evidence(turns, [len(turns)], earlier)},
        )

    def _closing(self, turn: Turn) -> bool:
        """A closing remark that means all is well ("no that's all, thanks"), not an answer that failed."""
        return bool(_matches(self.config.closing_patterns, turn.text)) and not _matches(
            self.config.unresolved_patterns, turn.text
        )

    def _requested(self, turns: List[Turn], earlier: Earlier) -> Optional[Verdict]:
        latest = turns[-1]
        by_intent = latest.intent == "request_human" and latest.confidence >= self.config.request_min_confidence
        outside_bot_questions = _without(self.config.bot_question_patterns, latest.text)
        phrases = _matches(self.config.request_patterns, outside_bot_questions)
        if not (by_intent or phrases) or _matches(self.config.no_person_patterns, latest.text):
            return None
        evidence: Dict[str, Any] = {"turns": _turn_evidence(turns, [len(turns)], earlier)}
        if phrases:
            evidence["phrases"] = phrases
        return Verdict("requested", "the customer asked for a person", evidence)

    def _frustration(self, turns: List[Turn], earlier: Earlier) -> Optional[Verdict]:
        latest = turns[-1]
        signals = []
        # A closing remark or a word of praise the NLU reads as a complaint ("actually never mind, forget it",
        # "brilliant") is not anger; frustrated words, shouting or a run of "!?" in it still are.
        if (latest.intent == "complain" and latest.confidence >= self.config.frustration_min_confidence
                and not self._closing(latest) and not _matches(self.config.praise_patterns, latest.text)):
            signals.append("complaint")
        letters = [character for character in latest.text if character.isalpha()]
        if len(letters) >= self.config.shouting_min_letters and not self._calm_in_capitals(turns, earlier):
            capitals = sum(character.isupper() for character in letters) / len(letters)
            if capitals >= self.config.shouting_ratio:
                signals.append("shouting")
        if re.search("[!?]{%d,}" % self.config.punctuation_run, latest.text):
            signals.append("repeated punctuation")
        phrases = _matches(self.config.frustration_patterns, latest.text)
        if phrases:
            signals.append("frustrated words")
        if not signals:
            return None
        evidence: Dict[str, Any] = {"signals": signals, "turns": _turn_evidence(turns, [len(turns)], earlier)}
        if phrases:
            evidence["phrases"] = phrases
        return Verdict("frustration", f"the customer is frustrated ({', '.join(signals)})", evidence)

    def _calm_in_capitals(self, turns: List[Turn], earlier: Earlier) -> bool:
        """Capitals that are habit or caps lock, not anger: small talk, a closing remark, or a
        question the bot has not been asked before since the last handoff."""
        latest = turns[-1]
        asked_before = set(earlier.topics) | {turn.topic for turn in turns[:-1] if turn.topic}
        fresh_question = latest.topic is not None and latest.topic not in asked_before
        return latest.intent in FRIENDLY_INTENTS or fresh_question or self._closing(latest)

    def _unresolved(self, turns: List[Turn], earlier: Earlier) -> Optional[Verdict]:
        latest = turns[-1]
        if self._closing(latest):
            return None
        answered = [turn.topic for turn in turns[:-1] if turn.answered]
        last_answered = answered[-1] if answered else earlier.last_answered_topic
        # "still hasn't arrived" opens many first questions: a phrase only says the
        # answer failed when there was an answer, and the message is not a new topic
        # nor a case the customer asks about ("what if it still isn't there tomorrow?").
        phrases = (
            _matches(self.config.unresolved_patterns, _without(self.config.hypothetical_patterns, latest.text))
            if last_answered is not None and latest.topic in (None, last_answered)
            else []
        )
        # The NLU reads a case asked about ("what if it's still not there next week") as not_helped too.
        asked_about = bool(_matches(self.config.hypothetical_patterns, latest.text))
        said_so = (latest.intent == "not_helped" and not asked_about) or bool(phrases)
        answered_no = (
            latest.intent == "deny"
            and len(turns) > 1
            and turns[-2].last_bot_action == CHECK_QUESTION
        )
        if not (said_so or answered_no):
            return None
        previous = next((number for number in range(len(turns) - 1, 0, -1) if turns[number - 1].topic), None)
        cited = _turn_evidence(turns, ([previous] if previous else []) + [len(turns)], earlier)
        if previous is None and earlier.last_topic_turn:
            cited.insert(0, earlier.last_topic_turn)
        how = "said the answer did not help" if said_so else 'answered "no" to "did that answer your question?"'
        evidence: Dict[str, Any] = {"turns": cited}
        if phrases:
            evidence["phrases"] = phrases
        return Verdict("unresolved", f"the customer {how}", evidence)

    def _repeated_fallback(self, turns: List[Turn], earlier: Earlier) -> Optional[Verdict]:
        count = 0
        for turn in reversed(turns):
            if turn.intent not in NOT_UNDERSTOOD_INTENTS:
                break
            count += 1
        if count < self.config.fallback_limit:
            return None
        numbers = list(range(len(turns) - count + 1, len(turns) + 1))
        return Verdict(
            "repeated_fallback",
            f"the bot could not help with {count} messages in a row",
            {"in_a_row": count, "turns": _turn_evidence(turns, numbers, earlier)},
        )

    def _ping_pong(self, turns: List[Turn], earlier: Earlier) -> Optional[Verdict]:
        latest = turns[-1]
        if not latest.topic:
            return None
        asked = [number for number in range(1, len(turns) + 1) if turns[number - 1].topic]
        if len(asked) < 3:
            return None
        first, second, third = (turns[number - 1].topic for number in asked[-3:])
        if not (first == third != second):
            return None
        # Only within a short stretch, and not once the customer said it helped.
        span = range(asked[-3], len(turns) + 1)
        if len(span) > 2 * self.config.repeat_window or any(
            turns[number - 1].intent in RESOLVED_INTENTS for number in span
        ):
            return None
        return Verdict(
            "ping_pong",
            f"the customer keeps switching between {first} and {second}",
            {"topics": [first, second], "turns": _turn_evidence(turns, asked[-3:], earlier)},
        )

    def _customer_repeating(self, turns: List[Turn], earlier: Earlier) -> Optional[Verdict]:
        """The same need again after an answer: a near-identical message, or the answered topic in words
        that insist (SAME_NEED_PATTERNS) or are close to the first ones without following on from the
        answer, or that state the problem again ("my wages haven't arrived", "ok", "payday was friday and
        there's nothing in my balance") rather than ask something new, unless thanks came between. A
        different question on the topic just answered ("and are you open on saturdays?" after the phone
        number, "what if it still isn't there tomorrow?") is a follow-up: one FAQ answer covers the topic,
        so it is answered the same way."""
        latest = turns[-1]
        if self._closing(latest):
            return None
        number = len(turns)
        window = range(max(1, number - self.config.repeat_window), number)
        insists = bool(_matches(self.config.same_need_patterns, latest.text))
        follows_up = bool(_matches(self.config.follow_up_patterns, latest.text))
        states_problem = self._states_problem(latest) and not follows_up
        for before in reversed(window):
            previous = turns[before - 1]
            if not previous.answered or _matches(self.config.returning_patterns, previous.text):
                continue
            # One problem filed under two topics of a family ("my wages haven't arrived", "there's nothing
            # from my company in my balance") is one topic when both messages state a problem; so is one the
            # NLU filed elsewhere but also considered under the family ("50 pounds" read as exchange_rate).
            same_topic = latest.topic is not None and (latest.topic == previous.topic or (
                states_problem and self._states_problem(previous) and self._related(latest, previous)))
            similarity = self._similarity(latest.text, previous.text)
            # Thanks between the answer and the problem: the answer helped, this is a new turn of events,
            # however close its words are to the first ones.
            thanked = any(turns[n - 1].intent == "thank" or self._closing(turns[n - 1]) for n in range(before + 1, number))
            close = similarity >= self.config.repeat_topic_similarity and not follows_up and not thanked
            said_again = same_topic and (insists or close or (states_problem and not thanked))
            # Whatever topics the NLU gave: the problem stated again in words close in meaning, naming the same
            # payee or amount, or in words the NLU could not read, after an answer not thanked for.
            shared = sorted(self._referents(latest.text) & self._referents(previous.text))
            restated = states_problem and not thanked and (
                similarity >= self.config.restated_similarity or bool(shared)
                or (latest.intent in NOT_UNDERSTOOD_INTENTS and self._states_problem(previous)))
            if said_again or restated or similarity >= self.config.repeat_similarity:
                how = ("asked the same question" if same_topic else "stated the same problem" if restated
                       else "asked a near-identical message")
                evidence: Dict[str, Any] = {
                    "topic": previous.topic,
                    "similarity": round(similarity, 3),
                    "turns": _turn_evidence(turns, [before, number], earlier),
                }
                if restated and shared:
                    evidence["referents"] = shared
                return Verdict(
                    "customer_repeating", f"the customer {how} again after it was answered ({previous.topic})",
                    evidence)
        return None

    def _states_problem(self, turn: Turn) -> bool:
        """Tells a problem ("my wages haven't arrived", "when I tap my phone nothing happens") rather than
        asking something new ("what if it isn't there tomorrow?")."""
        return bool(_matches(self.config.problem_patterns, turn.text)) and not _matches(
            self.config.new_question_patterns, turn.text)

    def _referents(self, text: str) -> Set[str]:
        """What a message names in particular: amounts ("£50", "50 pounds": "50") and "the <word>" ("the
        council", "the airline") unless the word names nothing in particular (common_nouns: "the money")."""
        amounts = {match.group(1) or match.group(2) for match in _AMOUNT.finditer(text)}
        named = {word.lower() for word in re.findall(r"\bthe (\w+)", text, re.IGNORECASE)}
        return amounts | (named - {noun.lower() for noun in self.config.common_nouns})

    def _related(self, first: Turn, second: Turn) -> bool:
        """Two turns' topics, or ones the NLU also considered for them, are one or of one family."""
        firsts = {first.topic, *first.alternatives} - {None}
        seconds = {second.topic, *second.alternatives} - {None}
        return bool(firsts & seconds) or any(
            firsts & set(family) and seconds & set(family) for family in self.config.related_topics)

    def _bot_repeating(self, turns: List[Turn], earlier: Earlier) -> Optional[Verdict]:
        latest = turns[-1]
        if latest.intent in SMALL_TALK_INTENTS or self._closing(latest):
            return None
        same_label = [turn for turn in turns[:-1] if turn.label == latest.label and turn.responses]
        expected = same_label[-1].responses[0] if same_label else earlier.first_responses.get(latest.label)
        if expected is None:
            return None
        sent = earlier.responses_sent.get(expected, 0) + sum(turn.responses.count(expected) for turn in turns[:-1])
        if sent < self.config.same_response_limit:
            return None
        numbers = [n for n in range(1, len(turns)) if expected in turns[n - 1].responses] + [len(turns)]
        cited = earlier.cited.get(expected, []) + _turn_evidence(turns, numbers, earlier)
        return Verdict(
            "bot_repeating",
            f"the bot was about to repeat a reply it had already sent {sent} times ({expected})",
            {"response": expected, "times_sent": sent, "turns": cited},
        )

    def _no_resolution(self, turns: List[Turn], earlier: Earlier) -> Optional[Verdict]:
        resolved = [number for number, turn in enumerate(turns, start=1) if turn.intent in RESOLVED_INTENTS]
        since = earlier.count + resolved[-1] if resolved else earlier.last_resolved_turn  # counted since handoff
        count = earlier.count + len(turns) - since
        if count < self.config.max_turns_without_resolution:
            return None
        # The turns since then that ``turns`` holds (all of them when it reaches back this far).
        numbers = list(range(max(since - earlier.count, 0) + 1, len(turns) + 1))
        topics = sorted({topic for number in numbers if (topic := turns[number - 1].topic)})
        return Verdict(
            "no_resolution",
            f"{count} messages without the customer's problem being resolved",
            {"turn_count": count, "topics": topics, "turns": _turn_evidence(turns, numbers, earlier)},
        )
