"""Undoing a label on a copy of the real training data: every byte as it was before the label."""

from __future__ import annotations

from pathlib import Path

import pytest

from teaching.worker import datafiles
from teaching.errors import DataError
from teaching.worker.undo import undo_label
from tests.teach.test_datafiles import project, snapshot  # noqa: F401 - the fixture

MESSAGES = ["do you sell pet insurance", "can I insure my dog with you"]


def test_undoing_examples_of_an_existing_topic_restores_every_byte(project: Path):  # noqa: F811
    before = snapshot(project)
    added = datafiles.add_examples(project, "faq/card_arrival", MESSAGES)
    other = datafiles.add_examples(project, "faq/card_arrival", ["my card is late, where is it"])
    result = undo_label(project, "faq/card_arrival", added.added, None, keep_definition=False)
    assert (result.removed, result.definition_removed) == (MESSAGES, False)
    undo_label(project, "faq/card_arrival", other.added, None, keep_definition=False)
    assert snapshot(project) == before


@pytest.mark.parametrize("category", ["account", "pets"])
def test_undoing_a_new_faq_topic_removes_its_block_answer_and_new_files(project: Path, category: str):  # noqa: F811
    before = snapshot(project)
    added = datafiles.create_faq(project, "pet_insurance", category, "Ask PetCover: {help_url}/pets", MESSAGES)
    assert (project / "data" / "nlu" / f"faq_{category}.yml").exists()
    result = undo_label(project, "faq/pet_insurance", added.added, {"kind": "faq"}, keep_definition=False)
    assert result.definition_removed
    assert snapshot(project) == before


def test_undoing_a_new_intent_removes_its_domain_entries_and_rule(project: Path):  # noqa: F811
    before = snapshot(project)
    first = datafiles.create_intent(project, "loyalty_points", "Points come with every payment.", ["how do loyalty points work"])
    second = datafiles.create_intent(project, "referral_bonus", "Invite a friend from the app.", ["is there a bonus for referring a friend"])
    undo_label(project, "loyalty_points", first.added, {"kind": "intent"}, keep_definition=False)
    assert "loyalty_points" not in (project / "domain.yml").read_text()
    assert "referral_bonus" in (project / "data" / "rules" / "taught.yml").read_text()
    undo_label(project, "referral_bonus", second.added, {"kind": "intent"}, keep_definition=False)
    assert snapshot(project) == before


def test_a_topic_another_label_still_uses_keeps_its_definition(project: Path):  # noqa: F811
    created = datafiles.create_faq(project, "pet_insurance", "account", "Ask PetCover.", MESSAGES[:1])
    later = datafiles.add_examples(project, "faq/pet_insurance", MESSAGES[1:])
    result = undo_label(project, "faq/pet_insurance", created.added, {"kind": "faq"}, keep_definition=True)
    assert not result.definition_removed
    catalog = {entry["name"]: entry for entry in datafiles.catalog(project)["intents"]}
    assert catalog["faq/pet_insurance"]["examples"] == 1 and catalog["faq/pet_insurance"]["answer"]
    assert later.added == MESSAGES[1:]


def test_an_example_edited_since_is_refused_and_nothing_changes(project: Path):  # noqa: F811
    added = datafiles.add_examples(project, "faq/card_arrival", MESSAGES)
    nlu = project / "data" / "nlu" / "faq_cards.yml"
    nlu.write_text(nlu.read_text().replace(MESSAGES[1], "can I insure my cat with you"))
    edited = snapshot(project)
    with pytest.raises(DataError, match="no longer an example"):
        undo_label(project, "faq/card_arrival", added.added, None, keep_definition=False)
    assert snapshot(project) == edited
