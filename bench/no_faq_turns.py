"""Customer turns an agent sees where NO FAQ answer should be suggested: requests for a person, a
name, thanks, distress remarks, small talk (the agent trial, issue 13 item 6: "Card swallowed" above
a bereaved customer's thanks). Written for this benchmark, none from the shared data sets, and
committed before any tuning of the suggestions' floor (bench/suggestions.py): the floor is chosen on
``dev``; ``test`` is looked at once, at the end.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

__all__ = ["NO_FAQ_SPLITS", "no_faq_split"]

_DEV: Tuple[str, ...] = (
    # a request for a person
    "can I speak to a human please",
    "can I talk to Kim again?",
    "put me through to someone real",
    "I'd like to chat with an advisor",
    "is there a person I can talk to",
    "get me a manager",
    # a name, or who the customer is
    "thank you. I'm Mary Jones, he was Peter Jones",
    "my name is Tom Baker",
    "it's Aisha Khan",
    "Sarah",
    "this is Mr Patel speaking",
    "the account is in my husband's name, David Smith",
    # thanks, closing
    "thanks so much",
    "thank you, that's really kind of you",
    "cheers, that's all",
    "ok great, bye",
    "brilliant, thanks for your patience",
    "no that's everything, have a nice day",
    # distress remarks
    "my husband passed away last week",
    "I'm sorry, I'm finding this very hard",
    "I just don't know what to do anymore",
    "my mum died and I don't know where to start",
    "I think I've been scammed, I'm shaking",
    "I'm really struggling at the moment",
    # small talk
    "how are you today?",
    "are you a real person?",
    "sorry for the typos",
    "one moment, let me find my glasses",
    "ok",
    "hello again",
)

_TEST: Tuple[str, ...] = (
    # a request for a person
    "could I speak to a real person",
    "can I have the lady I spoke to yesterday",
    "I want to talk to someone, not a bot",
    "please transfer me to an agent",
    "can Sam call me back",
    "is anyone there?",
    # a name, or who the customer is
    "I'm Jenny Clarke",
    "my name's Robert, Rob for short",
    "it was my father's account, James Wilson",
    "Daniel O'Connor",
    "this is his daughter, Emma",
    "you can call me Priya",
    # thanks, closing
    "thank you so much for your help",
    "thanks, you've been great",
    "lovely, thank you",
    "that's all I needed, goodbye",
    "many thanks",
    "perfect, cheers",
    # distress remarks
    "my wife died on Sunday",
    "I can't stop crying, sorry",
    "we're going through a really hard time",
    "my dad has just passed and I'm the executor",
    "I'm scared someone is watching my account",
    "I lost my job and I can't pay my rent",
    # small talk
    "what's the weather like where you are",
    "are you a robot?",
    "give me a second",
    "sorry, I'm back",
    "hmm",
    "good afternoon",
)

NO_FAQ_SPLITS: Dict[str, Tuple[str, ...]] = {"dev": _DEV, "test": _TEST}


def no_faq_split(name: str) -> List[str]:
    """The ``dev`` or ``test`` turns; ValueError for another name."""
    if name not in NO_FAQ_SPLITS:
        raise ValueError(f"split must be one of {sorted(NO_FAQ_SPLITS)}, got {name!r}")
    return list(NO_FAQ_SPLITS[name])
