"""Typo correction against the training examples' own words, before any featurizer.

A customer who types "unfreez my crad" means "unfreeze my card", but the
sentence encoder reads the misspelt words as noise, and two unknown words out of
three also make the classifier doubt the message (``known_words_needed``). A
word the training data never uses is therefore replaced, for the NLU only, by
the most frequent training word one edit away (a letter deleted, inserted,
changed, or two neighbours swapped). A word our examples lack is often a real
word all the same ("door", "beach"): a word that is a whole word of the sentence
encoder's English vocabulary (about 22,000), or one of them with an ending
("mailing", "beeps"), is left alone. Words shorter than
``min_length`` are neither corrected nor corrected into ("norb" does not become
"nor"), and words with no such neighbour stay as typed, so keyboard mash stays
unknown.

The corrected text is stored beside the message's text (``NLU_TEXT``), never in
its place: the conversation, transcripts and the teach inbox keep the
customer's own words.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections import Counter
from functools import lru_cache
from typing import AbstractSet, Any, Dict, FrozenSet, Iterable, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.sentence_encoder import default_model_dir

__all__ = ["NLU_TEXT", "SpellingCorrector", "correct", "english_words", "nlu_text", "word_counts"]

logger = logging.getLogger(__name__)

# The message attribute holding the text the NLU reads when a word was corrected.
NLU_TEXT = "nlu_text"

_WORD = re.compile(r"[A-Za-z]+")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def nlu_text(message: Message) -> Text:
    """The text the featurizers and the classifier read: the corrected one when there is one."""
    return message.get(NLU_TEXT) or message.get(TEXT)


def word_counts(texts: Iterable[Text]) -> Counter:
    """How often each lower-case word occurs in the texts."""
    return Counter(word.lower() for text in texts for word in _WORD.findall(text))


@lru_cache(maxsize=1)
def english_words() -> FrozenSet[str]:
    """The whole, letters-only words of the sentence encoder's vocabulary (it ships with the encoder)."""
    vocabulary = json.loads((default_model_dir() / "tokenizer.json").read_text())["model"]["vocab"]
    return frozenset(token for token in vocabulary if token.isascii() and token.isalpha())


_ENDINGS = ("s", "es", "d", "ed", "ing", "ly")


def _is_word(word: str, counts: Counter, real_words: AbstractSet[str]) -> bool:
    """Known to our examples or a real word, as it stands or without a common ending."""
    stems = [word] + [word[: -len(ending)] for ending in _ENDINGS if word.endswith(ending)]
    return any(stem in counts or stem in real_words for stem in stems)


def _one_edit_away(word: str) -> set:
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {left + right[1:] for left, right in splits if right}
    swaps = {left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1}
    changes = {left + letter + right[1:] for left, right in splits if right for letter in _LETTERS}
    inserts = {left + letter + right for left, right in splits for letter in _LETTERS}
    return deletes | swaps | changes | inserts


def correct(text: Text, counts: Counter, min_length: int, real_words: AbstractSet[str] = frozenset()) -> Text:
    """The text with each word of at least ``min_length`` letters that is neither known (``counts``) nor a
    real word replaced by its likeliest known neighbour of at least ``min_length`` letters."""

    def replace(match: "re.Match[str]") -> str:
        word = match.group(0)
        lower = word.lower()
        if len(lower) < min_length or _is_word(lower, counts, real_words):
            return word
        candidates = [candidate for candidate in _one_edit_away(lower)
                      if candidate in counts and len(candidate) >= min_length]
        # Most frequent first; ties go to the alphabetically first, so the result never depends on set order.
        return min(candidates, key=lambda candidate: (-counts[candidate], candidate)) if candidates else word

    return _WORD.sub(replace, text)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True
)
class SpellingCorrector(GraphComponent):
    """Learns the training examples' words; at parse time sets ``NLU_TEXT`` where a word was corrected."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # Shorter words have too many neighbours one edit away ("pay", "pin", "fee") to guess among.
        return {"min_length": 4}

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        counts: Optional[Counter] = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._counts: Counter = counts or Counter()

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SpellingCorrector":
        return cls(config, model_storage, resource)

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        if int(config.get("min_length", 4)) < 2:
            raise ValueError("SpellingCorrector: min_length must be at least 2.")

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        from bot.nlu.featurizers import source_fingerprint

        return source_fingerprint(sys.modules[__name__])

    def train(self, training_data: TrainingData) -> Resource:
        self._counts = word_counts(
            message.get(TEXT) for message in training_data.training_examples if message.get(TEXT)
        )
        with self._model_storage.write_to(self._resource) as directory:
            (directory / "word_counts.json").write_text(json.dumps(dict(sorted(self._counts.items()))))
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "SpellingCorrector":
        try:
            with model_storage.read_from(resource) as directory:
                counts = Counter(json.loads((directory / "word_counts.json").read_text()))
        except (ValueError, FileNotFoundError):
            logger.warning("SpellingCorrector was not trained; it corrects nothing.")
            counts = Counter()
        return cls(config, model_storage, resource, counts)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # The training examples are the vocabulary: there is nothing in them to correct.
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        if not self._counts:
            return messages
        for message in messages:
            text = message.get(TEXT)
            if text:
                corrected = correct(text, self._counts, int(self._config["min_length"]), english_words())
                if corrected != text:
                    message.set(NLU_TEXT, corrected)
        return messages
