"""Shared helpers for benchmark scripts: machine description and result files."""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

# One Wilson interval for every benchmark and the audit (re-exported for the scripts).
from bias_audit.stats import wilson_interval as wilson_interval

OUT_DIR = Path(__file__).resolve().parent / "out"


def machine() -> dict[str, Any]:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def write_result(name: str, payload: dict[str, Any]) -> Path:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=2))
    return path


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def cluster_bootstrap_interval(
    outcomes: Sequence[bool],
    clusters: Sequence[Hashable],
    *,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``outcomes``, resampling whole clusters
    (e.g. every query that uses one mood text), so correlated trials are not counted as
    independent."""
    import numpy as np

    if len(outcomes) != len(clusters) or not outcomes:
        raise ValueError("outcomes and clusters must be non-empty and of equal length")
    keys = list(dict.fromkeys(clusters))
    index = {key: i for i, key in enumerate(keys)}
    hits = np.zeros(len(keys))
    counts = np.zeros(len(keys))
    for outcome, cluster in zip(outcomes, clusters, strict=True):
        hits[index[cluster]] += bool(outcome)
        counts[index[cluster]] += 1
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(keys), size=(resamples, len(keys)))
    means = hits[picks].sum(axis=1) / counts[picks].sum(axis=1)
    tail = (1.0 - confidence) / 2.0
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))
