"""Which steering vector moves which trait's interview answers? (issue 17, per-trait honesty)

``benchmarks/persona_fidelity.py --steered-traits T`` interviews the held-out characters with
only trait T steered (at the card's strength, the other four at 0). Read against the same
characters with the prompt alone (``persona_fidelity.json``'s ``prompt`` condition), it shows
what each vector does to every trait's measurement:

- **own**: per measured trait U and run, the correlation over the characters of the
  measured U with the cards' U (how well the interview follows the card's U), and U's
  Acc(Dim);
- **cross-talk**: per steered trait S and measured trait U, how much steering S alone moves
  the correlation of the measured U with the cards' **S**, against the prompt alone
  (delta r). The diagonal is what a vector does for its own trait; off the diagonal, a
  vector that moves another trait's answers toward its own card scores (on the default
  model, agreeableness's moving neuroticism's answers: BENCHMARKS.md, "Neuroticism reads
  low agreeableness").

Every figure carries a 95 % percentile bootstrap over characters (the same resampled
characters in both runs of a difference); items are not resampled (the JSON keeps per-
character estimates only). The characters of all the card sets in the files are pooled.

    python -m benchmarks.steering_crosstalk                       # benchmarks/out's files
    python -m benchmarks.steering_crosstalk --baseline A.json --steered B.json C.json

Output: the tables on stdout, ``benchmarks/out/steering_crosstalk.json`` and ``.png`` (the
delta-r matrix as a heat map).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable as a script as well as with -m
    sys.path.insert(0, str(ROOT))

from benchmarks.common import OUT_DIR  # noqa: E402
from benchmarks.persona_drift_targets import TRAITS  # noqa: E402

RESAMPLES = 2000
Interval = tuple[float, float]


@dataclass(frozen=True)
class Run:
    label: str  # "prompt alone", "all five" or the one steered trait
    steered: str | None  # the one trait steered (None: none or all)
    estimates: dict[str, dict[str, float]]  # character -> trait -> measured score
    cards: dict[str, dict[str, float]]  # character -> trait -> card score
    correct: dict[str, dict[str, bool | None]]  # on the card's side (None: not counted)


@dataclass(frozen=True)
class OwnRow:
    label: str
    correlation: dict[str, float]  # measured U vs card U
    interval: dict[str, Interval]
    acc_dim: dict[str, float]
    overall_acc_dim: float  # over every counted (character, trait) pair


@dataclass(frozen=True)
class CrossCell:
    steered: str
    measured: str
    baseline: float  # r(measured U, card S), prompt alone
    steered_r: float  # r(measured U, card S), only S steered
    delta: float
    interval: Interval


def load_run(payload: dict[str, Any], condition: str, label: str) -> Run:
    """The characters of every card set in a ``persona_fidelity`` result, one condition."""
    estimates: dict[str, dict[str, float]] = {}
    cards: dict[str, dict[str, float]] = {}
    correct: dict[str, dict[str, bool | None]] = {}
    for name, report in payload["sets"].items():
        results = [r for r in report["results"] if r["condition"] == condition]
        if not results:
            raise SystemExit(f"{label}: the {name} set has no {condition!r} result")
        for character in results[0]["characters"]:
            key = f"{name}/{character['name']}"
            traits = character["traits"]
            estimates[key] = {t: float(traits[t]["estimate"]) for t in TRAITS}
            cards[key] = {t: float(traits[t]["card"]) for t in TRAITS}
            correct[key] = {
                t: bool(traits[t]["correct"]) if traits[t]["counted"] else None for t in TRAITS
            }
    steered = payload.get("steered_traits")
    one = steered[0] if isinstance(steered, list) and len(steered) == 1 else None
    return Run(label, one, estimates, cards, correct)


def _correlations(
    run: Run, names: list[str], picks: Any, measured: str, card: str
) -> tuple[float, Any]:
    """Pearson r of the measured trait with the card trait over ``names``, and over each
    bootstrap resample of them (rows of ``picks``, indices into ``names``)."""
    import numpy as np

    x = np.array([run.estimates[n][measured] for n in names])
    y = np.array([run.cards[n][card] for n in names])
    point = float(np.corrcoef(x, y)[0, 1])
    xs, ys = x[picks], y[picks]
    xs = xs - xs.mean(axis=1, keepdims=True)
    ys = ys - ys.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = (xs * ys).sum(axis=1) / np.sqrt((xs**2).sum(axis=1) * (ys**2).sum(axis=1))
    return point, boot


def _interval(values: Any) -> Interval:
    import numpy as np

    finite = values[np.isfinite(values)]
    low, high = np.percentile(finite, [2.5, 97.5])
    return round(float(low), 3), round(float(high), 3)


def analyse(
    baseline: Run, runs: list[Run], resamples: int = RESAMPLES, seed: int = 0
) -> tuple[list[OwnRow], list[CrossCell]]:
    import numpy as np

    names = sorted(baseline.estimates)
    for run in runs:
        if sorted(run.estimates) != names:
            raise SystemExit(f"{run.label}: not the same characters as the prompt-alone run")
    picks = np.random.default_rng(seed).integers(0, len(names), size=(resamples, len(names)))
    own_rows = []
    for run in [baseline, *runs]:
        correlation, interval, acc = {}, {}, {}
        for trait in TRAITS:
            point, boot = _correlations(run, names, picks, trait, trait)
            correlation[trait] = round(point, 3)
            interval[trait] = _interval(boot)
            hits = [run.correct[n][trait] for n in names if run.correct[n][trait] is not None]
            acc[trait] = round(sum(map(bool, hits)) / len(hits), 3) if hits else float("nan")
        counted = [v for n in names for v in run.correct[n].values() if v is not None]
        overall = round(sum(map(bool, counted)) / len(counted), 3) if counted else float("nan")
        own_rows.append(OwnRow(run.label, correlation, interval, acc, overall))
    cells = []
    for run in runs:
        if run.steered is None:
            continue
        for measured in TRAITS:
            base, base_boot = _correlations(baseline, names, picks, measured, run.steered)
            moved, moved_boot = _correlations(run, names, picks, measured, run.steered)
            cells.append(
                CrossCell(
                    run.steered,
                    measured,
                    round(base, 3),
                    round(moved, 3),
                    round(moved - base, 3),
                    _interval(moved_boot - base_boot),
                )
            )
    return own_rows, cells


def markdown(own_rows: list[OwnRow], cells: list[CrossCell], characters: int) -> str:
    header = "| run | " + " | ".join(t.capitalize() for t in TRAITS) + " |"
    rule = "|---|" + "---|" * len(TRAITS)
    lines = [
        f"Own trait: r(measured U, card U) over {characters} characters [95 % bootstrap over "
        "characters], and U's Acc(Dim); last column: Acc(Dim) over every trait:",
        "",
        header[:-1] + "| Acc(Dim) |",
        rule + "---|",
    ]
    for row in own_rows:
        cells_text = [
            f"{row.correlation[t]:+.2f} [{row.interval[t][0]:+.2f}, {row.interval[t][1]:+.2f}]"
            f"; {row.acc_dim[t]:.2f}"
            for t in TRAITS
        ]
        lines.append(
            f"| {row.label} | " + " | ".join(cells_text) + f" | {row.overall_acc_dim:.2f} |"
        )
    if cells:
        lines += [
            "",
            "Cross-talk: steering S alone, the change against the prompt alone in r(measured U, "
            "card S) [95 % bootstrap over characters, paired]; in parentheses r prompt alone "
            "-> S steered:",
            "",
            "| steered S \\ measured U | " + " | ".join(t.capitalize() for t in TRAITS) + " |",
            rule,
        ]
        for steered in dict.fromkeys(c.steered for c in cells):
            by_measured = {c.measured: c for c in cells if c.steered == steered}
            text = [
                f"{c.delta:+.2f} [{c.interval[0]:+.2f}, {c.interval[1]:+.2f}] "
                f"({c.baseline:+.2f} -> {c.steered_r:+.2f})"
                for c in (by_measured[t] for t in TRAITS)
            ]
            lines.append(f"| {steered} | " + " | ".join(text) + " |")
    return "\n".join(lines)


def write_plot(cells: list[CrossCell], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    steered = list(dict.fromkeys(c.steered for c in cells))
    grid = np.array(
        [
            [next(c.delta for c in cells if c.steered == s and c.measured == t) for t in TRAITS]
            for s in steered
        ]
    )
    figure, axes = plt.subplots(figsize=(7, 0.9 * len(steered) + 1.8))
    image = axes.imshow(grid, cmap="coolwarm", vmin=-1, vmax=1)
    axes.set_xticks(range(len(TRAITS)), [t[:5] for t in TRAITS])
    axes.set_yticks(range(len(steered)), steered)
    axes.set_xlabel("measured trait U")
    axes.set_ylabel("steered alone: S")
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            axes.text(j, i, f"{grid[i, j]:+.2f}", ha="center", va="center", fontsize=9)
    axes.set_title("change in r(measured U, card S) from steering S alone")
    figure.colorbar(image, ax=axes, shrink=0.8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def default_steered(folder: Path) -> list[Path]:
    return [
        folder / f"persona_fidelity_steered_{trait}.json"
        for trait in TRAITS
        if (folder / f"persona_fidelity_steered_{trait}.json").exists()
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--baseline", type=Path, default=OUT_DIR / "persona_fidelity.json")
    parser.add_argument("--steered", type=Path, nargs="*", default=None)
    parser.add_argument("--resamples", type=int, default=RESAMPLES)
    arguments = parser.parse_args(argv)
    steered_paths = arguments.steered or default_steered(OUT_DIR)
    for path in [arguments.baseline, *steered_paths]:
        if not path.is_file():
            raise SystemExit(f"{path}: no such result (run benchmarks.persona_fidelity first)")
    baseline_payload = json.loads(arguments.baseline.read_text())
    baseline = load_run(baseline_payload, "prompt", "prompt alone")
    runs = [load_run(baseline_payload, "controller", "all five steered")]
    for path in steered_paths:
        payload = json.loads(path.read_text())
        run = load_run(payload, "controller", "")
        runs.append(
            Run(f"only {run.steered} steered", run.steered, run.estimates, run.cards, run.correct)
        )
    own_rows, cells = analyse(baseline, runs, arguments.resamples)
    text = markdown(own_rows, cells, len(baseline.estimates))
    print(text)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    result = {
        "baseline": str(arguments.baseline),
        "steered": [str(p) for p in steered_paths],
        "characters": len(baseline.estimates),
        "own": [asdict(row) for row in own_rows],
        "cross_talk": [asdict(cell) for cell in cells],
    }
    (OUT_DIR / "steering_crosstalk.json").write_text(json.dumps(result, indent=2) + "\n")
    if cells:
        write_plot(cells, OUT_DIR / "steering_crosstalk.png")


if __name__ == "__main__":
    main()
