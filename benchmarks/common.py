"""Shared helpers for benchmark scripts: machine description and result files."""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import random
import re
import shutil
import statistics
import sys
import tempfile
from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# One Wilson interval for every benchmark and the audit (re-exported for the scripts).
from bias_audit.stats import wilson_interval as wilson_interval

OUT_DIR = Path(__file__).resolve().parent / "out"


# CPU features that decide which llama.cpp and oneDNN kernels run (recorded with every result).
CPU_FLAGS = (
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "avx_vnni",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
)


def _cpu() -> tuple[str, list[str]]:
    """The CPU's model name and which of CPU_FLAGS it has (from the first core's entry)."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    present = set(fields.get("flags", "").split())
    name = fields.get("model name") or platform.processor() or platform.machine()
    return name, [flag for flag in CPU_FLAGS if flag in present]


def llama_cpp_build() -> dict[str, str] | None:
    """llama-cpp-python's version and llama.cpp's compiled-in features (None if missing)."""
    try:
        import llama_cpp

        info = llama_cpp.llama_print_system_info()
        version = str(llama_cpp.__version__)
    except Exception:  # not installed, or a build whose library fails to load: still record
        return None
    text = info.decode(errors="replace") if isinstance(info, bytes) else str(info)
    return {"version": version, "system_info": text.strip(" |")}


def load_average() -> float | None:
    """The 1-minute load average, rounded (None where the OS has none). Taken before and
    after every run: other jobs on a shared machine skew every timing."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _torch() -> dict[str, Any]:
    try:
        import torch
    except ImportError:
        return {"torch": None, "torch_threads": None}
    return {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}


def machine() -> dict[str, Any]:
    """What the numbers were measured on (cheap: no model is loaded)."""
    cpu, flags = _cpu()
    try:
        load: list[float] | None = [round(value, 2) for value in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpu": cpu,
        "cpu_flags": flags,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        **_torch(),
        "llama_cpp": llama_cpp_build(),
        "load_average_1_5_15": load,
        "load_average_at_write": None if load is None else load[0],
        "written": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def command_line() -> str:
    """How this process was started, as a reader would type it (``python -m benchmarks.X``)."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.parent.name == "benchmarks" and script.suffix == ".py":
        head = f"python -m benchmarks.{script.stem}"
    else:
        head = "python " + (sys.argv[0] if sys.argv else "?")
    return " ".join([head, *sys.argv[1:]])


def run_identity(engine: Any, threads: int) -> dict[str, Any]:
    """The first keys of a model run's result: when, how it was started, on which model."""
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": command_line(),
        "engine": {"model": engine.model_id, "backend": engine.backend_name},
        "threads": threads,
    }


def _build_summary(system_info: str) -> str:
    """llama.cpp's switched-on features in a few words ("AVX AVX2 FMA ... OPENMP")."""
    names = []
    for part in system_info.split("|"):
        key, _, value = part.partition("=")
        key = key.split(":")[-1].strip()
        if key and value.strip() not in ("", "0"):
            names.append(key)
    return " ".join(names) or system_info or "?"


def machine_line(payload: dict[str, Any]) -> str:
    """One line for a BENCHMARKS.md block: CPU, features, llama.cpp build."""
    info = payload.get("machine", {})
    llama = info.get("llama_cpp") or {}
    flags = ", ".join(info.get("cpu_flags", [])) or "?"
    if llama:
        build = (
            f"llama-cpp-python {llama.get('version', '?')} "
            f"({_build_summary(str(llama.get('system_info', '')))})"
        )
    else:
        build = "llama-cpp-python not installed"
    return f"{info.get('cpu', '?')}, {info.get('cores', '?')} cores ({flags}); {build}"


def load_pair(payload: dict[str, Any]) -> tuple[float | None, float | None]:
    """(before, after) 1-minute load from any shape the scripts have written: a pair, a
    {"before", "after"} dict of numbers or os.getloadavg() triples, or two flat keys."""

    def first(value: Any) -> float | None:
        if isinstance(value, list | tuple):
            value = value[0] if value else None
        return None if value is None else float(value)

    value = payload.get("load_average")
    if isinstance(value, dict):
        return first(value.get("before")), first(value.get("after"))
    if isinstance(value, list | tuple) and len(value) == 2:
        return first(value[0]), first(value[1])
    if "load_average_before" in payload or "load_average_after" in payload:
        return first(payload.get("load_average_before")), first(payload.get("load_average_after"))
    return None, first(payload.get("machine", {}).get("load_average_at_write"))


def header(payload: dict[str, Any], note: str = "") -> str:
    """The first line of every generated block: machine, date, load, command (and a note)."""
    before, after = load_pair(payload)

    def shown(value: float | None) -> str:
        return "?" if value is None else f"{value:.1f}"

    date = payload.get("date") or payload.get("machine", {}).get("written", "?")
    command = payload.get("command") or "?"
    line = (
        f"Machine: {machine_line(payload)}. Date {date}; load {shown(before)} -> "
        f"{shown(after)}; `{command}`."
    )
    return f"{line} {note}".rstrip()


def write_result(name: str, payload: dict[str, Any]) -> Path:
    """Write ``benchmarks/out/NAME.json``: the payload plus the machine block, and the command
    that produced it unless the payload names one."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{name}.json"
    record = {"machine": machine(), "command": command_line(), **payload}
    path.write_text(json.dumps(record, indent=2))
    return path


def spread(values: Sequence[float], digits: int = 2, scale: float = 1.0) -> str:
    """ "median [min, max]": with a handful of repeats, the range is the honest interval."""
    shown = [value * scale for value in values]
    if not shown:
        return "-"
    return (
        f"{statistics.median(shown):.{digits}f} [{min(shown):.{digits}f}, {max(shown):.{digits}f}]"
    )


def bootstrap_ratio(
    numerator: Sequence[float], denominator: Sequence[float], draws: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """95 % bootstrap interval of median(numerator) / median(denominator), resampling
    repeats as pairs (the two sides of one repeat ran back to back under the same load)."""
    rng = random.Random(seed)
    pairs = list(zip(numerator, denominator, strict=True))
    if not pairs:
        raise ValueError("no repeats")
    ratios = []
    for _ in range(draws):
        sample = [pairs[rng.randrange(len(pairs))] for _ in pairs]
        bottom = statistics.median(b for _, b in sample)
        ratios.append(statistics.median(a for a, _ in sample) / bottom if bottom else math.nan)
    ratios.sort()
    return ratios[int(0.025 * draws)], ratios[int(0.975 * draws) - 1]


def bootstrap_percentile(
    values: Sequence[float], q: float, draws: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """95 % bootstrap interval of the q-th percentile of ``values`` (e.g. a latency's p95)."""
    import numpy as np

    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("no values")
    rng = np.random.default_rng(seed)
    picks = data[rng.integers(0, data.size, size=(draws, data.size))]
    estimates = np.percentile(picks, q, axis=1)
    return float(np.quantile(estimates, 0.025)), float(np.quantile(estimates, 0.975))


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def cluster_bootstrap_interval(
    outcomes: Sequence[float],
    clusters: Sequence[Hashable],
    *,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``outcomes`` (hits as booleans, or any
    numbers, e.g. paired differences), resampling whole clusters (e.g. every query that uses
    one mood text), so correlated trials are not counted as independent."""
    import numpy as np

    if len(outcomes) != len(clusters) or not outcomes:
        raise ValueError("outcomes and clusters must be non-empty and of equal length")
    keys = list(dict.fromkeys(clusters))
    index = {key: i for i, key in enumerate(keys)}
    hits = np.zeros(len(keys))
    counts = np.zeros(len(keys))
    for outcome, cluster in zip(outcomes, clusters, strict=True):
        hits[index[cluster]] += float(outcome)
        counts[index[cluster]] += 1
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(keys), size=(resamples, len(keys)))
    means = hits[picks].sum(axis=1) / counts[picks].sum(axis=1)
    tail = (1.0 - confidence) / 2.0
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))


@contextmanager
def scratch_home() -> Iterator[Path]:
    """A temporary ROLEPLAY_HOME for one run (memory, sessions, vectors, profile), removed
    afterwards; the converted models stay shared."""
    from roleplay import paths

    os.environ["ROLEPLAY_MODELS_DIR"] = str(paths.models_dir())
    home = tempfile.mkdtemp(prefix="roleplay-bench-home-")
    os.environ["ROLEPLAY_HOME"] = home
    try:
        yield Path(home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def add_decouple_traits_argument(parser: argparse.ArgumentParser) -> None:
    """``--decouple-traits on|off``: the variant that steers the Big Five at the strengths
    cancelling the vectors' cross-talk, or at the cards' (default: steering.yaml's)."""
    parser.add_argument(
        "--decouple-traits",
        choices=("on", "off"),
        help="variant: steer the Big Five at the strengths that cancel the vectors' cross-talk "
        "(roleplay/control/data/crosstalk.yaml) or at the cards' (default: steering.yaml's "
        "decouple_traits); a choice other than the default adds _decouple_traits_<on|off>",
    )


def decouple_choice(choice: str | None) -> bool | None:
    """``--decouple-traits``'s value as the controller takes it (None: steering.yaml's)."""
    return None if choice is None else choice == "on"


def decouple_used(choice: str | None, shipped: bool) -> bool:
    """Whether a run with ``--decouple-traits choice`` decoupled (``shipped``: steering.yaml's)."""
    asked = decouple_choice(choice)
    return shipped if asked is None else asked


def decouple_suffix(choice: str | None, shipped: bool) -> str:
    """What ``--decouple-traits choice`` adds to a result's name: nothing for the shipped
    choice, so that only a variant is written apart from the shipped measurement."""
    return "" if decouple_used(choice, shipped) == shipped else f"_decouple_traits_{choice}"


# The one cross-talk fit that existed before runs recorded theirs (2026-12-07): every
# decoupled run written earlier steered at its strengths.
FIRST_CROSSTALK_FIT = (
    "2026-12-06T03:33:43+00:00, benchmarks/out/steering_decoupled.json, 5 bundled cards, "
    "5 points per slope"
)


def crosstalk_identity(fitted: str, floor: float = 0.0, own_share: float = 0.0) -> str:
    """A cross-talk solve as a run records it: the fit's ``fitted`` line, and its floor and
    own share when set (the same fit with other options solves other strengths)."""
    return (
        fitted
        + (f"; floor {floor:g}" if floor else "")
        + (f"; own share {own_share:g}" if own_share else "")
    )


def crosstalk_fit_used(
    model_id: str, decoupled: bool, strengths_result: Path | None = None
) -> str | None:
    """Which cross-talk solve a run's Big Five strengths came from (:func:`crosstalk_identity`):
    the ``benchmarks.steering_decoupled`` result's given with ``--decoupled-strengths``, else,
    when the run decoupled, ``crosstalk.yaml``'s for the model; None when it did neither."""
    if strengths_result is not None:
        payload = json.loads(strengths_result.read_text())
        crosstalk = payload["crosstalk"]
        floor = float(payload.get("floor", 0.0))
        own_share = float(payload.get("own_share", 0.0))
        if "fitted" in crosstalk:
            return crosstalk_identity(str(crosstalk["fitted"]), floor, own_share)
        # the first --fit-sets result (2026-12-07) has the line only in its crosstalk.yaml entry
        line = re.search(r'fitted: "([^"]*)"', str(crosstalk.get("crosstalk_yaml", "")))
        fitted = line.group(1) if line else FIRST_CROSSTALK_FIT
        return crosstalk_identity(fitted, floor, own_share)
    if not decoupled:
        return None
    from roleplay.control.decoupling import load_crosstalk

    fit = load_crosstalk().get(model_id)
    return crosstalk_identity(fit.fitted, fit.floor, fit.own_share) if fit is not None else None
