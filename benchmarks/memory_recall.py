"""Mood-dependent recall: Hit@1 of each retrieval strategy on benchmarks/data/memory_eval.yaml.

Every character's memories share topics but differ in emotion; each query names only the
topic, and the mood comes from a separate user message. Plain semantic search on the topic is
therefore at chance (0.25: four memories per topic). Each store also holds 100 synthetic
distractor memories per character (unrelated subjects, every emotion). Reported per split:
`dev` (used to tune the weights and choose the default strategy, see --tune) and `test`
(held out).

Methods: semantic search on the topic; semantic search on mood text + topic (the obvious
baseline); the Emotional-RAG strategies c-a, c-m, s-c, s-s with the default (calibrated
prototype) scorer; c-a with the NRC lexicon as scorer; c-a with the true emotions (an upper
bound for the retrieval maths). Also the scorers' top-1 emotion accuracy on the same texts.

Every rate comes with its n and a 95 % Wilson interval. Queries are not independent (each mood
text is reused for every topic that has a memory of its emotion), so the JSON also holds a
95 % bootstrap interval that resamples whole mood texts (on 2026-12-04 about as wide).

    python -m benchmarks.memory_recall [--tune] [--no-plot]

Writes benchmarks/out/memory_recall.json and benchmarks/out/memory_recall.png.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rich.console import Console
from rich.table import Table

DATA = Path(__file__).resolve().parent / "data" / "memory_eval.yaml"
SPLITS = ("dev", "test")
STRATEGIES = ("c-a", "c-m", "s-c", "s-s")
GRID: dict[str, tuple[str, list[Any]]] = {
    "c-a": ("emotion_weight", [0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0]),
    "c-m": ("product_exponent", [0.5, 1.0, 2.0, 4.0, 8.0, 16.0]),
    "s-c": ("semantic_pool", [2, 3, 4, 5, 8, 10]),
    "s-s": ("emotional_pool", [2, 3, 4, 5, 8, 10, 20, 50]),
}
console = Console()


@dataclass(frozen=True)
class Topic:
    query: str
    memories: dict[str, str]


@dataclass(frozen=True)
class EvalCharacter:
    name: str
    split: str
    topics: list[Topic]


@dataclass(frozen=True)
class Query:
    character: str
    topic: str
    mood: str
    target: str
    emotion: str


@dataclass(frozen=True)
class EvalSet:
    characters: list[EvalCharacter]
    moods: dict[str, dict[str, list[str]]]
    distractors: dict[str, Any]


def load_eval(path: Path = DATA) -> EvalSet:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    characters = [
        EvalCharacter(
            c["name"], c["split"], [Topic(t["query"], dict(t["memories"])) for t in c["topics"]]
        )
        for c in data["characters"]
    ]
    return EvalSet(characters, data["moods"], data["distractors"])


def distractor_texts(parts: dict[str, Any], salt: int) -> list[str]:
    """Seeded, distinct synthetic memories on unrelated subjects (see the data file)."""
    rng = random.Random(parts["seed"] * 1000 + salt)
    texts: set[str] = set()
    while len(texts) < parts["count"]:
        texts.add(
            f"{rng.choice(parts['openings'])}, {rng.choice(parts['subjects'])} "
            f"{rng.choice(parts['events'])} {rng.choice(parts['places'])}, "
            f"and {rng.choice(parts['feelings'])}."
        )
    return sorted(texts)


def build_queries(
    characters: list[EvalCharacter], moods: dict[str, dict[str, list[str]]], split: str
) -> list[Query]:
    return [
        Query(character.name, topic.query, mood, text, emotion)
        for character in characters
        if character.split == split
        for topic in character.topics
        for emotion, text in topic.memories.items()
        for mood in moods[split][emotion]
    ]


def build_memories(evalset: EvalSet, suffix: str, **options: Any) -> dict[str, Any]:
    """One CharacterMemory per eval character (stored under ``name + suffix``), holding the
    character's memories and its distractors."""
    from roleplay.cards.model import BigFive, Card, Personality
    from roleplay.memory import CharacterMemory

    oracle = options.pop("oracle", False)
    memories = {}
    for salt, character in enumerate(evalset.characters):
        card = Card(
            name=character.name + suffix,
            description="Evaluation character.",
            personality=Personality(big_five=BigFive(**dict.fromkeys(BIG_FIVE, 0.5))),
        )
        memory = CharacterMemory(card, **options)
        texts = [text for topic in character.topics for text in topic.memories.values()]
        emotions = [
            {emotion: 1.0} if oracle else None
            for topic in character.topics
            for emotion in topic.memories
        ]
        memory.add_memories(texts, emotions=emotions)
        # Distractors are always scored, also for the "true emotions" store: they have none.
        memory.add_memories(distractor_texts(evalset.distractors, salt))
        memories[character.name] = memory
    return memories


BIG_FIVE = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")
Method = Callable[[dict[str, Any], Query], str]


def recall_top(strategy: str, *, mood_in_query: bool = False, oracle: bool = False) -> Method:
    def top(memories: dict[str, Any], query: Query) -> str:
        memory = memories[query.character]
        if mood_in_query:
            results = memory.recall(f"{query.mood} {query.topic}", [], k=1, strategy=strategy)
        elif oracle:
            override = {query.emotion: 1.0}
            results = memory.recall(
                query.topic, [], k=1, strategy=strategy, emotion_override=override
            )
        elif strategy == "semantic":
            results = memory.recall(query.topic, [], k=1, strategy=strategy)
        else:
            results = memory.recall(query.topic, [query.mood], k=1, strategy=strategy)
        return str(results[0].text) if results else ""

    return top


def hits_at_1(memories: dict[str, Any], queries: list[Query], method: Method) -> list[bool]:
    """Per query: is the top recalled memory the target?"""
    return [method(memories, query) == query.target for query in queries]


def summarise(hits: list[bool], queries: list[Query]) -> dict[str, Any]:
    """Hit@1 with n, a 95 % Wilson interval (queries taken as independent) and a 95 %
    bootstrap interval over mood texts (every query of one mood text resampled together)."""
    from benchmarks.common import cluster_bootstrap_interval, wilson_interval

    n, successes = len(hits), int(sum(hits))
    return {
        "hit_at_1": successes / n,
        "hits": successes,
        "n": n,
        "ci95_wilson": list(wilson_interval(successes, n)),
        "mood_texts": len({query.mood for query in queries}),
        "ci95_mood_bootstrap": list(
            cluster_bootstrap_interval(hits, [query.mood for query in queries])
        ),
    }


def with_interval(summary: dict[str, Any]) -> str:
    low, high = summary["ci95_wilson"]
    return f"{summary['hit_at_1']:.3f} [{low:.3f}, {high:.3f}]"


def tune(default_memories: dict[str, Any], queries: list[Query]) -> dict[str, Any]:
    """Grid search of each strategy's weight on the dev queries only."""
    from roleplay.memory.settings import default_settings

    base = default_settings()
    best: dict[str, Any] = {}
    table = Table(
        "strategy",
        "parameter",
        "value",
        f"dev Hit@1 [95% Wilson] (n={len(queries)})",
        title="Tuning on dev",
    )
    for strategy, (parameter, values) in GRID.items():
        scores = []
        for value in values:
            weights = replace(base.weights, **{parameter: value})
            settings = replace(base, weights=weights)
            memories = {
                name: _with_settings(memory, settings) for name, memory in default_memories.items()
            }
            summary = summarise(hits_at_1(memories, queries, recall_top(strategy)), queries)
            scores.append(summary["hit_at_1"])
            table.add_row(strategy, parameter, str(value), with_interval(summary))
        # Ties go to the smaller value (a gentler emotional pull / a smaller pool).
        best[strategy] = {"parameter": parameter, "value": values[int(np.argmax(scores))]}
        best[strategy]["dev_hit_at_1"] = max(scores)
        best[strategy]["grid"] = dict(zip(map(str, values), scores, strict=True))
    console.print(table)
    return best


def _with_settings(memory: Any, settings: Any) -> Any:
    from roleplay.memory import CharacterMemory

    return CharacterMemory(memory.card, settings=settings)


def scorer_accuracy(evalset: EvalSet) -> dict[str, Any]:
    from benchmarks.common import wilson_interval
    from roleplay.cards.model import EMOTIONS
    from roleplay.memory.lexicon import LexiconEmotionScorer
    from roleplay.memory.prototype_scorer import PrototypeEmotionScorer

    calibrated = PrototypeEmotionScorer()
    scorers: dict[str, Callable[[list[str]], np.ndarray]] = {
        "prototype + lexicon, calibrated (default)": calibrated.score,
        "prototype similarity only (raw)": calibrated.raw_scores,
        "NRC lexicon": LexiconEmotionScorer().score,
    }
    results: dict[str, Any] = {}
    for split in SPLITS:
        texts: dict[str, list[tuple[str, str]]] = {"memories": [], "moods": []}
        for character in evalset.characters:
            if character.split == split:
                for topic in character.topics:
                    texts["memories"] += [(t, e) for e, t in topic.memories.items()]
        texts["moods"] = [(t, e) for e, ts in evalset.moods[split].items() for t in ts]
        for kind, items in texts.items():
            for name, score in scorers.items():
                predicted = score([t for t, _ in items]).argmax(axis=1)
                labels = [EMOTIONS.index(e) for _, e in items]
                correct = int(np.sum(predicted == np.array(labels)))
                results.setdefault(name, {})[f"{split} {kind}"] = {
                    "accuracy": correct / len(items),
                    "correct": correct,
                    "n": len(items),
                    "ci95_wilson": list(wilson_interval(correct, len(items))),
                }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tune", action="store_true", help="grid-search weights on dev first")
    parser.add_argument("--no-plot", action="store_true")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="memory-recall-") as home:
        os.environ["ROLEPLAY_HOME"] = home  # never touch the user's own memories
        from roleplay.paths import configure_library_caches

        configure_library_caches()
        run(arguments.tune, not arguments.no_plot)


def run(do_tune: bool, plot: bool) -> None:
    from benchmarks.common import load_average
    from roleplay.memory.lexicon import LexiconEmotionScorer

    load_before = load_average()

    evalset = load_eval()
    queries = {split: build_queries(evalset.characters, evalset.moods, split) for split in SPLITS}
    stores = {
        "default": build_memories(evalset, ""),
        "lexicon": build_memories(evalset, " (lexicon)", scorer=LexiconEmotionScorer()),
        "oracle": build_memories(evalset, " (oracle)", oracle=True),
    }
    tuned = tune(stores["default"], queries["dev"]) if do_tune else None

    methods: list[tuple[str, str, Method]] = [
        ("semantic: topic only", "default", recall_top("semantic")),
        ("semantic: mood text + topic", "default", recall_top("semantic", mood_in_query=True)),
        *[(f"{s}: topic, mood from text", "default", recall_top(s)) for s in STRATEGIES],
        ("c-a, NRC lexicon scorer", "lexicon", recall_top("c-a")),
        ("c-a, true emotions (upper bound)", "oracle", recall_top("c-a", oracle=True)),
    ]
    from roleplay.memory.settings import default_settings

    results: dict[str, dict[str, dict[str, Any]]] = {}
    table = Table("method", *(f"{s} Hit@1 [95% Wilson] (n={len(queries[s])})" for s in SPLITS))
    table.title = (
        f"Mood-dependent recall (chance = 0.25; default strategy: {default_settings().strategy})"
    )
    for name, store, method in methods:
        results[name] = {
            split: summarise(hits_at_1(stores[store], queries[split], method), queries[split])
            for split in SPLITS
        }
        table.add_row(name, *(with_interval(results[name][split]) for split in SPLITS))
    console.print(table)

    accuracy = scorer_accuracy(evalset)
    first = next(iter(accuracy.values()))
    columns = list(first)
    accuracy_table = Table(
        "scorer",
        *(f"{c} (n={first[c]['n']})" for c in columns),
        title="Top-1 emotion accuracy of the scorers [95% Wilson]",
    )
    for name, values in accuracy.items():
        accuracy_table.add_row(
            name,
            *(
                f"{values[c]['accuracy']:.2f} "
                f"[{values[c]['ci95_wilson'][0]:.2f}, {values[c]['ci95_wilson'][1]:.2f}]"
                for c in columns
            ),
        )
    console.print(accuracy_table)

    from benchmarks.common import OUT_DIR, write_result
    from roleplay.memory.encoder import get_encoder

    settings = default_settings()
    payload = {
        "command": "python -m benchmarks.memory_recall" + (" --tune" if do_tune else ""),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "encoder_precision": get_encoder().precision,
        "hit_at_1": results,
        "queries": {split: len(queries[split]) for split in SPLITS},
        "scorer_accuracy": accuracy,
        "default_strategy": settings.strategy,
        "weights": vars(settings.weights),
        "tuning": tuned,
        "load_average": [load_before, load_average()],
    }
    path = write_result("memory_recall", payload)
    console.print(f"wrote {path}")
    if plot:
        png = OUT_DIR / "memory_recall.png"
        plot_results(results, png)
        console.print(f"wrote {png}")


def plot_results(results: dict[str, dict[str, dict[str, Any]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    positions = np.arange(len(names))
    figure, axes = plt.subplots(figsize=(10, 4.8))
    for offset, split in zip((-0.2, 0.2), SPLITS, strict=True):
        values = np.array([results[name][split]["hit_at_1"] for name in names])
        intervals = np.array([results[name][split]["ci95_wilson"] for name in names])
        errors = np.stack([values - intervals[:, 0], intervals[:, 1] - values])
        axes.bar(positions + offset, values, width=0.4, label=split, yerr=errors, capsize=2)
    axes.axhline(0.25, color="grey", linestyle="--", linewidth=1, label="chance")
    axes.set_xticks(positions, names, rotation=30, ha="right", fontsize=8)
    axes.set_ylabel("Hit@1 (95% Wilson interval)")
    axes.set_ylim(0, 1.05)
    axes.set_title("Mood-dependent recall")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def markdown(payload: dict[str, Any]) -> str:
    """BENCHMARKS.md's Hit@1 table from this script's JSON result."""
    from benchmarks.common import header

    lines = [
        header(
            payload,
            f"Encoder {payload['encoder_precision']}; default strategy "
            f"{payload['default_strategy']}. Brackets: 95 % Wilson intervals; n = queries per "
            "split (a bootstrap over whole mood texts is in the JSON).",
        ),
        "",
        "| strategy | dev Hit@1 | test Hit@1 |",
        "|---|---|---|",
    ]
    for method, splits in payload["hit_at_1"].items():
        cells = []
        for split in SPLITS:
            row = splits[split]
            low, high = row["ci95_wilson"]
            cells.append(f"{row['hit_at_1']:.3f} [{low:.3f}, {high:.3f}] (n = {row['n']})")
        lines.append(f"| {method} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
