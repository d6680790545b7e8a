"""Stuck detection measured on a corpus of conversations, through the real bot.

tests/conversations/corpus.yml holds stuck conversations (with the customer
turn by which a handoff must have happened) and normal ones that must never be
handed off; action_errors.yml holds conversations whose callback booking fails
for real (fault drill). Each is played through a running Rasa server and action
server. The test fails below 95 % recall or above 5 % false handoffs, and
prints precision, recall and the turns from the stuck point to the handoff.
The held-out halves (heldout_dev.yml, heldout_test.yml, and the second pair
heldout2_dev.yml, heldout2_test.yml, the third pair heldout3_dev.yml,
heldout3_test.yml, the fourth pair heldout4_dev.yml, heldout4_test.yml, and the
fifth pair heldout5_dev.yml, heldout5_test.yml, issue 13) are played the same
way and fail on any miss or false handoff not known and explained, and a test
half still held out fails below issue 13's targets; the breaks issue 13
reported are played one by one.
The player and the scoring are bot.stuck.corpus, which the teach worker also
uses to check a candidate model before deploying it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import requests

from bot.stuck.corpus import (
    MAX_FALSE_HANDOFF_RATE, MIN_RECALL, Outcome, Send, load_corpus, play, summarise,
)
from bot.stuck.detector import TRIGGERS
from harness.servers import ROOT, ModelServer, running_action_server, running_rasa

CORPUS_DIR = ROOT / "tests" / "conversations"
REPORT = ROOT / ".run" / "reports" / "stuck_corpus.json"
HELD_OUT_REPORT = ROOT / ".run" / "reports" / "stuck_heldout.json"
# Written for issue 13 before the detector was changed, split into a development half (tuned on)
# and a test half (looked at once, at the end): docs/benchmarks.md, "Stuck detection, held-out corpus".
HELD_OUT = ("heldout_dev.yml", "heldout_test.yml")
# Written for issue 13's second round (follow-ups on one topic, a named agent asked for again, returning
# customers, real loops) before the detector was changed, split the same way.
HELD_OUT_2 = ("heldout2_dev.yml", "heldout2_test.yml")
# Written for issue 13's third round (a problem said again in other words after an answer that did not
# help, against follow-up questions on the topic just answered) before the detector was changed, split the same way.
HELD_OUT_3 = ("heldout3_dev.yml", "heldout3_test.yml")
# Written for issue 13's fourth round (a need said again in unlike words, statements opening with "when" or
# "if", restatements under a neighbouring topic, against follow-ups and thanks then a new question) before
# the detector was changed, split the same way.
HELD_OUT_4 = ("heldout4_dev.yml", "heldout4_test.yml")
# Written for issue 13's fifth round (problems said again in other words, 2nd and 3rd attempts with amounts and
# merchants; late loops; indirect requests and distress in unusual wordings; traps where "agent", "human",
# "person", "no" or capitals do not mean stuck) before the detector was changed, split the same way.
HELD_OUT_5 = ("heldout5_dev.yml", "heldout5_test.yml")
# Issue 13's targets are asserted on the test halves still held out. A test half looked at is held out no
# longer: heldout_test.yml and heldout2_test.yml were looked at once with the detector of 6a8501c,
# heldout3_test.yml once with that of faa572d, heldout4_test.yml once with that of f27df04, and
# heldout5_test.yml once with that of 69f7e47 and the NLU of nlu3 (a59ccb6) merged (2026-12-07); all five
# missed the targets at that look (docs/benchmarks.md). A new pair's test half goes here until its one look.
HELD_OUT_TEST_HALVES: Tuple[str, ...] = ()
# The held-out conversations the bot still gets wrong, and why. Any other miss or false handoff
# fails the test; the figures are in the report and docs/benchmarks.md.
KNOWN_HELD_OUT_FAILURES: Dict[str, str] = {
    "ebay payment of 249 never made":
        "customer_repeating: \"thanks\" between the unknown eBay payment and \"who took this 249\" excuses the "
        "restatement (thanks then more words is taken for a follow-up), though it names the same amount and payee "
        "(fifth test half, at its one look)",
    "phone number change, gotcha cool cool":
        "false handoff, repeated_fallback: the NLU reads neither \"gotcha\" nor \"cool cool\" (two fallbacks in a "
        "row after an answer and \"right\"), and acknowledgements it cannot read count as fallbacks (fifth test half, "
        "at its one look)",
}
# Issue 13's targets for a test half (never tuned on).
HELD_OUT_TEST_MIN_RECALL, HELD_OUT_TEST_MAX_FALSE_HANDOFFS = 0.98, 0.02


def load(name: str) -> List[Dict[str, Any]]:
    return load_corpus(CORPUS_DIR / name)


def rest_sender(rasa_url: str) -> Send:
    """The player's ``send`` over a running Rasa server's REST channel."""

    async def send(sender: str, text: str) -> List[Dict[str, Any]]:
        def post() -> List[Dict[str, Any]]:
            response = requests.post(
                f"{rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=30
            )
            response.raise_for_status()
            return response.json()

        return await asyncio.to_thread(post)

    return send


def play_all(rasa_url: str, conversations: List[Dict[str, Any]]) -> List[Outcome]:
    send = rest_sender(rasa_url)

    async def main() -> List[Outcome]:
        return [await play(send, conversation) for conversation in conversations]

    return asyncio.run(main())


@pytest.fixture(scope="module")
def faulty_rasa_url(model_server: ModelServer, redis_url: str) -> Iterator[str]:
    """A second bot whose action server fails to book callbacks."""
    with running_action_server("actions-failing", {"ACTIONS_FAIL": "action_submit_callback"}) as actions_url:
        with running_rasa(model_server, redis_url, actions_url, name="rasa-failing") as url:
            yield url


def test_corpus_has_every_trigger_and_both_kinds():
    conversations = load("corpus.yml") + load("action_errors.yml")
    stuck = [c for c in conversations if c["kind"] == "stuck"]
    normal = [c for c in conversations if c["kind"] == "normal"]

    assert len(conversations) >= 60 and len(stuck) >= 30 and len(normal) >= 30
    assert {c["trigger"] for c in stuck} == set(TRIGGERS)
    assert all(c["stuck_at"] <= c["handoff_by"] <= len(c["turns"]) for c in stuck)


def test_the_held_out_halves_are_new_conversations_of_both_kinds():
    halves = {name: load(name) for name in HELD_OUT}
    everything = [c for half in halves.values() for c in half]
    names = [c["name"] for c in everything]
    existing = {tuple(str(text).lower() for text in c["turns"]) for c in load("corpus.yml")}

    assert len(everything) >= 60 and len(set(names)) == len(names)
    for half in halves.values():
        stuck = [c for c in half if c["kind"] == "stuck"]
        assert len(stuck) >= 15 and len(half) - len(stuck) >= 15
        assert all(c["stuck_at"] <= c["handoff_by"] <= len(c["turns"]) for c in stuck)
        assert {c["trigger"] for c in stuck} <= set(TRIGGERS)
    assert not existing & {tuple(str(text).lower() for text in c["turns"]) for c in everything}


@pytest.mark.parametrize("pair, before", [(HELD_OUT_2, HELD_OUT), (HELD_OUT_3, HELD_OUT + HELD_OUT_2),
                                          (HELD_OUT_4, HELD_OUT + HELD_OUT_2 + HELD_OUT_3),
                                          (HELD_OUT_5, HELD_OUT + HELD_OUT_2 + HELD_OUT_3 + HELD_OUT_4)],
                         ids=["second pair", "third pair", "fourth pair", "fifth pair"])
def test_the_later_held_out_halves_are_new_conversations_of_both_kinds(pair, before):
    halves = {name: load(name) for name in pair}
    everything = [c for half in halves.values() for c in half]
    names = [c["name"] for c in everything + [c for name in before for c in load(name)]]
    existing = {tuple(str(text).lower() for text in c["turns"])
                for name in ("corpus.yml",) + before for c in load(name)}

    assert len(everything) >= 40 and len(set(names)) == len(names)
    for half in halves.values():
        stuck = [c for c in half if c["kind"] == "stuck"]
        assert len(stuck) >= 10 and len(half) - len(stuck) >= 10
        assert all(c["stuck_at"] <= c["handoff_by"] <= len(c["turns"]) for c in stuck)
        assert {c["trigger"] for c in stuck} <= set(TRIGGERS)
    assert not existing & {tuple(str(text).lower() for text in c["turns"]) for c in everything}


def test_stuck_conversations_are_handed_over_and_normal_ones_are_not(rasa_url, faulty_rasa_url, capsys):
    outcomes = play_all(rasa_url, load("corpus.yml"))
    outcomes += play_all(faulty_rasa_url, load("action_errors.yml"))

    summary = summarise(outcomes)
    report = summary.as_dict()
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2))
    with capsys.disabled():
        print("\nstuck-detection corpus:", json.dumps({k: v for k, v in report.items()
                                                     if not isinstance(v, list)}))

    assert summary.recall >= MIN_RECALL, json.dumps(report, indent=2)
    assert summary.false_handoff_rate <= MAX_FALSE_HANDOFF_RATE, json.dumps(report, indent=2)


@pytest.mark.parametrize("name", HELD_OUT + HELD_OUT_2 + HELD_OUT_3 + HELD_OUT_4 + HELD_OUT_5)
def test_held_out_corpus_has_no_new_miss_or_false_handoff(rasa_url, name, capsys):
    """One half per case, so that a test half still held out is played only when asked for (-k excludes it)."""
    report = summarise(play_all(rasa_url, load(name))).as_dict()
    HELD_OUT_REPORT.parent.mkdir(parents=True, exist_ok=True)
    reports = json.loads(HELD_OUT_REPORT.read_text()) if HELD_OUT_REPORT.is_file() else {}
    HELD_OUT_REPORT.write_text(json.dumps({**reports, name: report}, indent=2))
    with capsys.disabled():
        print(f"\nheld-out stuck corpus {name}:", json.dumps({k: v for k, v in report.items()
                                                             if not isinstance(v, list)}))

    failures = {entry["name"] for entry in report["missed"] + report["false_handoffs"]}
    assert failures <= set(KNOWN_HELD_OUT_FAILURES), json.dumps(report, indent=2)
    if name in HELD_OUT_TEST_HALVES:
        assert report["recall"] >= HELD_OUT_TEST_MIN_RECALL, json.dumps(report, indent=2)
        assert report["false_handoff_rate"] <= HELD_OUT_TEST_MAX_FALSE_HANDOFFS, json.dumps(report, indent=2)


def test_the_player_stops_at_the_first_handoff_that_is_not_a_callback():
    replies = {
        "hello": [{"recipient_id": "x", "text": "Hi!"}],
        "call me": [{"recipient_id": "x", "custom": {"handoff": {"reason": "callback"}}}],
        "a person please": [{"recipient_id": "x", "text": "Sure."},
                            {"recipient_id": "x", "custom": {"handoff": {"reason": "requested"}}}],
    }
    sent: List[Any] = []

    async def send(sender: str, text: str) -> List[Dict[str, Any]]:
        sent.append((sender, text))
        return replies[text]

    stuck = {"name": "asks for a person", "kind": "stuck", "trigger": "requested", "stuck_at": 2,
             "handoff_by": 3, "turns": ["hello", "call me", "a person please", "hello"]}
    outcome = asyncio.run(play(send, stuck))

    assert (outcome.handoff_turn, outcome.reason, outcome.caught) == (3, "requested", True)
    assert [text for _, text in sent] == ["hello", "call me", "a person please"]
    assert len({sender for sender, _ in sent}) == 1

    normal = {"name": "just chatting", "kind": "normal", "turns": ["hello"]}
    late = {**stuck, "name": "too late", "trigger": "frustration", "stuck_at": 1, "handoff_by": 1}
    summary = summarise([outcome, Outcome(normal, None, None), Outcome(normal, 1, "frustration"),
                         Outcome(late, 3, "requested")])

    assert (summary.conversations, summary.stuck, summary.normal) == (4, 2, 2)
    assert (summary.recall, summary.precision, summary.false_handoff_rate) == (0.5, 1 / 3, 0.5)
    assert summary.mean_turns_to_handoff == 1 and not summary.passed
    assert summary.missed == [{"name": "too late", "trigger": "frustration", "handoff_turn": 3,
                               "reason": "requested"}]
    assert summary.false_handoffs == [{"name": "just chatting", "handoff_turn": 1, "reason": "frustration"}]
    assert summary.as_dict()["passed"] is False and summary.as_dict()["recall"] == 0.5


# The breaks reported in issue 13, each with the handoff that must (or must not) happen:
# (conversation, the customer turn handed over or None, the reason).
REPORTED_BREAKS = [
    ({"name": "no that's all, thanks, right after an answer", "kind": "normal",
      "turns": ["how do I top up with a debit card", "no that's all, thanks"]}, None, None),
    ({"name": "a closing remark that starts with no", "kind": "normal",
      "turns": ["when will my new card arrive", "no, all good now, I'll wait", "bye"]}, None, None),
    ({"name": "a question in capitals without anger", "kind": "normal",
      "turns": ["hello", "HOW DO I ORDER A SPARE CARD FOR MY WIFE", "THANK YOU"]}, None, None),
    ({"name": "a chatty customer's third ok gets the same small-talk reply", "kind": "normal",
      "turns": ["hi", "ok", "ok", "ok", "how do I reset my password", "yes", "thanks"]}, None, None),
    ({"name": "grieving, cannot pay a loan, just needs someone to help", "kind": "stuck", "trigger": "distress",
      "stuck_at": 2, "handoff_by": 2,
      "turns": ["hi", "my dad died last week and I can't pay the loan he left, I just need someone to help me"]},
     2, "distress"),
    # A fresh-eyes trial (issue 13): a customer taking the question back was handed over as frustrated.
    ({"name": "a customer who takes the question back", "kind": "normal",
      "turns": ["how do I change my address", "actually never mind, forget it"]}, None, None),
    # The second customer trial (issue 13): a follow-up on the topic just answered was taken for the customer
    # repeating, and so was a request for the agent who served them before.
    ({"name": "a follow-up on the topic just answered", "kind": "normal",
      "turns": ["how can I contact you by phone", "and what are your opening hours on saturday?", "thanks"]},
     None, None),
    ({"name": "a trip, then whether the card works there", "kind": "normal",
      "turns": ["I'm going to the US next month", "will my card work over there", "great, thanks"]}, None, None),
    ({"name": "the agent who served them, asked for again", "kind": "stuck", "trigger": "requested",
      "stuck_at": 2, "handoff_by": 2, "turns": ["how do I top up", "can I talk to Kim again?"]}, 2, "requested"),
    ({"name": "the same need again because the answer did not help", "kind": "stuck",
      "trigger": "customer_repeating", "stuck_at": 2, "handoff_by": 2,
      "turns": ["how can I contact you by phone", "but what number do I actually call?"]}, 2, "customer_repeating"),
]


@pytest.mark.parametrize("conversation, handoff_turn, reason", REPORTED_BREAKS,
                         ids=[conversation["name"] for conversation, _, _ in REPORTED_BREAKS])
def test_the_reported_breaks_are_mended(rasa_url, conversation, handoff_turn, reason):
    [outcome] = play_all(rasa_url, [conversation])

    assert (outcome.handoff_turn, outcome.reason) == (handoff_turn, reason)
