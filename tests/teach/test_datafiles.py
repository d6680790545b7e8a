"""Labels written into a copy of the real training data: exact lines, nothing else touched."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from teaching.worker import datafiles
from teaching import errors
from teaching.errors import DataError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "data", tmp_path / "data")
    shutil.copy2(ROOT / "domain.yml", tmp_path / "domain.yml")
    shutil.copy2(ROOT / "config.yml", tmp_path / "config.yml")
    return tmp_path


def snapshot(root: Path) -> Dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def assert_inserted(before: bytes, after: bytes, *insertions: Tuple[int, List[str]]) -> None:
    """``after`` is exactly ``before`` with ``lines`` inserted before each line number ``at``."""
    expected = before.decode().split("\n")
    for at, lines in sorted(insertions, reverse=True):
        expected[at:at] = lines
    assert after.decode().split("\n") == expected


def only_changed(before: Dict[str, bytes], after: Dict[str, bytes], *changed: str) -> None:
    assert set(after) == set(before) | set(changed)
    for rel in set(before) - set(changed):
        assert after[rel] == before[rel], rel


def block_end(text: str, intent: str) -> int:
    """The line after the last example of ``intent``'s block (the insertion point), found independently."""
    lines = text.split("\n")
    start = lines.index(f"- intent: {intent}")
    last = start + 1
    for index in range(start + 2, len(lines)):
        if lines[index].startswith("- ") or (lines[index] and not lines[index].startswith(" ")):
            break
        if lines[index].startswith("    - "):
            last = index
    return last + 1


def rasa_examples(path: Path) -> List[Tuple[str, str, int]]:
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    data = RasaYAMLReader().read(path)
    return [(m.get_full_intent(), m.get("text"), len(m.get("entities") or [])) for m in data.training_examples]


def assert_untouched(root: Path, before: Dict[str, bytes]) -> None:
    assert snapshot(root) == before


# ---- catalogue -------------------------------------------------------------------------


def test_catalog_lists_intents_and_faq_topics_with_counts_and_answers(project: Path) -> None:
    import yaml

    catalog = datafiles.catalog(project)
    entries = {entry["name"]: entry for entry in catalog["intents"]}
    names = [entry["name"] for entry in catalog["intents"]]
    assert names == sorted(names)

    counts: Counter = Counter()
    for path in sorted((project / "data/nlu").glob("*.yml")):
        counts.update(intent for intent, _, _ in rasa_examples(path))
    domain = yaml.safe_load((project / "domain.yml").read_text())
    plain = [intent for intent in domain["intents"] if intent not in ("faq", "chitchat")]
    faq = sorted(intent for intent in counts if intent.startswith("faq/"))
    small_talk = sorted(intent for intent in counts if intent.startswith("chitchat/"))
    assert set(entries) == set(plain) | set(faq) | set(small_talk)
    assert "faq" not in entries and "chitchat" not in entries and len(faq) == 25 and small_talk
    for name, entry in entries.items():
        assert entry["examples"] == counts[name] > 0, name
        assert entry["kind"] == ("faq" if name.startswith("faq/") else "intent")
    assert entries["chitchat/joke"]["answer"].startswith("Why did the banker")

    assert entries["greet"]["answer"] == domain["responses"]["utter_greet"][0]["text"]
    assert entries["out_of_scope"]["answer"].startswith("Sorry, that's not something I can help with")
    assert entries["thank"]["answer"] is None  # answered by utter_you_are_welcome, not utter_thank
    responses = yaml.safe_load((project / "data/responses/faq_cards.yml").read_text())["responses"]
    assert entries["faq/card_arrival"]["answer"] == responses["utter_faq/card_arrival"][0]["text"]
    assert catalog["categories"] == ["account", "cards", "payments"]


# ---- customer messages as examples --------------------------------------------------------


def test_normalise_example_collapses_whitespace_and_is_idempotent() -> None:
    text = datafiles.normalise_example("  my card\n\n  hasn't\tarrived \u2028 yet\r\n")
    assert text == "my card hasn't arrived yet"
    assert datafiles.normalise_example(text) == text
    assert datafiles.normalise_example("x" * 300) == "x" * 300


@pytest.mark.parametrize("text, words", [
    ("", "empty"), (" \n\t ", "empty"), ("x" * 301, "at most 300"),
    ("card\x00arrived", "control characters"), ("bell\x07", "control characters"), ("del\x7f", "control"),
])
def test_normalise_example_refuses_clearly(text: str, words: str) -> None:
    with pytest.raises(errors.InvalidText) as raised:
        datafiles.normalise_example(text)
    assert raised.value.code == "invalid_text" and words in str(raised.value)


def test_entity_markup_is_made_safe() -> None:
    from rasa.shared.nlu.training_data.entities_parser import ENTITY_REGEX

    for text, stored in [
        ("[x](y)", "[x] (y)"),
        ('send [50 pounds]{"entity": "amount"} now', 'send [50 pounds] {"entity": "amount"} now'),
        ('[Berlin][{"entity": "city"}]', '[Berlin] [{"entity": "city"}]'),
        ("[a](b:c) and [d](e)", "[a] (b:c) and [d] (e)"),
        ("C:\\users\\me \\u00e9", "C:/users/me /u00e9"),
        ("[just brackets] (and parentheses)", "[just brackets] (and parentheses)"),
    ]:
        assert datafiles.normalise_example(text) == stored
        assert not ENTITY_REGEX.search(stored)
        assert datafiles.normalise_example(stored) == stored


# ---- add_examples -----------------------------------------------------------------------


@pytest.mark.parametrize("intent, rel", [
    ("greet", "data/nlu/core.yml"),                 # blocks separated by blank lines
    ("affirm", "data/nlu/core.yml"),                # a blank line inside the block
    ("faq/card_arrival", "data/nlu/faq_cards.yml"),  # no blank lines at all
    ("faq/receiving_money", "data/nlu/faq_payments.yml"),  # the last block of the file
    ("out_of_scope", "data/nlu/core.yml"),
])
def test_add_examples_appends_at_the_end_of_the_block(project: Path, intent: str, rel: str) -> None:
    before = snapshot(project)
    end = block_end(before[rel].decode(), intent)
    result = datafiles.add_examples(project, intent, ["a brand new  message", "And\nanother one"])
    assert result == datafiles.AddResult(["a brand new message", "And another one"], [], [rel])
    after = snapshot(project)
    only_changed(before, after, rel)
    assert_inserted(before[rel], after[rel], (end, ["    - a brand new message", "    - And another one"]))
    examples = rasa_examples(project / rel)
    assert (intent, "a brand new message", 0) in examples and (intent, "And another one", 0) in examples


def test_same_text_twice_is_already_there(project: Path) -> None:
    first = datafiles.add_examples(project, "greet", ["Hey there, robot"])
    assert first.added == ["Hey there, robot"]
    before = snapshot(project)
    second = datafiles.add_examples(project, "greet", ["hey there,   ROBOT", "Hey there, robot", "hello"])
    assert second == datafiles.AddResult([], ["hey there, ROBOT", "Hey there, robot", "hello"], [])
    assert_untouched(project, before)
    # duplicates within one call are written once
    third = datafiles.add_examples(project, "greet", ["good day to you", "Good  day to you"])
    assert third.added == ["good day to you"] and third.already_there == ["Good day to you"]


def test_conflict_writes_nothing(project: Path) -> None:
    before = snapshot(project)
    with pytest.raises(errors.Conflict) as raised:
        datafiles.add_examples(project, "greet", ["a perfectly new greeting", "BYE"])
    assert raised.value.code == "conflict"
    assert raised.value.intent == "goodbye" and raised.value.text == "BYE"
    assert "goodbye" in str(raised.value) and '"BYE"' in str(raised.value)
    assert_untouched(project, before)
    with pytest.raises(errors.Conflict, match="faq/card_arrival"):
        datafiles.add_examples(project, "faq/activate_card", ["card still not here"])
    assert_untouched(project, before)


@pytest.mark.parametrize("intent", ["nonsense", "faq", "faq/nonsense", "chitchat", "chitchat/nonsense",
                                    "nlu_fallback", "utter_greet"])
def test_unknown_intent(project: Path, intent: str) -> None:
    before = snapshot(project)
    with pytest.raises(errors.UnknownIntent) as raised:
        datafiles.add_examples(project, intent, ["hello robot"])
    assert raised.value.code == "unknown_intent" and intent in str(raised.value)
    assert_untouched(project, before)


def test_small_talk_is_taught_by_its_key(project: Path) -> None:
    added = datafiles.add_examples(project, "chitchat/joke", ["got a pun for me"])

    assert added.added == ["got a pun for me"] and added.files == ["data/nlu/chitchat.yml"]
    assert ("chitchat/joke", "got a pun for me", 0) in rasa_examples(project / "data/nlu/chitchat.yml")


def test_invalid_text_writes_nothing(project: Path) -> None:
    before = snapshot(project)
    with pytest.raises(errors.InvalidText):
        datafiles.add_examples(project, "greet", ["fine", "\x00"])
    with pytest.raises(errors.InvalidText):
        datafiles.add_examples(project, "greet", [])
    assert_untouched(project, before)


HOSTILE = [
    "key: value",
    "- item",
    "# comment",
    "#no space comment",
    '"double quoted"',
    "'single quoted'",
    "it's a \"mixed\" 'quote'",
    "[x](y)",
    "{not: a mapping}",
    "| literal > folded",
    "&anchor *alias !tag %directive @at `tick`",
    "--- document ... end",
    "${HOME} and $PATH",
    "C:\\users\\bob",
    "ünïcödé café 日本語 مرحبا 😀 👩‍💻",
    "\u200fright-to-left mark",
    "ends with colon:",
    "?",
    "-",
]


def test_hostile_texts_are_stored_safely(project: Path) -> None:
    before = snapshot(project)
    stored = [datafiles.normalise_example(text) for text in HOSTILE]
    result = datafiles.add_examples(project, "faq/card_arrival", HOSTILE)
    assert result.added == stored
    after = snapshot(project)
    only_changed(before, after, "data/nlu/faq_cards.yml")
    end = block_end(before["data/nlu/faq_cards.yml"].decode(), "faq/card_arrival")
    assert_inserted(before["data/nlu/faq_cards.yml"], after["data/nlu/faq_cards.yml"],
                    (end, [f"    - {text}" for text in stored]))
    read_back = [(text, entities) for intent, text, entities in rasa_examples(project / "data/nlu/faq_cards.yml")
                 if intent == "faq/card_arrival"]
    assert read_back[-len(stored):] == [(text, 0) for text in stored]


def test_hostile_texts_in_an_ascii_file(project: Path) -> None:
    """core.yml is pure ASCII, where Rasa decodes \\u escapes in the raw text: backslashes are made safe."""
    assert (project / "data/nlu/core.yml").read_bytes().isascii()
    texts = ["C:\\users\\new\\file", "\\u0041 and \\U0001F600", "ends in a backslash\\"]
    result = datafiles.add_examples(project, "out_of_scope", texts)
    assert result.added == ["C:/users/new/file", "/u0041 and /U0001F600", "ends in a backslash/"]
    read_back = [text for intent, text, _ in rasa_examples(project / "data/nlu/core.yml") if intent == "out_of_scope"]
    assert read_back[-3:] == result.added


def test_intent_of_the_domain_without_examples_gets_a_block_in_taught(project: Path) -> None:
    domain = project / "domain.yml"
    domain.write_text(domain.read_text().replace("  - not_helped\n", "  - not_helped\n  - smalltalk\n"))
    result = datafiles.add_examples(project, "smalltalk", ["how are you doing"])
    assert result.files == ["data/nlu/taught.yml"]
    text = (project / "data/nlu/taught.yml").read_text()
    assert text.endswith("nlu:\n- intent: smalltalk\n  examples: |\n    - how are you doing\n")
    assert ("smalltalk", "how are you doing", 0) in rasa_examples(project / "data/nlu/taught.yml")


# ---- a failed check restores the files ------------------------------------------------------------


def test_a_change_rasa_would_misread_is_undone(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot(project)
    # without the "- ", Rasa skips the line with a warning: the examples do not read back
    monkeypatch.setattr(datafiles, "_example_line", lambda example: example)
    with pytest.raises(DataError) as raised:
        datafiles.add_examples(project, "greet", ["hello from a broken writer"])
    assert raised.value.code == "invalid_data" and "not saved" in str(raised.value)
    assert_untouched(project, before)
    with pytest.raises(DataError):
        datafiles.create_faq(project, "broken_topic", "brand_new", "An answer.", ["a question"])
    with pytest.raises(DataError):
        datafiles.create_intent(project, "broken_intent", "An answer.", ["a question"])
    assert_untouched(project, before)  # the new files are gone again, no temporary files are left


@pytest.mark.parametrize("breakage", [
    "- oops: [\n",  # not YAML
    "- intent: faq/card_colours\n  exampels: |\n    - what colour is it\n",  # YAML, but not Rasa's format
])
def test_a_file_that_is_already_broken_is_not_touched(project: Path, breakage: str) -> None:
    cards = project / "data/nlu/faq_cards.yml"
    cards.write_text(cards.read_text().replace("nlu:\n", "nlu:\n" + breakage, 1))
    before = snapshot(project)
    with pytest.raises(DataError, match="faq_cards.yml .*A developer needs to fix it first") as raised:
        datafiles.add_examples(project, "faq/card_arrival", ["a question"])
    assert raised.value.code == "invalid_data"
    assert_untouched(project, before)


# ---- new FAQ topics ---------------------------------------------------------------------------


def test_create_faq_in_an_existing_category(project: Path) -> None:
    before = snapshot(project)
    nlu, responses = "data/nlu/faq_account.yml", "data/responses/faq_account.yml"
    result = datafiles.create_faq(project, "savings_rate", "account", ' What is the rate? See {help_url}/rates ',
                                  ["what's the savings rate", "interest on savings?"])
    assert result == datafiles.AddResult(["what's the savings rate", "interest on savings?"], [], [nlu, responses])
    after = snapshot(project)
    only_changed(before, after, nlu, responses)
    old_nlu = before[nlu].decode().split("\n")
    assert_inserted(before[nlu], after[nlu], (len(old_nlu) - 1, [
        "", "- intent: faq/savings_rate", "  examples: |", "    - what's the savings rate",
        "    - interest on savings?"]))  # faq_account.yml separates its topics with blank lines
    old_responses = before[responses].decode().split("\n")
    assert_inserted(before[responses], after[responses], (len(old_responses) - 1, [
        "", "  utter_faq/savings_rate:", '  - text: "What is the rate? See {help_url}/rates"']))
    entry = {e["name"]: e for e in datafiles.catalog(project)["intents"]}["faq/savings_rate"]
    assert entry == {"name": "faq/savings_rate", "examples": 2, "answer": "What is the rate? See {help_url}/rates",
                     "kind": "faq"}


def test_create_faq_follows_a_file_without_blank_lines(project: Path) -> None:
    before = snapshot(project)
    answer = "Cards come in blue. (Not C:\\users\\u00e9.)"  # faq_cards.yml is ASCII: Rasa decodes \\u there
    datafiles.create_faq(project, "card_colours", "cards", answer, ["what colour is the card"])
    nlu, responses = "data/nlu/faq_cards.yml", "data/responses/faq_cards.yml"
    after = snapshot(project)
    old = before[nlu].decode().split("\n")
    assert_inserted(before[nlu], after[nlu], (len(old) - 1, [
        "- intent: faq/card_colours", "  examples: |", "    - what colour is the card"]))
    old = before[responses].decode().split("\n")
    assert_inserted(before[responses], after[responses], (len(old) - 1, [
        "  utter_faq/card_colours:", '  - text: "Cards come in blue. (Not C:\\\\users\\\\u00e9.)"']))
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    assert before[responses].isascii()
    assert RasaYAMLReader().read(project / responses).responses["utter_faq/card_colours"] == [{"text": answer}]


def test_create_faq_in_a_new_category(project: Path) -> None:
    before = snapshot(project)
    answer = ('We don\'t offer "crypto".\nAsk {bank_name} at {support_email} \\ C:\\users \\u00e9 é 😀 '
              '# no comment: $HOME')
    result = datafiles.create_faq(project, "crypto", "investing", answer, ["can I buy bitcoin", "crypto?"])
    nlu, responses = "data/nlu/faq_investing.yml", "data/responses/faq_investing.yml"
    assert result.files == [nlu, responses]
    after = snapshot(project)
    only_changed(before, after, nlu, responses)
    assert after[nlu].decode() == (
        'version: "3.1"\n'
        "# Questions about investing, added by content staff in the teach console (teaching/).\n"
        "nlu:\n"
        "- intent: faq/crypto\n"
        "  examples: |\n"
        "    - can I buy bitcoin\n"
        "    - crypto?\n"
    )
    assert after[responses].decode() == (
        'version: "3.1"\n'
        "# Answers to the questions about investing, added by content staff in the teach console (teaching/).\n"
        "responses:\n"
        "  utter_faq/crypto:\n"
        '  - text: "We don\'t offer \\"crypto\\".\\nAsk {bank_name} at {support_email} \\\\ C:\\\\users '
        '\\\\u00e9 é 😀 # no comment: $HOME"\n'
    )
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    assert RasaYAMLReader().read(project / responses).responses == {"utter_faq/crypto": [{"text": answer}]}
    assert datafiles.catalog(project)["categories"] == ["account", "cards", "investing", "payments"]
    # the next topic of that category is appended to the new files
    datafiles.create_faq(project, "stocks", "investing", "No shares either.", ["can I buy shares"])
    assert (project / nlu).read_text().endswith(
        "    - crypto?\n\n- intent: faq/stocks\n  examples: |\n    - can I buy shares\n")
    assert (project / responses).read_text().endswith('😀 # no comment: $HOME"\n  utter_faq/stocks:\n'
                                                      '  - text: "No shares either."\n')


@pytest.mark.parametrize("key, category, answer, texts, error, words", [
    ("Crypto", "investing", "A.", ["q"], errors.InvalidName, "lowercase"),
    ("c", "investing", "A.", ["q"], errors.InvalidName, "lowercase"),
    ("x" * 41, "investing", "A.", ["q"], errors.InvalidName, "lowercase"),
    ("faq/crypto", "investing", "A.", ["q"], errors.InvalidName, "lowercase"),
    ("crypto", "Investing!", "A.", ["q"], errors.InvalidName, "category"),
    ("crypto", "../etc", "A.", ["q"], errors.InvalidName, "category"),
    ("card_arrival", "cards", "A.", ["q"], errors.AlreadyExists, "card_arrival"),
    ("crypto", "investing", "Call {account_manager}.", ["q"], errors.InvalidAnswer, "{account_manager}"),
    ("crypto", "investing", "Call { bank_name }.", ["q"], errors.InvalidAnswer, "{ bank_name }"),
    ("crypto", "investing", "Prices {", ["q"], errors.InvalidAnswer, "Curly brackets"),
    ("crypto", "investing", "{{bank_name}}", ["q"], errors.InvalidAnswer, "Curly brackets"),
    ("crypto", "investing", "   ", ["q"], errors.InvalidAnswer, "empty"),
    ("crypto", "investing", "x" * 1001, ["q"], errors.InvalidAnswer, "at most 1000"),
    ("crypto", "investing", "bell\x07", ["q"], errors.InvalidAnswer, "control"),
    ("crypto", "investing", "A.", [], errors.InvalidText, "at least one"),
    ("crypto", "investing", "A.", ["hello"], errors.Conflict, "greet"),
])
def test_create_faq_refuses(project: Path, key: str, category: str, answer: str, texts: List[str],
                            error: type, words: str) -> None:
    before = snapshot(project)
    with pytest.raises(error) as raised:
        datafiles.create_faq(project, key, category, answer, texts)
    assert words in str(raised.value)
    assert raised.value.code == {errors.InvalidName: "invalid_name", errors.AlreadyExists: "exists",
                                 errors.InvalidAnswer: "invalid_answer", errors.InvalidText: "invalid_text",
                                 errors.Conflict: "conflict"}[error]
    assert_untouched(project, before)


# ---- new intents ----------------------------------------------------------------------------


def test_create_intent(project: Path) -> None:
    before = snapshot(project)
    domain_lines = before["domain.yml"].decode().split("\n")
    after_intents = domain_lines.index("  - not_helped") + 1
    answer = 'I can\'t see the weather, sorry. Try "{help_url}". 🌦'
    result = datafiles.create_intent(project, "weather", answer, ["what's the weather", "is it raining"])
    assert result == datafiles.AddResult(["what's the weather", "is it raining"], [],
                                         ["data/nlu/taught.yml", "data/rules/taught.yml", "domain.yml"])
    after = snapshot(project)
    only_changed(before, after, "domain.yml", "data/nlu/taught.yml", "data/rules/taught.yml")
    assert_inserted(
        before["domain.yml"], after["domain.yml"],
        (after_intents, ["  - weather"]),
        (len(domain_lines) - 1, ["", "  utter_weather:",
                                 '    - text: "I can\'t see the weather, sorry. Try \\"{help_url}\\". 🌦"']),
    )
    assert after["data/nlu/taught.yml"].decode() == (
        'version: "3.1"\n'
        "# Intents that content staff added in the teach console (teaching/); their answers are in domain.yml, "
        "their rules in data/rules/taught.yml.\n"
        "nlu:\n- intent: weather\n  examples: |\n    - what's the weather\n    - is it raining\n"
    )
    assert after["data/rules/taught.yml"].decode() == (
        'version: "3.1"\n'
        "# Rules for the intents that content staff added in the teach console (teaching/): "
        "each intent is answered with its response.\n"
        "rules:\n- rule: answer weather\n  steps:\n  - intent: weather\n  - action: utter_weather\n"
    )
    from rasa.shared.core.domain import Domain

    domain = Domain.from_path(project / "domain.yml")
    assert "weather" in domain.intents and domain.responses["utter_weather"] == [{"text": answer}]
    assert {e["name"]: e for e in datafiles.catalog(project)["intents"]}["weather"] == {
        "name": "weather", "examples": 2, "answer": answer, "kind": "intent"}

    # a second intent is appended in the same style; its examples can be added to later
    datafiles.create_intent(project, "jokes", "I'm not funny.", ["tell me something funny"])
    assert (project / "data/rules/taught.yml").read_text().endswith(
        "  - action: utter_weather\n\n- rule: answer jokes\n  steps:\n  - intent: jokes\n  - action: utter_jokes\n")
    assert (project / "domain.yml").read_text().endswith(
        '🌦"\n\n  utter_jokes:\n    - text: "I\'m not funny."\n')
    more = datafiles.add_examples(project, "weather", ["will it be sunny"])
    assert more.files == ["data/nlu/taught.yml"]
    assert (project / "data/nlu/taught.yml").read_text().endswith(
        "    - is it raining\n    - will it be sunny\n\n- intent: jokes\n  examples: |\n"
        "    - tell me something funny\n")


@pytest.mark.parametrize("name, error", [
    ("greet", errors.AlreadyExists), ("faq", errors.AlreadyExists), ("restart", errors.AlreadyExists),
    ("session_start", errors.AlreadyExists), ("glad", errors.AlreadyExists),  # utter_glad exists
    ("Weather", errors.InvalidName), ("w", errors.InvalidName), ("weather-now", errors.InvalidName),
    ("weather\n", errors.InvalidName),
])
def test_create_intent_refuses(project: Path, name: str, error: type) -> None:
    before = snapshot(project)
    with pytest.raises(error):
        datafiles.create_intent(project, name, "An answer.", ["a brand new question"])
    assert_untouched(project, before)


# ---- the whole copy still validates -----------------------------------------------------------


def test_rasa_data_validate_accepts_the_changed_project(project: Path) -> None:
    datafiles.create_faq(project, "crypto", "investing", 'No "crypto" at {bank_name}.\nSee {help_url}.',
                         ["can I buy bitcoin", "[ethereum](coin) please"])
    datafiles.create_faq(project, "savings_rate", "account", "See {help_url}/rates.", ["savings interest rate"])
    datafiles.create_intent(project, "weather", "I can't tell the weather.", ["what's the weather like"])
    datafiles.create_intent(project, "jokes", "I'm not funny.", ["tell me something funny"])
    datafiles.add_examples(project, "weather", ["is it going to rain"])
    datafiles.add_examples(project, "out_of_scope", ["what's the best pizza topping"])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false"}
    done = subprocess.run([str(Path(sys.executable).parent / "rasa"), "data", "validate", "--quiet"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    for name in ("crypto", "savings_rate", "weather", "jokes", "taught.yml", "faq_investing"):
        assert name not in output, output[-4000:]
