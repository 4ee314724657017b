"""Memory speed: ingest rate and recall latency at 1k, 10k and 100k memories.

One character's store grows stage by stage (1k -> 10k -> 100k); each stage reports
- ingest: memories/s for the memories added in that stage, embedding, emotion scoring and
  Chroma writes included (``CharacterMemory.add_memories``);
- recall latency p50/p95 of ``CharacterMemory.recall(k=5)`` for every strategy, with the
  query embedding and the mood included. "chat turn": the query is the newest user turn and
  the two turns before it were seen already (what the chat pipeline does each turn: one new
  text to embed). "separate mood": the mood comes from a second, unseen text (two to embed).

Memories and turns are synthetic (benchmarks/data/memory_eval_speed.yaml, seeded), written
under a temporary ROLEPLAY_HOME.

Intervals: each latency percentile has a 95 % bootstrap interval over its n queries; the ingest
rate of a stage has the range of its chunks' rates (``add_memories`` stores in chunks, each
timed), since a stage is one run.

    python -m benchmarks.memory_speed [--sizes 1000 10000 100000] [--queries 100]

Writes benchmarks/out/memory_speed.json; ``markdown()`` renders BENCHMARKS.md's table from it.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from benchmarks.common import bootstrap_percentile, load_average, write_result

PARTS = Path(__file__).resolve().parent / "data" / "memory_eval_speed.yaml"
STRATEGIES = ("semantic", "c-a", "c-m", "s-c", "s-s")
console = Console()


class TextMaker:
    """Seeded, distinct memories and user turns from the building blocks."""

    def __init__(self, seed: int = 7) -> None:
        self.parts: dict[str, list[str]] = yaml.safe_load(PARTS.read_text(encoding="utf-8"))
        self.random = random.Random(seed)
        self.seen: set[str] = set()

    def _pick(self, name: str) -> str:
        return self.random.choice(self.parts[name])

    def _distinct(self, make: Any) -> str:
        while True:
            text = make()
            if text not in self.seen:
                self.seen.add(text)
                return str(text)

    def memory(self) -> str:
        return self._distinct(
            lambda: (
                f"{self._pick('openings')} {self._pick('subjects')} {self._pick('events')} "
                f"{self._pick('places')}, and {self._pick('feelings')}."
            )
        )

    def turn(self) -> str:
        return self._distinct(
            lambda: (
                f"{self._pick('questions')} {self._pick('places')}? {self._pick('moods')} "
                f"({self.random.randrange(10**6)})"
            )
        )


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1000.0, q))


def ingest(memory: Any, texts: list[str], label: str) -> tuple[float, list[float]]:
    """Memories/s over the stage, and each stored chunk's own rate (for a range)."""
    with Progress(
        TextColumn(f"ingest {label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("ingest", total=len(texts))
        marks = [(time.perf_counter(), 0)]

        def stored(done: int) -> None:
            marks.append((time.perf_counter(), done))
            progress.update(task, completed=done)

        memory.add_memories(texts, progress=stored)
        elapsed = time.perf_counter() - marks[0][0]
    chunks = [
        (done - done_before) / (at - at_before)
        for (at_before, done_before), (at, done) in itertools.pairwise(marks)
        if done > done_before and at > at_before
    ]
    return len(texts) / elapsed, chunks


def measure_recall(memory: Any, maker: TextMaker, queries: int, label: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    history = [maker.turn(), maker.turn()]
    memory.recall(history[-1], history, k=5)  # warm-up: the history is now embedded
    with Progress(
        TextColumn(f"recall {label}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("recall", total=queries * len(STRATEGIES) * 2)
        for strategy in STRATEGIES:
            turn_times, mood_times = [], []
            for _ in range(queries):
                # Chat turn: the newest turn is the query; older turns were embedded before.
                turn = maker.turn()
                history = [*history[-2:], turn]
                started = time.perf_counter()
                memory.recall(turn, history, k=5, strategy=strategy)
                turn_times.append(time.perf_counter() - started)
                progress.advance(task)
                # Separate mood text: topic and mood both unseen.
                topic, mood = maker.turn(), maker.turn()
                started = time.perf_counter()
                memory.recall(topic, [mood], k=5, strategy=strategy)
                mood_times.append(time.perf_counter() - started)
                progress.advance(task)
            results[strategy] = {"n": queries}
            for kind, times in (("chat_turn", turn_times), ("separate_mood", mood_times)):
                for q in (50, 95):
                    low, high = bootstrap_percentile([t * 1000.0 for t in times], q)
                    results[strategy][f"{kind}_p{q}_ms"] = percentile(times, q)
                    results[strategy][f"{kind}_p{q}_ms_95"] = [low, high]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--max-size", type=int, default=None, help="skip sizes above this")
    parser.add_argument("--queries", type=int, default=100, help="per strategy and kind")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's choice)"
    )
    arguments = parser.parse_args()
    sizes = sorted(
        s for s in arguments.sizes if arguments.max_size is None or s <= arguments.max_size
    )
    with tempfile.TemporaryDirectory(prefix="memory-speed-") as home:
        os.environ["ROLEPLAY_HOME"] = home  # never touch the user's own memories
        from roleplay.paths import configure_library_caches

        configure_library_caches()
        if arguments.threads is not None:
            import torch

            torch.set_num_threads(arguments.threads)
        run(sizes, arguments.queries)


def run(sizes: list[int], queries: int) -> None:
    from roleplay.cards.model import BigFive, Card, Personality
    from roleplay.memory import CharacterMemory
    from roleplay.memory.encoder import get_encoder
    from roleplay.memory.scoring import default_emotion_scorer

    big_five = dict.fromkeys(
        ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism"), 0.5
    )
    card = Card(
        name="Speed Test",
        description="Benchmark character.",
        personality=Personality(big_five=BigFive(**big_five)),
    )
    memory = CharacterMemory(card)
    started = time.perf_counter()
    precision = get_encoder().precision
    default_emotion_scorer().score(["warm-up"])
    memory.store.count()
    console.print(f"model ({precision}) and store ready in {time.perf_counter() - started:.1f} s")

    # Other jobs on a shared machine skew every number: record how busy it was.
    load_before = load_average()
    maker = TextMaker()
    stages: list[dict[str, Any]] = []
    current = 0
    for size in sizes:
        texts = [maker.memory() for _ in range(size - current)]
        rate, chunk_rates = ingest(memory, texts, f"{current:,} -> {size:,}")
        current = size
        assert memory.store.count() == size
        latency = measure_recall(memory, maker, queries, f"{size:,}")
        stages.append(
            {
                "size": size,
                "ingest_per_s": rate,
                "ingest_chunk_per_s": chunk_rates,
                "added": len(texts),
                "recall": latency,
            }
        )
        default = latency[memory.strategy]
        console.print(
            f"{size:>7,} memories: ingest {rate:.0f}/s; {memory.strategy} p50 "
            f"{default['chat_turn_p50_ms']:.1f} ms, p95 {default['chat_turn_p95_ms']:.1f} ms"
        )
    report(stages, memory.strategy)
    load_after = load_average()
    payload = {
        "default_strategy": memory.strategy,
        "encoder_precision": precision,
        "queries_per_strategy": queries,
        "load_average": [load_before, load_after],
        "stages": stages,
    }
    path = write_result("memory_speed", payload)
    console.print(f"load average before {load_before}, after {load_after}")
    console.print(f"wrote {path}")


def markdown(payload: dict[str, Any]) -> str:
    """BENCHMARKS.md's memory speed table: ingest per stage and the default strategy's recall
    latency (p50 / p95, both query kinds), each with n and an interval."""
    from benchmarks.common import header

    default = payload["default_strategy"]
    lines = [
        header(
            payload,
            f"Encoder {payload.get('encoder_precision', '?')}; recall k = 5 with the default "
            f"strategy {default}, query embedding and mood included. Latency brackets: 95 % "
            "bootstrap intervals over the n queries of each percentile; ingest: memories/s "
            "over the stage [slowest, fastest chunk].",
        ),
        "",
        f"| memories | ingest /s | n | {default} p50 / p95 ms, chat turn "
        f"| {default} p50 / p95 ms, separate mood text |",
        "|---|---|---|---|---|",
    ]
    for stage in payload["stages"]:
        chunks = stage.get("ingest_chunk_per_s") or []
        rate = f"{stage['ingest_per_s']:.0f}"
        if chunks:
            rate += f" [{min(chunks):.0f}, {max(chunks):.0f}]"
        recall = stage["recall"][default]
        n = recall.get("n", payload["queries_per_strategy"])
        lines.append(
            f"| {_size(stage['size'])} | {rate} | {n} "
            f"| {_latency(recall, 'chat_turn')} | {_latency(recall, 'separate_mood')} |"
        )
    return "\n".join(lines) + "\n"


def _size(size: int) -> str:
    return f"{size // 1000}k" if size % 1000 == 0 else f"{size:,}"


def _latency(recall: dict[str, Any], kind: str) -> str:
    cells = []
    for q in (50, 95):
        value = recall[f"{kind}_p{q}_ms"]
        bounds = recall.get(f"{kind}_p{q}_ms_95")
        cells.append(f"{value:.1f}" + (f" [{bounds[0]:.1f}, {bounds[1]:.1f}]" if bounds else ""))
    return " / ".join(cells)


def report(stages: list[dict[str, Any]], default: str) -> None:
    ingest_table = Table("memories", "added", "ingest (memories/s)", title="Ingest")
    for stage in stages:
        ingest_table.add_row(
            f"{stage['size']:,}", f"{stage['added']:,}", f"{stage['ingest_per_s']:.0f}"
        )
    console.print(ingest_table)
    table = Table(
        "memories",
        "strategy",
        "chat turn p50 (ms)",
        "chat turn p95 (ms)",
        "separate mood p50 (ms)",
        "separate mood p95 (ms)",
        title=f"Recall latency, k=5 (default strategy: {default})",
    )
    for stage in stages:
        for strategy, values in stage["recall"].items():
            table.add_row(
                f"{stage['size']:,}",
                strategy + (" (default)" if strategy == default else ""),
                f"{values['chat_turn_p50_ms']:.1f}",
                f"{values['chat_turn_p95_ms']:.1f}",
                f"{values['separate_mood_p50_ms']:.1f}",
                f"{values['separate_mood_p95_ms']:.1f}",
            )
    console.print(table)


if __name__ == "__main__":
    main()
