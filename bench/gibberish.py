"""Messages that mean nothing: the bot must say it did not understand, not answer.

Made-up phrases (written for this project) and keyboard mash drawn with a
fixed seed, so the set is the same on every run.
"""

from __future__ import annotations

import random
from typing import List

__all__ = ["gibberish"]

PHRASES = (
    "blorp the flanges",
    "snorkel wibble pance",
    "flimflam of the grotbags",
    "zib zab zoo",
    "the purple quantum spatula",
    "gronk",
    "wub wub wub",
    "frabjous tinkle mop",
    "my plinth has glomped",
    "skadoodle the frimp",
    "norb norb",
    "quibble the wobbly gantry",
    "klaxon marmoset jelly",
    "bleep bloop",
    "the moon is made of spanners",
    "trundle the vorpal spoon",
    "hrmph grmbl",
    "ooga booga",
    "plonk the dingus",
    "wizzle wozzle",
)
KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
MASH_COUNT = 30


def _mash(rng: random.Random) -> str:
    """A burst of neighbouring keys, sometimes two words, as a hand slapped on a keyboard types."""
    words = []
    for _ in range(rng.choice((1, 1, 2))):
        row = rng.choice(KEYBOARD_ROWS)
        start = rng.randrange(len(row) - 3)
        keys = row[start : start + rng.randint(3, len(row) - start)]
        words.append("".join(rng.choice(keys) for _ in range(rng.randint(4, 10))))
    return " ".join(words)


def gibberish(seed: int = 7) -> List[str]:
    """The phrases and ``MASH_COUNT`` keyboard mashes (deterministic for a seed)."""
    rng = random.Random(seed)
    return list(PHRASES) + [_mash(rng) for _ in range(MASH_COUNT)]
