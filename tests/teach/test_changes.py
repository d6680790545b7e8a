"""What changed since the live model, from what each model was trained from or from the labels alone."""

from __future__ import annotations

from teaching.worker.changes import changes_since

LIVE = {"examples": {"greet": ["hi", "hello"], "faq/fees": ["what fees"]},
        "responses": {"utter_greet": "Hi!", "utter_faq/fees": "No fees."}}
CANDIDATE = {"examples": {"greet": ["hi", "hey there"], "faq/fees": ["what fees"], "faq/pets": ["pet cover?"]},
             "responses": {"utter_greet": "Hello!", "utter_faq/fees": "No fees.", "utter_faq/pets": "Ask PetCover."}}


def label(label_id: str, intent: str, added: list, time: float, state: str = "active", **more) -> dict:
    return {"id": label_id, "kind": "labelled", "intent": intent, "added": added, "by": "carla", "time": time,
            "state": state, **more}


def test_changes_from_the_data_each_model_was_trained_from():
    labels = [label("a", "faq/pets", ["pet cover?"], 11.0, created={"kind": "faq", "answer": "Ask PetCover."}),
              label("b", "greet", ["yo"], 12.0, state="undone", undone_by="dora", undone_at=13.0)]
    changes = changes_since("m1", 10.0, LIVE, CANDIDATE, labels)
    assert changes["since"] == "m1" and changes["source"] == "data"
    assert [(row["id"], row["state"], row["undone_by"], row["examples"]) for row in changes["labels"]] == [
        ("a", "added", None, 1), ("b", "added and undone", "dora", 1)]
    assert changes["examples"] == [
        {"topic": "faq/pets", "added": 1, "removed": 0, "samples_added": ["pet cover?"], "samples_removed": []},
        {"topic": "greet", "added": 1, "removed": 1, "samples_added": ["hey there"], "samples_removed": ["hello"]},
    ]
    assert (changes["new_topics"], changes["removed_topics"]) == (["faq/pets"], [])
    assert changes["responses"] == [{"name": "utter_faq/pets", "before": None, "after": "Ask PetCover."},
                                    {"name": "utter_greet", "before": "Hi!", "after": "Hello!"}]


def test_without_the_live_models_data_the_labels_are_added_up():
    labels = [label("old", "greet", ["hello"], 5.0, state="undone", undone_by="dora", undone_at=12.0),
              label("a", "faq/pets", ["pet cover?", "dog cover?"], 11.0,
                    created={"kind": "faq", "answer": "Ask PetCover."}),
              label("b", "greet", ["yo"], 12.0, state="undone", undone_by="dora", undone_at=13.0)]
    changes = changes_since("m1", 10.0, None, CANDIDATE, labels)
    assert changes["source"] == "labels"
    assert [row["state"] for row in changes["labels"]] == ["undone", "added", "added and undone"]
    assert [(row["topic"], row["added"], row["removed"]) for row in changes["examples"]] == [
        ("faq/pets", 2, 0), ("greet", 0, 1)]
    assert changes["new_topics"] == ["faq/pets"]
    assert changes["responses"] == [{"name": "utter_faq/pets", "before": None, "after": "Ask PetCover."}]
