"""The typo corrector (bot/nlu/spelling.py): what it corrects, what it leaves, and that the customer's text stays."""

from __future__ import annotations

from collections import Counter

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.spelling import NLU_TEXT, SpellingCorrector, correct, english_words, nlu_text, word_counts

COUNTS = word_counts(["unfreeze my card", "my card is lost", "freeze the card", "where is my card", "cart"])


def test_one_slip_is_corrected_and_the_case_of_known_words_kept():
    assert correct("Unfreez my crad", COUNTS, 4) == "unfreeze my card"
    assert correct("Where is my CARD", COUNTS, 4) == "Where is my CARD"


def test_the_most_frequent_neighbour_wins():
    # "carx" is one edit from both "card" (4 times) and "cart" (once).
    assert correct("carx", COUNTS, 4) == "card"


def test_short_words_mash_and_words_two_edits_away_stay_as_typed():
    assert correct("teh crd", COUNTS, 4) == "teh crd"
    assert correct("asdkjh qwpoe", COUNTS, 4) == "asdkjh qwpoe"
    assert correct("unfrz", COUNTS, 4) == "unfrz"
    # One deletion from "my", but a short word is not a correction's target either.
    assert correct("myyy mmyy", word_counts(["my"]), 4) == "myyy mmyy"


def test_real_words_our_examples_lack_are_not_typos():
    counts = word_counts(["my card has not arrived", "it is poor"])

    assert correct("nothing through the door", counts, 4) == "nothing through the poor"
    assert correct("nothing through the door", counts, 4, english_words()) == "nothing through the door"
    assert correct("my crad", counts, 4, english_words()) == "my card"
    assert correct("is the card mailing", counts, 4, english_words()) == "is the card mailing"


def test_ties_are_broken_the_same_way_every_time():
    counts = Counter({"card": 1, "cart": 1})
    assert correct("carz", counts, 4) == "card"


def context(name: str) -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), node_name=name)


def test_the_component_keeps_the_customers_text_and_loads_back(tmp_path):
    storage = LocalModelStorage(tmp_path)
    corrector = SpellingCorrector.create(SpellingCorrector.get_default_config(), storage, Resource("spell"),
                                         context("spell"))
    corrector.train(TrainingData([Message(data={"text": "unfreeze my card", "intent": "faq"})]))
    loaded = SpellingCorrector.load(SpellingCorrector.get_default_config(), storage, Resource("spell"),
                                    context("spell"))
    typo, clean = Message(data={"text": "unfreez my crad"}), Message(data={"text": "unfreeze my card"})

    loaded.process([typo, clean])

    assert typo.get("text") == "unfreez my crad"
    assert typo.get(NLU_TEXT) == nlu_text(typo) == "unfreeze my card"
    assert clean.get(NLU_TEXT) is None and nlu_text(clean) == "unfreeze my card"
    assert NLU_TEXT not in typo.as_dict(only_output_properties=True)


def test_an_untrained_corrector_changes_nothing(tmp_path):
    storage = LocalModelStorage(tmp_path)
    corrector = SpellingCorrector.load(SpellingCorrector.get_default_config(), storage, Resource("none"),
                                       context("none"))
    message = Message(data={"text": "unfreez my crad"})

    corrector.process([message])

    assert message.get(NLU_TEXT) is None


def test_a_too_small_min_length_is_refused():
    with pytest.raises(ValueError, match="min_length"):
        SpellingCorrector.validate_config({"min_length": 1})
