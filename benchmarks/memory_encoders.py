"""Sentence-encoder precisions: throughput, agreement with float32, batch independence.

For each precision this CPU supports (float32, bfloat16, int8; see
``roleplay/memory/encoder.py``), on the synthetic memories of ``memory_speed.py``:

- texts/s encoding them (repeats interleaved across precisions, so a busy neighbour skews
  all of them alike; best and median reported);
- cosine of each vector to float32's (min and mean);
- batch independence: cosine between a text encoded alone and inside a batch of others.

Recall quality per precision: ``ROLEPLAY_ENCODER_PRECISION=P python -m benchmarks.memory_recall``.

    python -m benchmarks.memory_encoders [--texts 2048] [--repeats 3]

Writes benchmarks/out/memory_encoders.json.
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
    from benchmarks.common import write_result
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
    load_before = os.getloadavg()
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
            "cosine_to_float32_min": float(cosines.min()),
            "cosine_to_float32_mean": float(cosines.mean()),
            "alone_vs_batched_cosine_min": float((alone * batched).sum(axis=1).min()),
        }
    report(results)
    console.print(f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    path = write_result(
        "memory_encoders",
        {
            "texts": count,
            "repeats": repeats,
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
            "precisions": results,
        },
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


if __name__ == "__main__":
    main()
