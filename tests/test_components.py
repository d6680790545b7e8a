"""The NLU graph components on small data, without a full Rasa model."""

from __future__ import annotations

from typing import List

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.classifier import TopicClassifier
from bot.nlu.featurizers import SentenceEmbeddingFeaturizer, TfidfFeaturizer
from bot.nlu.sentence_encoder import load_encoder

EXAMPLES = {
    "greet": ["hello", "hi there", "good morning", "hey", "hiya"],
    "faq/card_arrival": [
        "my card has not arrived",
        "when will my new card come",
        "still waiting for the card in the post",
        "card delivery is taking ages",
        "where is my replacement card",
    ],
    "faq/top_up": [
        "how do I add money",
        "top up my account",
        "my top-up failed",
        "can I put cash into my account",
        "load money with a debit card",
    ],
}


def training_data() -> TrainingData:
    messages = []
    for label, texts in EXAMPLES.items():
        for text in texts:
            data = {"text": text, "intent": label.split("/")[0]}
            if "/" in label:
                data["intent_response_key"] = label
            messages.append(Message(data=data))
    return TrainingData(
        messages,
        responses={
            "utter_faq/card_arrival": [{"text": "Cards take 5 days."}],
            "utter_faq/top_up": [{"text": "Top up in the app."}],
        },
    )


@pytest.fixture
def storage(tmp_path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


def context(name: str) -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), node_name=name)


def trained_pipeline(storage: LocalModelStorage, **classifier_config: float):
    embedder = SentenceEmbeddingFeaturizer.create(
        SentenceEmbeddingFeaturizer.get_default_config(), storage, Resource("embed"), context("embed")
    )
    tfidf = TfidfFeaturizer.create(
        TfidfFeaturizer.get_default_config(), storage, Resource("tfidf"), context("tfidf")
    )
    classifier = TopicClassifier.create(
        {**TopicClassifier.get_default_config(), **classifier_config}, storage, Resource("clf"), context("clf")
    )
    data = training_data()
    embedder.process_training_data(data)
    tfidf.train(data)
    tfidf.process_training_data(data)
    classifier.train(data)
    return embedder, tfidf, classifier


def parse(components, text: str) -> Message:
    message = Message(data={"text": text})
    for component in components:
        component.process([message])
    return message


def test_encoder_places_paraphrases_closer_than_unrelated_texts():
    vectors = load_encoder().encode(
        ["my card has not arrived yet", "when will I receive my new card", "what is the weather in Paris"]
    )

    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > 0.6 > 0.2 > similarity[0, 2]


def test_encoder_gives_the_same_vector_alone_or_in_a_padded_batch():
    encoder = load_encoder()
    texts = ["hi", "a considerably longer sentence about cards, transfers and fees"]

    batched = encoder.encode(texts)
    encoder.clear_cache()  # else "alone" would be the batch's vectors, cached
    alone = np.vstack([encoder.encode([text]) for text in texts])

    assert np.allclose(batched, alone, atol=1e-5)


def test_classifier_fills_intent_and_response_selector(storage):
    components = trained_pipeline(storage)

    message = parse(components, "my new card hasn't come yet")

    assert message.get("intent")["name"] == "faq"
    selector = message.get("response_selector")
    assert selector["all_retrieval_intents"] == ["faq"]
    assert selector["faq"]["response"]["intent_response_key"] == "faq/card_arrival"
    assert selector["faq"]["response"]["utter_action"] == "utter_faq/card_arrival"
    assert selector["faq"]["response"]["responses"] == [{"text": "Cards take 5 days."}]
    assert [entry["name"] for entry in message.get("intent_ranking")] == ["faq", "greet"]


def test_plain_intents_keep_their_name_and_the_selector_still_ranks_answers(storage):
    # As Rasa's ResponseSelector does, the selector output is always there;
    # retrieval actions only read it when the intent is the retrieval intent.
    message = parse(trained_pipeline(storage), "hello!")

    assert message.get("intent")["name"] == "greet"
    assert message.get("intent")["confidence"] > 0.5
    assert set(message.get("response_selector")) == {"all_retrieval_intents", "faq"}


def test_an_untrained_classifier_passes_messages_through_and_refuses_to_score(storage):
    classifier = TopicClassifier.create(
        TopicClassifier.get_default_config(), storage, Resource("clf"), context("clf")
    )
    message = Message(data={"text": "hello"})

    classifier.process([message])

    assert message.get("intent") is None
    with pytest.raises(ValueError, match="not trained"):
        classifier.probabilities([message])


def test_trained_components_load_back_with_identical_predictions(storage):
    components = trained_pipeline(storage)
    texts: List[str] = ["top up with my card", "hey", "card still not here"]
    before = [parse(components, text).as_dict(only_output_properties=True) for text in texts]

    loaded = (
        components[0],
        TfidfFeaturizer.load(TfidfFeaturizer.get_default_config(), storage, Resource("tfidf"), context("tfidf")),
        TopicClassifier.load(TopicClassifier.get_default_config(), storage, Resource("clf"), context("clf")),
    )
    after = [parse(loaded, text).as_dict(only_output_properties=True) for text in texts]

    assert after == before


def test_classifier_without_features_says_what_is_missing(storage):
    classifier = TopicClassifier.create(
        TopicClassifier.get_default_config(), storage, Resource("clf"), context("clf")
    )

    with pytest.raises(ValueError, match="no sentence features"):
        classifier.train(training_data())


def test_the_answer_vote_never_changes_the_confidence_or_a_plain_intent(tmp_path):
    texts = ["my new card hasn't come yet", "load money with my debit card", "hello!", "blorp the flanges"]
    for name in ("plain", "voted"):
        (tmp_path / name).mkdir()
    plain = [parse(trained_pipeline(LocalModelStorage(tmp_path / "plain")), text) for text in texts]
    voted = [parse(trained_pipeline(LocalModelStorage(tmp_path / "voted"), answer_vote_weight=5.0), text)
             for text in texts]

    for before, after in zip(plain, voted):
        assert after.get("intent") == before.get("intent")  # name and confidence
    assert [m.get("response_selector")["faq"]["response"]["intent_response_key"] for m in voted[:2]] == [
        "faq/card_arrival", "faq/top_up"]
