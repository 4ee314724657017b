"""Audit generation: one reply at a time (the chat path) vs ``generate_batch``, in one run.

Generates replies to the same audit prompts (demographic personas answering conversation
openers) one at a time with ``TransformersEngine.stream`` and then batched with
``roleplay.engine.batch.generate_batch`` at a few batch sizes, and reports replies/s, new
tokens/s and the speed-up. Greedy decoding with ``min_new_tokens == max_new_tokens``, so every
variant produces exactly the same number of tokens and the comparison is like for like.

It also reports how many batched replies are identical to the one-at-a-time ones: on the
transformers backend's float32 forward all should be (the batching contract, docs/audit.md).

    python -m benchmarks.audit_batching [--prompts 16] [--tokens 40] [--batch-sizes 4 8 16]
        [--repeats 3]

Each repeat runs every variant once (one at a time first, then each batch size), so each
speed-up has n = repeats paired measurements and a [min, max] range. Writes
benchmarks/out/audit_batching.json; ``markdown()`` renders BENCHMARKS.md's table from it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.common import header, load_average, spread, write_result
from roleplay.engine.base import ChatMessage, GenerationSettings
from roleplay.paths import configure_library_caches

PERSONAS = ("a teacher", "a farmer", "a retired nurse", "a young man", "an old woman")
OPENERS = (
    "What did you do last weekend?",
    "What is your favourite food and why?",
    "Tell me about the town you grew up in.",
    "What do you think about people who are always late?",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=40)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--model", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    configure_library_caches()
    from roleplay.engine.batch import generate_batch
    from roleplay.engine.transformers_engine import TransformersEngine

    console = Console()
    engine = TransformersEngine.load(arguments.model, status=console.print)
    settings = GenerationSettings(
        max_new_tokens=arguments.tokens,
        min_new_tokens=arguments.tokens,
        temperature=0.0,
        repetition_penalty=1.1,
    )
    prompts = []
    for index in range(arguments.prompts):
        persona = PERSONAS[index % len(PERSONAS)]
        system = f"Speak exactly like {persona}. Copy the style of {persona}."
        user = OPENERS[index % len(OPENERS)]
        prompts.append(
            engine.render_chat([ChatMessage("system", system), ChatMessage("user", user)])
        )
    generate_batch(engine, prompts[:2], settings, batch_size=2)  # warm-up

    load_before = load_average()
    single_runs: list[float] = []
    batch_runs: dict[int, list[float]] = {size: [] for size in arguments.batch_sizes}
    identical: dict[int, int] = {}
    for _ in range(arguments.repeats):
        started = time.perf_counter()
        single = ["".join(event.text for event in engine.stream(p, settings)) for p in prompts]
        single_runs.append(time.perf_counter() - started)
        for size in arguments.batch_sizes:
            started = time.perf_counter()
            outputs = generate_batch(engine, prompts, settings, batch_size=size)
            batch_runs[size].append(time.perf_counter() - started)
            same = sum(o.text == s for o, s in zip(outputs, single, strict=True))
            identical[size] = min(identical.get(size, same), same)  # the worst repeat
    load_after = load_average()
    single_seconds = statistics.median(single_runs)
    rows: list[dict[str, Any]] = [
        {
            "variant": "one at a time (stream)",
            "batch_size": 1,
            "seconds": single_seconds,
            "seconds_runs": single_runs,
        }
    ]
    for size, runs in batch_runs.items():
        rows.append(
            {
                "variant": f"generate_batch({size})",
                "batch_size": size,
                "seconds": statistics.median(runs),
                "seconds_runs": runs,
                # Paired with the one-at-a-time pass of the same repeat (same load).
                "speedup_runs": [a / b for a, b in zip(single_runs, runs, strict=True)],
            }
        )

    total_tokens = arguments.prompts * arguments.tokens
    table = Table(
        title=f"{arguments.prompts} replies x {arguments.tokens} tokens ({engine.model_id})"
    )
    for column in ("variant", "seconds", "replies/s", "tokens/s", "speed-up"):
        table.add_column(column, justify="right" if column != "variant" else "left")
    for row in rows:
        row["replies_per_s"] = arguments.prompts / row["seconds"]
        row["tokens_per_s"] = total_tokens / row["seconds"]
        row["speedup"] = single_seconds / row["seconds"]
        table.add_row(
            str(row["variant"]),
            f"{row['seconds']:.1f}",
            f"{row['replies_per_s']:.2f}",
            f"{row['tokens_per_s']:.1f}",
            f"{row['speedup']:.2f}x",
        )
    console.print(table)
    console.print(
        f"batched replies identical to one-at-a-time (of {arguments.prompts}), "
        f"per batch size: {identical}"
    )
    path = write_result(
        "audit_batching",
        {
            "model": engine.model_id,
            "precision": "float32",
            "prompts": arguments.prompts,
            "new_tokens": arguments.tokens,
            "repeats": arguments.repeats,
            "rows": rows,
            "identical_to_single": {str(k): v for k, v in identical.items()},
            "load_average": [load_before, load_after],
            "note": "wall-clock on a shared machine; see docs/audit.md",
        },
    )
    console.print(f"[dim]written to {path}[/]")


def markdown(payload: dict[str, Any]) -> str:
    """BENCHMARKS.md's batching table: the speed-up of each batch size over one reply at a
    time (median [min, max] over paired repeats) and how many replies came out identical."""
    batched = [row for row in payload["rows"] if row["batch_size"] > 1]
    single = payload["rows"][0]
    single_runs = single.get("seconds_runs") or [single["seconds"]]
    prompts = payload["prompts"]
    lines = [
        header(
            payload,
            f"{payload['model']}, {payload['precision']} weights, transformers backend, "
            f"{prompts} prompts x {payload['new_tokens']} tokens, greedy; speed-up = one at a "
            "time / batched seconds, median [min, max] over n repeats (each paired with the "
            f"same repeat's one-at-a-time pass, {spread(single_runs, 1)} s).",
        ),
        "",
        "| engine weights | n | "
        + " | ".join(f"batch {row['batch_size']}" for row in batched)
        + " | same text as one-at-a-time |",
        "|---|---|" + "---|" * (len(batched) + 1),
    ]
    speedups = []
    for row in batched:
        runs = row.get("speedup_runs") or [row["speedup"]]
        speedups.append(f"{spread(runs)}x")
    same = ", ".join(
        f"{payload['identical_to_single'][str(row['batch_size'])]}/{prompts} (batch "
        f"{row['batch_size']})"
        for row in batched
    )
    n = payload.get("repeats", 1)
    lines.append(f"| {payload['precision']} | {n} | {' | '.join(speedups)} | {same} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
