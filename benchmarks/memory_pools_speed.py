"""What recalling the user's words apart from the character's memories costs a chat turn.

With ``FeatureOptions(memory_pools=True)`` (off by default) a chat turn recalls from two
pools (three of the character's own memories, two of what the user said: two Chroma
queries) instead of one (three of all). Both
ways run on the same store, query after query, alternating which goes first; each query is a
fresh, unseen user turn (so each side embeds one new text, as a chat turn does), mood
included (``ChatMemory.recall_for_turn``). Half the memories are notes, half what the user
said; texts are synthetic (benchmarks/data/memory_eval_speed.yaml, seeded).

Reported per store size: each side's p50 and the ratio of medians two pools / one pool, with
a 95 % bootstrap interval over the query pairs (``benchmarks.common.bootstrap_ratio``).

    python -m benchmarks.memory_pools_speed [--sizes 1000 10000] [--queries 200]

Writes benchmarks/out/memory_pools_speed.json.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import track

from benchmarks.common import bootstrap_ratio, load_average, median, scratch_home, write_result
from benchmarks.memory_speed import TextMaker

console = Console()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--queries", type=int, default=200)
    arguments = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    with scratch_home() as home:
        stages = run(arguments.sizes, arguments.queries, home)
    payload = {
        "queries": arguments.queries,
        "stages": stages,
        "load_average": [load_before, load_average()],
    }
    path = write_result("memory_pools_speed", payload)
    console.print(markdown(payload))
    console.print(f"wrote {path}")


def run(sizes: list[int], queries: int, home: Path) -> list[dict[str, Any]]:
    from roleplay.cards.loader import load_card
    from roleplay.features import (
        DEFAULT_RECALLED_MEMORIES,
        DEFAULT_RECALLED_USER_MEMORIES,
        ChatMemory,
    )
    from roleplay.memory import CharacterMemory
    from roleplay.resources import package_path

    card = load_card(package_path("characters", "mira.yaml"))
    memory = CharacterMemory(card, folder=home / "memory")
    memory.ensure_seed_memories()
    k, user_k = DEFAULT_RECALLED_MEMORIES, DEFAULT_RECALLED_USER_MEMORIES
    one_pool = ChatMemory(memory, k=k, user_k=None, remember=False)
    two_pools = ChatMemory(memory, k=k, user_k=user_k, remember=False)
    maker = TextMaker(seed=11)
    stored = 0
    stages = []
    for size in sorted(sizes):
        new = size - stored
        texts = [maker.memory() for _ in range(new)]
        kinds = [{"kind": "user_said"} if i % 2 else {"kind": "note"} for i in range(new)]
        with console.status(f"storing {new:,} memories"):
            memory.add_memories(texts, metadatas=kinds)
        stored = size
        times: dict[str, list[float]] = {"one": [], "two": []}
        history = [maker.turn(), maker.turn()]
        one_pool.recall_for_turn(history[-1], history)  # warm-up
        for index in track(
            range(queries), description=f"recall {size:,}", console=console, transient=True
        ):
            order = (("one", one_pool), ("two", two_pools))
            for name, port in order if index % 2 == 0 else order[::-1]:
                turn = maker.turn()
                turns = [*history[-2:], turn]
                started = time.perf_counter()
                port.recall_for_turn(turn, turns)
                times[name].append(time.perf_counter() - started)
        low, high = bootstrap_ratio(times["two"], times["one"])
        stages.append(
            {
                "memories": size,
                "n": queries,
                "one_pool_p50_ms": median(times["one"]) * 1000.0,
                "two_pools_p50_ms": median(times["two"]) * 1000.0,
                "ratio": median(times["two"]) / median(times["one"]),
                "ratio_95": [low, high],
            }
        )
    return stages


def markdown(payload: dict[str, Any]) -> str:
    lines = [
        "| memories | n | one pool (3) p50 ms | two pools (3 + 2) p50 ms | two / one [95 %] |",
        "|---|---|---|---|---|",
    ]
    for stage in payload["stages"]:
        low, high = stage["ratio_95"]
        lines.append(
            f"| {stage['memories']:,} | {stage['n']} | {stage['one_pool_p50_ms']:.1f} | "
            f"{stage['two_pools_p50_ms']:.1f} | x{stage['ratio']:.2f} [{low:.2f}, {high:.2f}] |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
