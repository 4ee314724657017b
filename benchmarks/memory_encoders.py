"""Sentence-encoder precisions: throughput, agreement with float32, batch independence.

For each precision this CPU supports (float32, bfloat16, int8; see
``roleplay/memory/encoder.py``), on the synthetic memories of ``memory_speed.py``:

- texts/s encoding them (repeats interleaved across precisions, so a busy neighbour skews
  all of them alike; best and median reported);
- cosine of each vector to float32's (min and mean);
- batch independence: cosine between a text encoded alone and inside a batch of others.

Recall quality per precision: ``ROLEPLAY_ENCODER_PRECISION=P python -m benchmarks.memory_recall``.

    python -m benchmarks.memory_encoders [--texts 2048] [--repeats 3]

Writes benchmarks/out/memory_encoders.json; ``markdown()`` renders BENCHMARKS.md's table
(texts/s as median [min, max] over the repeats, the speed-up with a 95 % bootstrap interval
over repeats paired by round).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

console = Console()
BATCH_PROBES = ("Hello there.", "Do you remember the lighthouse?")


def available_precisions() -> list[str]:
    from roleplay.memory.encoder import cpu_has_fast_bfloat16
    from roleplay.memory.int8_encoder import int8_kernels_available

    precisions = ["float32"]
    if cpu_has_fast_bfloat16():
        precisions.append("bfloat16")
    if int8_kernels_available():
        precisions.append("int8")
    return precisions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="memory-encoders-") as home:
        os.environ["ROLEPLAY_HOME"] = home
        run(arguments.texts, arguments.repeats)


def run(count: int, repeats: int) -> None:
    from benchmarks.common import load_average, write_result
    from benchmarks.memory_speed import TextMaker
    from roleplay.memory.encoder import load_encoder

    maker = TextMaker()
    texts = [maker.memory() for _ in range(count)]
    others = texts[:63]
    precisions = available_precisions()
    encoders = {precision: load_encoder(precision) for precision in precisions}
    for encoder in encoders.values():
        encoder.encode(texts[:128])  # warm-up: kernels for the common shapes
    rates: dict[str, list[float]] = {precision: [] for precision in precisions}
    load_before = load_average()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("encoding", total=repeats * len(precisions))
        for _ in range(repeats):
            for precision, encoder in encoders.items():
                encoder._cache.clear()  # measure encoding, not the cache
                started = time.perf_counter()
                encoder.encode(texts)
                rates[precision].append(count / (time.perf_counter() - started))
                progress.advance(task)
    reference = _fresh(encoders["float32"], texts)
    results: dict[str, Any] = {}
    for precision, encoder in encoders.items():
        cosines = (_fresh(encoder, texts) * reference).sum(axis=1)
        alone = _fresh(encoder, list(BATCH_PROBES))
        batched = _fresh(encoder, [*BATCH_PROBES, *others])[: len(BATCH_PROBES)]
        results[precision] = {
            "texts_per_s_best": max(rates[precision]),
            "texts_per_s_median": statistics.median(rates[precision]),
            "texts_per_s_runs": rates[precision],
            "cosine_to_float32_min": float(cosines.min()),
            "cosine_to_float32_mean": float(cosines.mean()),
            "alone_vs_batched_cosine_min": float((alone * batched).sum(axis=1).min()),
        }
    report(results)
    load = [load_before, load_average()]
    console.print(f"load average before {load[0]}, after {load[1]}")
    path = write_result(
        "memory_encoders",
        {"texts": count, "repeats": repeats, "load_average": load, "precisions": results},
    )
    console.print(f"wrote {path}")


def _fresh(encoder: Any, texts: list[str]) -> np.ndarray:
    encoder._cache.clear()
    return np.asarray(encoder.encode(texts))


def report(results: dict[str, Any]) -> None:
    base = results["float32"]["texts_per_s_median"]
    table = Table(
        "precision",
        "texts/s (median)",
        "x float32",
        "cosine to float32 min / mean",
        "alone vs batched (min cosine)",
        title="MiniLM sentence encoder",
    )
    for precision, values in results.items():
        table.add_row(
            precision,
            f"{values['texts_per_s_median']:.0f}",
            f"{values['texts_per_s_median'] / base:.2f}",
            f"{values['cosine_to_float32_min']:.5f} / {values['cosine_to_float32_mean']:.5f}",
            f"{values['alone_vs_batched_cosine_min']:.6f}",
        )
    console.print(table)


def markdown(payload: dict[str, Any]) -> str:
    """BENCHMARKS.md's encoder precision table from this script's JSON result."""
    from benchmarks.common import bootstrap_ratio, header, spread

    precisions = payload["precisions"]
    base = precisions["float32"]
    lines = [
        header(
            payload,
            f"{payload['texts']:,} benchmark memories per repeat; texts/s median [min, max] over "
            "n interleaved repeats; the speed-up's bracket is a 95 % bootstrap over repeats; "
            "cosines over all texts.",
        ),
        "",
        "| precision | n | texts/s | x float32 | cosine to float32 min / mean "
        "| alone vs batched (min cosine) |",
        "|---|---|---|---|---|---|",
    ]
    for precision, values in precisions.items():
        runs = values.get("texts_per_s_runs") or [values["texts_per_s_median"]]
        base_runs = base.get("texts_per_s_runs") or [base["texts_per_s_median"]]
        speedup = values["texts_per_s_median"] / base["texts_per_s_median"]
        if precision != "float32" and len(runs) == len(base_runs):
            low, high = bootstrap_ratio(runs, base_runs)
            speedup_cell = f"{speedup:.2f} [{low:.2f}, {high:.2f}]"
        else:
            speedup_cell = f"{speedup:.2f}"
        lines.append(
            f"| {precision} | {len(runs)} | {spread(runs, 0)} | {speedup_cell} | "
            f"{values['cosine_to_float32_min']:.5f} / {values['cosine_to_float32_mean']:.5f} | "
            f"{values['alone_vs_batched_cosine_min']:.6f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
