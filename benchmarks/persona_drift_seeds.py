"""How much does a drift figure depend on the one conversation sampled? (issue 17)

``benchmarks/persona_drift.py`` samples the scripted conversation's replies at temperature
0.8 from fixed seeds, so a run repeats exactly, and its intervals (over characters and
items) say nothing about the conversation: another sample of the same conversation can take
another path. Runs that differ only in ``--conversation-seed`` measure that:

- per seed, Acc(Dim) at each checkpoint (turn 0 must be the same in every run: nothing is
  sampled before the conversation; a run where it is not is refused);
- the spread between seeds (range and standard deviation of Acc(Dim));
- the mean over seeds with a 95 % percentile bootstrap over characters, each character's
  outcomes pooled over the seeds: an interval that includes the conversation's variation as
  far as these seeds sample it (items are not resampled: the JSON keeps per-(character,
  trait) outcomes);
- how often a (character, trait) pair gets the same verdict under every seed.

    python -m benchmarks.persona_drift_seeds                 # persona_drift*.json of the
                                                              # evaluation set: the published
                                                              # run and its _seed_S reruns
    python -m benchmarks.persona_drift_seeds --runs A.json B.json C.json

Output: the table on stdout, ``benchmarks/out/persona_drift_seeds.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable as a script as well as with -m
    sys.path.insert(0, str(ROOT))

from benchmarks.common import OUT_DIR, cluster_bootstrap_interval  # noqa: E402

CONFIDENCE = 0.95
SCRIPT_SEED = 7000  # drift_conversation.yaml's, for results written before the seed was kept
# What must be equal for two runs to be samples of the same configuration.
CONFIGURATION = (
    "card_set",
    "character_notes",
    "remember_policy_used",
    "memory_pools",
    "memory_position",
    "recalled_memories",
    "steering_combination",
)


@dataclass(frozen=True)
class SeedRow:
    """One (condition, turns) over the seeds."""

    condition: str
    turns: int
    seeds: list[int]
    acc_by_seed: list[float]
    spread: float  # max - min over the seeds
    stdev: float  # between seeds (0 with one seed)
    mean: float
    interval: tuple[float, float]  # over characters, outcomes pooled over seeds
    pairs: int  # counted (character, trait) pairs per seed
    agreeing: float  # share of pairs with one verdict under every seed


def conversation_seed(payload: dict[str, Any]) -> int:
    return int(payload.get("conversation_seed", SCRIPT_SEED))


def _configuration(payload: dict[str, Any]) -> dict[str, Any]:
    return {key: payload.get(key) for key in CONFIGURATION}


def check_runs(runs: list[tuple[Path, dict[str, Any]]]) -> None:
    """Same configuration, different seeds, or a ValueError naming the odd one out."""
    if len(runs) < 2:
        raise ValueError("give at least two runs with different --conversation-seed")
    first_path, first = runs[0]
    seen: dict[int, Path] = {}
    for path, payload in runs:
        seed = conversation_seed(payload)
        if seed in seen:
            raise ValueError(f"{path} and {seen[seed]} both sampled seed {seed}")
        seen[seed] = path
        if _configuration(payload) != _configuration(first):
            differing = [key for key in CONFIGURATION if payload.get(key) != first.get(key)]
            raise ValueError(
                f"{path}: another configuration than {first_path} ({', '.join(differing)})"
            )


def _outcomes(result: dict[str, Any]) -> dict[tuple[str, str], bool]:
    return {
        (character["name"], trait): bool(value["correct"])
        for character in result["characters"]
        for trait, value in character["traits"].items()
        if value["counted"]
    }


def seed_rows(runs: list[tuple[Path, dict[str, Any]]], resamples: int) -> list[SeedRow]:
    check_runs(runs)
    by_run = [
        {(r["condition"], r["turns"]): r for r in payload["report"]["results"]}
        for _, payload in runs
    ]
    seeds = [conversation_seed(payload) for _, payload in runs]
    shared = sorted(set.intersection(*(set(results) for results in by_run)))
    rows = []
    for condition, turns in shared:
        outcomes = [_outcomes(results[(condition, turns)]) for results in by_run]
        keys = sorted(outcomes[0])
        if any(sorted(o) != keys for o in outcomes):
            raise ValueError(f"{condition} at {turns} turns: the runs counted different pairs")
        if turns == 0 and any(o != outcomes[0] for o in outcomes):
            raise ValueError(
                f"{condition} at turn 0 differs between runs: nothing is sampled before the "
                "conversation, so these are not the same configuration and machine"
            )
        accuracy = [sum(o.values()) / len(o) for o in outcomes]
        pooled = [float(o[key]) for o in outcomes for key in keys]
        characters = [name for _ in outcomes for name, _ in keys]
        rows.append(
            SeedRow(
                condition=condition,
                turns=turns,
                seeds=seeds,
                acc_by_seed=[round(value, 4) for value in accuracy],
                spread=round(max(accuracy) - min(accuracy), 4),
                stdev=round(statistics.stdev(accuracy), 4),
                mean=round(statistics.fmean(accuracy), 4),
                interval=cluster_bootstrap_interval(
                    pooled, characters, confidence=CONFIDENCE, resamples=resamples
                ),
                pairs=len(keys),
                agreeing=round(
                    sum(len({o[key] for o in outcomes}) == 1 for key in keys) / len(keys), 4
                ),
            )
        )
    return rows


def markdown(rows: list[SeedRow]) -> str:
    seeds = rows[0].seeds if rows else []
    header = " | ".join(f"seed {seed}" for seed in seeds)
    lines = [
        f"| condition | turns | n per seed | {header} | range | s.d. | mean over seeds "
        "[95 %] | same verdict |",
        "|---|---|---|" + "---|" * len(seeds) + "---|---|---|---|",
    ]
    for row in rows:
        cells = " | ".join(f"{value:.2f}" for value in row.acc_by_seed)
        low, high = row.interval
        lines.append(
            f"| {row.condition} | {row.turns} | {row.pairs} | {cells} | {row.spread:.2f} | "
            f"{row.stdev:.3f} | {row.mean:.3f} [{low:.2f}, {high:.2f}] | "
            f"{row.agreeing:.0%} |"
        )
    return "\n".join(lines) + "\n"


def write_plot(rows: list[SeedRow], path: Path) -> Path:
    """Acc(Dim) against turns: one line per seed, the mean over seeds with its interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conditions = sorted({row.condition for row in rows})
    figure, axes = plt.subplots(1, len(conditions), figsize=(5 * len(conditions), 4))
    axes = [axes] if len(conditions) == 1 else list(axes)
    for axis, condition in zip(axes, conditions, strict=True):
        mine = sorted((r for r in rows if r.condition == condition), key=lambda r: r.turns)
        turns = [r.turns for r in mine]
        for index, seed in enumerate(mine[0].seeds):
            axis.plot(
                turns, [r.acc_by_seed[index] for r in mine], ":", marker=".", label=f"seed {seed}"
            )
        axis.errorbar(
            turns,
            [r.mean for r in mine],
            yerr=[[r.mean - r.interval[0] for r in mine], [r.interval[1] - r.mean for r in mine]],
            fmt="o-",
            capsize=3,
            linewidth=2,
            color="black",
            label="mean over seeds",
        )
        axis.set_title(condition)
        axis.set_xlabel("turns played before the interview")
        axis.set_ylim(0.3, 1.0)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("Acc(Dim)")
    axes[0].legend(fontsize=8, loc="lower left")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def default_runs(folder: Path) -> list[Path]:
    """The published evaluation-set run and its reruns with another conversation seed."""
    return [folder / "persona_drift.json", *sorted(folder.glob("persona_drift_seed_*.json"))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--runs", type=Path, nargs="+", help="results of persona_drift")
    parser.add_argument("--resamples", type=int, default=10_000)
    arguments = parser.parse_args(argv)
    paths = arguments.runs or default_runs(OUT_DIR)
    try:
        runs = []
        for path in paths:
            try:
                runs.append((path, json.loads(path.read_text("utf-8"))))
            except (OSError, ValueError) as error:
                raise ValueError(f"{path}: not a readable result ({error})") from None
        rows = seed_rows(runs, arguments.resamples)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    print(markdown(rows), end="")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "persona_drift_seeds.json").write_text(
        json.dumps([asdict(row) for row in rows], indent=2)
    )
    print(f"wrote {write_plot(rows, OUT_DIR / 'persona_drift_seeds.png')}")


if __name__ == "__main__":
    main()
