"""Suggested replies: is the right FAQ answer among the first three the console offers, and what one
suggestion costs the Rasa server.

    python -m bench.suggestions                  # the dev questions (tune here)
    python -m bench.suggestions --split test     # the test questions: only to report, at the end
    python -m bench.suggestions --model models/x.tar.gz

Questions: BANKING77's training-split questions of our 25 topics, each right only with its
category's one best answer (bench/suggestion_splits.py: dev and test halves, pinned by hash). The
FAQ suggestions are exactly what ``POST /webhooks/rest/suggest`` answers (bot/suggestions/faq.py
on the model's parse). Turns with no FAQ question (bench/no_faq_turns.py: requests for a person,
names, thanks, distress, small talk; dev and test halves): the share given no FAQ suggestion.
Cost: ``Suggester.suggest`` on one message at a time, as the Rasa server runs it, with an index
of agents' earlier replies in a real Redis (wall clock and this process's CPU, with the encoder's
memory of earlier texts cleared), and ``Suggester.learn`` per pair.
Results: a Markdown summary on stdout and JSON in .run/bench/suggestions.json.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from bench.common import latency_summary, markdown_table, write_result
from bench.no_faq_turns import no_faq_split
from bench.suggestion_splits import SPLITS, suggestion_split
from harness.servers import newest_model, running_redis

__all__ = ["main", "rank_scores"]

RANKS = (1, 3)
LATENCY_SAMPLES = 200
INDEXED_PAIRS = 2_000


def rank_scores(labels: Sequence[str], offered: Sequence[Sequence[str]]) -> Dict[str, Any]:
    """The share of questions whose right label is among the first k offered, for k in RANKS, per topic
    at 3, and the right answers most often missing from the first three."""
    totals: Counter = Counter()
    within: Dict[int, Counter] = {rank: Counter() for rank in RANKS}
    missed: Counter = Counter()
    for label, topics in zip(labels, offered):
        totals[label] += 1
        for rank in RANKS:
            within[rank][label] += label in topics[:rank]
        if label not in topics[:3]:
            missed[(label, topics[0] if topics else "")] += 1
    count = sum(totals.values())
    return {
        **{f"top{rank}": sum(within[rank].values()) / count for rank in RANKS},
        "questions": count,
        "per_topic_top3": {label: within[3][label] / total for label, total in sorted(totals.items())},
        "missed": [[label, first, n] for (label, first), n in missed.most_common(12)],
    }


def accuracy(model_path: Path, split: str) -> Dict[str, Any]:
    from bot.evaluation import NluModel
    from bot.suggestions.faq import answer_texts, faq_suggestions

    examples = suggestion_split(split)
    model = NluModel(model_path)
    domain = model.agent.domain
    answers = answer_texts(domain.responses, {slot.name: slot.initial_value for slot in domain.slots})
    texts = [text for text, _ in examples]
    offered = [[f"faq/{item['topic']}" for item in faq_suggestions(text, parse, answers, 3)]
               for text, parse in zip(texts, model.parse(texts))]
    turns = no_faq_split(split)
    wrongly = [text for text, parse in zip(turns, model.parse(turns)) if faq_suggestions(text, parse, answers, 3)]
    return {**rank_scores([accepted[0] for _, accepted in examples], offered),
            "no_faq_turns": len(turns), "no_faq_clean": 1 - len(wrongly) / len(turns), "no_faq_offered": wrongly}


async def cost(model_path: Path, split: str) -> Dict[str, Any]:
    """Per suggestion and per learned pair, on the Rasa side, against an index in a real Redis."""
    from rasa.core.agent import Agent
    from redis.asyncio import Redis

    from rasa.utils.log_utils import configure_structlog

    from bot.nlu.sentence_encoder import load_encoder
    from bot.suggestions.faq import answer_texts
    from bot.suggestions.index import LearnedPair, ReplyIndex
    from bot.suggestions.suggester import Suggester

    configure_structlog(logging.INFO)  # as the Rasa server logs: no debug line per parse
    examples = suggestion_split(split)
    agent = Agent.load(str(model_path))
    domain = agent.domain
    answers = answer_texts(domain.responses, {slot.name: slot.initial_value for slot in domain.slots})
    learned = [LearnedPair(f"bench-{index}", text, answers[accepted[0]])
               for index, (text, accepted) in enumerate(examples[:INDEXED_PAIRS])]
    asked = [text for text, _ in examples[INDEXED_PAIRS:INDEXED_PAIRS + LATENCY_SAMPLES]]
    with running_redis("bench-suggestions") as server:
        redis = Redis.from_url(server.url)
        suggester = Suggester(agent, ReplyIndex(redis, "bench:"))
        await suggester.suggest("warm up")  # the first call traces the encoder's graph
        load_encoder().clear_cache()
        started, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(learned), 50):  # as the bridge relays them: at most 50 a request
            await suggester.learn(learned[start:start + 50])
        learn_ms = (time.perf_counter() - started) * 1000 / len(learned)
        learn_cpu_ms = (time.process_time() - cpu) * 1000 / len(learned)
        await suggester.suggest("load the index copy")
        load_encoder().clear_cache()
        wall: List[float] = []
        cpu_ms: List[float] = []
        for text in asked:
            started, cpu = time.perf_counter(), time.process_time()
            await suggester.suggest(text)
            wall.append((time.perf_counter() - started) * 1000)
            cpu_ms.append((time.process_time() - cpu) * 1000)
        await redis.close()
    summary = latency_summary(wall)
    return {"indexed_pairs": len(learned), "suggest_p50_ms": summary["p50_ms"], "suggest_p99_ms": summary["p99_ms"],
            "suggest_cpu_mean_ms": sum(cpu_ms) / len(cpu_ms), "learn_ms_per_pair": learn_ms,
            "learn_cpu_ms_per_pair": learn_cpu_ms}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="dev", choices=sorted(SPLITS),
                        help="dev: tune here; test: only to report, at the end")
    parser.add_argument("--model", type=Path, help="a trained model (default: the newest in models/)")
    parser.add_argument("--no-cost", action="store_true", help="only the ranking, not the cost per suggestion")
    args = parser.parse_args(argv)
    model_path = args.model or newest_model()
    result: Dict[str, Any] = {"split": args.split, "model": model_path.name, **accuracy(model_path, args.split)}
    if not args.no_cost:
        result.update(asyncio.run(cost(model_path, args.split)))
    path = write_result("suggestions", result)
    figures = [key for key in ("questions", "top1", "top3", "no_faq_turns", "no_faq_clean", "suggest_p50_ms",
                               "suggest_p99_ms", "suggest_cpu_mean_ms", "learn_ms_per_pair", "learn_cpu_ms_per_pair")
               if key in result]
    print(markdown_table([result], ["split", *figures]))
    print("\n" + markdown_table([{"topic": topic, "top3": share} for topic, share in result["per_topic_top3"].items()],
                                ["topic", "top3"]))
    print("\nright answer missing from the first three (expected, first offered, questions):")
    for label, first, count in result["missed"]:
        print(f"  {label} -> {first}: {count}")
    print("\nturns with no FAQ question that were offered one:")
    for text in result["no_faq_offered"]:
        print(f"  {text}")
    print(f"\n(written to {path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
