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
- how often a (character, trait) pair gets the same verdict under every seed;
- between two conditions run with the same seeds (the controller's and memory's seed runs),
  the difference in Acc(Dim) per seed and its mean, with a 95 % bootstrap over characters
  of the paired (seed, character, trait) differences.

Runs of several card sets are grouped by set, and where every set has the same seeds a
"both sets" row pools them (each seed's Acc(Dim) over all the sets' pairs; the bootstrap
over all their characters), as ``persona_drift_targets`` pools one seed.

    python -m benchmarks.persona_drift_seeds                 # each held-out set's run
                                                              # (persona_drift.json,
                                                              # persona_drift_confirmation.json)
                                                              # and its _seed_S_<conditions> reruns
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
from benchmarks.persona_drift_targets import TARGETS, TRAITS, conversation_seed  # noqa: E402

CONFIDENCE = 0.95
# What must be equal for two runs to be samples of the same configuration.
CONFIGURATION = (
    "character_notes",
    "remember_policy_used",
    "memory_pools",
    "memory_position",
    "recalled_memories",
    "steering_combination",
    "steering_scope",
    "max_combined_strength",
    "note_depth",
    "note_parts",
    "reply_half_life",
)
# A key's value in results written before the key was recorded.
CONFIGURATION_DEFAULTS = {
    "steering_scope": "all",
    "max_combined_strength": 1.0,
    "note_depth": 4,
    "note_parts": ["lines", "stay", "voice", "words"],
    "reply_half_life": None,
}


POOLED = "both sets"
HELD_OUT_SETS = ("evaluation", "confirmation")


@dataclass(frozen=True)
class SeedRow:
    """One (card set, condition, turns) over the seeds."""

    card_set: str
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
    trait_mean: dict[str, float]  # per trait: Acc over its pairs, mean over the seeds


def _configuration(payload: dict[str, Any]) -> dict[str, Any]:
    return {key: payload.get(key, CONFIGURATION_DEFAULTS.get(key)) for key in CONFIGURATION}


def check_runs(runs: list[tuple[Path, dict[str, Any]]]) -> None:
    """One configuration, and no (set, condition, turns) sampled twice with one seed, or a
    ValueError naming the odd run. One seed may have a run per condition."""
    if not runs:
        raise ValueError(
            "no runs: give --runs, or run benchmarks/persona_drift.py --conversation-seed S"
        )
    first_path, first = runs[0]
    seen: dict[tuple[str, int, str, int], Path] = {}
    for path, payload in runs:
        for result in payload["report"]["results"]:
            key = (
                card_set(payload),
                conversation_seed(payload),
                result["condition"],
                result["turns"],
            )
            if key in seen:
                raise ValueError(
                    f"{path} and {seen[key]} both sampled seed {key[1]} of {key[0]} "
                    f"({key[2]} at {key[3]} turns)"
                )
            seen[key] = path
        if _configuration(payload) != _configuration(first):
            mine, theirs = _configuration(payload), _configuration(first)
            differing = [key for key in CONFIGURATION if mine[key] != theirs[key]]
            raise ValueError(
                f"{path}: another configuration than {first_path} ({', '.join(differing)})"
            )
    seeds: dict[tuple[str, str, int], set[int]] = {}
    for set_name, seed, condition, turns in seen:
        seeds.setdefault((set_name, condition, turns), set()).add(seed)
    if all(len(found) < 2 for found in seeds.values()):
        raise ValueError("give at least two runs of a card set with different --conversation-seed")


def card_set(payload: dict[str, Any]) -> str:
    return str(payload.get("card_set", "evaluation"))


Outcomes = dict[tuple[str, str], bool]  # (character, trait) -> on the card's side


def _outcomes(result: dict[str, Any]) -> Outcomes:
    return {
        (character["name"], trait): bool(value["correct"])
        for character in result["characters"]
        for trait, value in character["traits"].items()
        if value["counted"]
    }


def _row(
    name: str,
    condition: str,
    turns: int,
    seeds: list[int],
    outcomes: list[Outcomes],
    resamples: int,
) -> SeedRow:
    """One row from each seed's outcomes over the same (character, trait) pairs."""
    keys = sorted(outcomes[0])
    if any(sorted(o) != keys for o in outcomes):
        raise ValueError(f"{name}, {condition} at {turns} turns: the runs counted other pairs")
    if turns == 0 and any(o != outcomes[0] for o in outcomes):
        raise ValueError(
            f"{name}, {condition} at turn 0 differs between runs: nothing is sampled before "
            "the conversation, so these are not the same configuration and machine"
        )
    accuracy = [sum(o.values()) / len(o) for o in outcomes]
    pooled = [float(o[key]) for o in outcomes for key in keys]
    characters = [character for _ in outcomes for character, _ in keys]
    return SeedRow(
        card_set=name,
        condition=condition,
        turns=turns,
        seeds=seeds,
        acc_by_seed=[round(value, 4) for value in accuracy],
        spread=round(max(accuracy) - min(accuracy), 4),
        stdev=round(statistics.stdev(accuracy), 4) if len(accuracy) > 1 else 0.0,
        mean=round(statistics.fmean(accuracy), 4),
        interval=cluster_bootstrap_interval(
            pooled, characters, confidence=CONFIDENCE, resamples=resamples
        ),
        pairs=len(keys),
        agreeing=round(sum(len({o[key] for o in outcomes}) == 1 for key in keys) / len(keys), 4),
        trait_mean={
            trait: round(
                statistics.fmean(
                    float(o[key]) for o in outcomes for key in keys if key[1] == trait
                ),
                4,
            )
            for trait in dict.fromkeys(trait for _, trait in keys)
        },
    )


Found = dict[str, dict[tuple[str, int], dict[int, Outcomes]]]  # set -> (cond, turns) -> seed


def _collect(runs: list[tuple[Path, dict[str, Any]]]) -> Found:
    """Each (set, condition, turns) sampled with two or more seeds, by seed."""
    check_runs(runs)
    found: Found = {}
    for _, payload in runs:
        for result in payload["report"]["results"]:
            results = found.setdefault(card_set(payload), {})
            by_seed = results.setdefault((result["condition"], result["turns"]), {})
            by_seed[conversation_seed(payload)] = _outcomes(result)
    for results in found.values():  # a single seed says nothing about the seeds
        for key in [key for key, by_seed in results.items() if len(by_seed) < 2]:
            del results[key]
    return {name: results for name, results in found.items() if results}


def _with_pooled(found: Found) -> Found:
    """``found`` and, where more than one set has the same seeds at a (condition, turns),
    those sets pooled under ``POOLED`` (characters kept apart by their set's name)."""
    if len(found) < 2:
        return found
    pooled: dict[tuple[str, int], dict[int, Outcomes]] = {}
    for key in sorted(set.intersection(*(set(results) for results in found.values()))):
        seed_sets = {tuple(sorted(results[key])) for results in found.values()}
        if len(seed_sets) != 1:
            continue  # pooling needs the same seeds in every set
        pooled[key] = {
            seed: {
                (f"{name}/{character}", trait): right
                for name, results in found.items()
                for (character, trait), right in results[key][seed].items()
            }
            for seed in seed_sets.pop()
        }
    return {**found, POOLED: pooled} if pooled else found


def seed_rows(runs: list[tuple[Path, dict[str, Any]]], resamples: int) -> list[SeedRow]:
    """Rows per (card set, condition, turns) with two or more seeds, and pooled rows over
    the sets that have the same seeds."""
    rows = []
    for name, results in _with_pooled(_collect(runs)).items():
        for (condition, turns), by_seed in sorted(results.items()):
            seeds = sorted(by_seed)
            rows.append(_row(name, condition, turns, seeds, [by_seed[s] for s in seeds], resamples))
    return rows


@dataclass(frozen=True)
class ConditionDifference:
    """``other`` minus ``base`` at one (card set, turns), over the seeds both were run with."""

    card_set: str
    base: str
    other: str
    turns: int
    seeds: list[int]
    pairs: int  # (character, trait) pairs per seed
    difference_by_seed: list[float]
    difference: float  # mean over the seeds
    interval: tuple[float, float]  # paired, over characters, outcomes pooled over seeds


def condition_differences(
    runs: list[tuple[Path, dict[str, Any]]], resamples: int
) -> list[ConditionDifference]:
    """Every two conditions of a card set at the same turns and seeds, paired by
    (seed, character, trait); and over the sets where each has the same seeds."""
    differences = []
    for name, results in _with_pooled(_collect(runs)).items():
        conditions = sorted({condition for condition, _ in results})
        for base, other in ((a, b) for a in conditions for b in conditions if a < b):
            for turns in sorted(
                {t for c, t in results if c == base} & {t for c, t in results if c == other}
            ):
                first, second = results[(base, turns)], results[(other, turns)]
                seeds = sorted(set(first) & set(second))
                if len(seeds) < 2:
                    continue
                pair_keys = sorted(
                    set.intersection(*(set(both[s]) for both in (first, second) for s in seeds))
                )
                gaps = [
                    float(second[seed][key]) - float(first[seed][key])
                    for seed in seeds
                    for key in pair_keys
                ]
                characters = [character for _ in seeds for character, _ in pair_keys]
                by_seed = [
                    statistics.fmean(float(second[s][k]) - float(first[s][k]) for k in pair_keys)
                    for s in seeds
                ]
                differences.append(
                    ConditionDifference(
                        card_set=name,
                        base=base,
                        other=other,
                        turns=turns,
                        seeds=seeds,
                        pairs=len(pair_keys),
                        difference_by_seed=[round(v, 4) for v in by_seed],
                        difference=round(statistics.fmean(by_seed), 4),
                        interval=cluster_bootstrap_interval(
                            gaps, characters, confidence=CONFIDENCE, resamples=resamples
                        ),
                    )
                )
    return differences


def differences_markdown(differences: list[ConditionDifference]) -> str:
    lines = [
        "| card set | other - base | turns | n per seed | per seed | mean over seeds [95 %] |",
        "|---|---|---|---|---|---|",
    ]
    for row in differences:
        cells = ", ".join(
            f"{seed}: {value:+.2f}"
            for seed, value in zip(row.seeds, row.difference_by_seed, strict=True)
        )
        low, high = row.interval
        lines.append(
            f"| {row.card_set} | {row.other} - {row.base} | {row.turns} | {row.pairs} | "
            f"{cells} | {row.difference:+.3f} [{low:+.2f}, {high:+.2f}] |"
        )
    return "\n".join(lines) + "\n"


def markdown(rows: list[SeedRow]) -> str:
    lines = [
        "| card set | condition | turns | n per seed | Acc(Dim) per seed | range | s.d. | "
        "mean over seeds [95 %] | same verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = ", ".join(
            f"{seed}: {value:.2f}" for seed, value in zip(row.seeds, row.acc_by_seed, strict=True)
        )
        low, high = row.interval
        lines.append(
            f"| {row.card_set} | {row.condition} | {row.turns} | {row.pairs} | {cells} | "
            f"{row.spread:.2f} | "
            f"{row.stdev:.3f} | {row.mean:.3f} [{low:.2f}, {high:.2f}] | "
            f"{row.agreeing:.0%} |"
        )
    found = {trait for row in rows for trait in row.trait_mean}
    traits = [t for t in TRAITS if t in found] + sorted(found - set(TRAITS))  # O C E A N
    lines += [
        "",
        "Per trait, Acc over the trait's pairs, mean over the seeds:",
        "",
        "| card set | condition | turns | " + " | ".join(t.title() for t in traits) + " |",
        "|---|---|---|" + "---|" * len(traits),
    ]
    for row in rows:
        cells = " | ".join(
            f"{row.trait_mean[t]:.2f}" if t in row.trait_mean else "-" for t in traits
        )
        lines.append(f"| {row.card_set} | {row.condition} | {row.turns} | {cells} |")
    return "\n".join(lines) + "\n"


def write_plot(rows: list[SeedRow], path: Path) -> Path:
    """Acc(Dim) against turns: one line per seed, the mean over seeds with its interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = sorted({(row.card_set, row.condition) for row in rows})
    figure, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 4), sharey=True)
    axes = [axes] if len(panels) == 1 else list(axes)
    for axis, (name, condition) in zip(axes, panels, strict=True):
        mine = sorted(
            (r for r in rows if (r.card_set, r.condition) == (name, condition)),
            key=lambda r: r.turns,
        )
        turns = [r.turns for r in mine]
        for seed in sorted({seed for r in mine for seed in r.seeds}):
            sampled = [r for r in mine if seed in r.seeds]
            axis.plot(
                [r.turns for r in sampled],
                [r.acc_by_seed[r.seeds.index(seed)] for r in sampled],
                ":",
                marker=".",
                label=f"seed {seed}",
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
        for turns_at, target in TARGETS.items():  # issue 17's
            axis.hlines(target, turns_at - 2, turns_at + 2, colors="red", linestyles="dashed")
        axis.set_title(f"{name}: {condition}")
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
    """Each held-out set's run under chat's defaults and its reruns with another seed."""
    paths = []
    for name in HELD_OUT_SETS:
        stem = "persona_drift" if name == "evaluation" else f"persona_drift_{name}"
        reruns = sorted(folder.glob(f"{stem}_seed_*.json"))
        if reruns:
            paths += [folder / f"{stem}.json", *reruns]
    return paths


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
        differences = condition_differences(runs, arguments.resamples)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    print(markdown(rows), end="")
    if differences:
        print("\nBetween conditions, paired by (seed, character, trait):\n")
        print(differences_markdown(differences), end="")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "persona_drift_seeds.json").write_text(
        json.dumps(
            {
                "rows": [asdict(row) for row in rows],
                "condition_differences": [asdict(d) for d in differences],
            },
            indent=2,
        )
    )
    print(f"wrote {write_plot(rows, OUT_DIR / 'persona_drift_seeds.png')}")


if __name__ == "__main__":
    main()
