"""Issue 17's targets on the held-out characters: Acc(Dim) >= 0.80 at turn 0 and >= 0.75
after 20 turns, no trait below 0.6, on each frozen card set and over both.

The analysis is fixed before the confirmation set's figures exist (this script was
committed while that set's drift run was still going): the verdict is given for both
conditions as chat ships them, never for whichever looks best afterwards.

- Configuration: the character's note on (at depth 1 since 2026-12-05 night; older runs had
  it at 4 and are refused), steering as steering.yaml ships it, memory keeping the user's
  statements, three memories after the card's text, one pool (chat's defaults). A source run
  with another configuration is refused.
- Big Five strengths: the cards' own or the cross-talk-cancelling ones, as steering.yaml's
  ``decouple_traits`` says (``--decouple-traits on|off`` asks for the other: a variant,
  written apart). Decoupled runs are read under their variant names too
  (``persona_drift[_confirmation]_decoupled[_seed_S_<condition>].json``, from
  ``persona_drift --decoupled-strengths``), and a candidate file of the other choice gives
  way to the next one.
- Sources: for each conversation seed S (``--seeds``, default the script's own 7000), a
  set's condition is read from ``persona_drift[_confirmation]_seed_S_<condition>.json``
  (``persona_drift --conversation-seed S --conditions <condition>``). For the script's seed
  the published names are read where that file is absent: the evaluation set's controller
  rows from ``persona_drift.json``, its memory rows from
  ``persona_drift_remember_statements.json`` or ``persona_drift.json``; the confirmation
  set's from ``persona_drift_confirmation.json`` (the configuration check below refuses rows
  of another configuration, whichever file they come from). The replication set (written
  2026-12-07, after the other two had been chosen on) has only seed runs; ``--sets`` adds
  it. The bundled characters are the tuning set (and the zero point's panel) and are not held
  out, so they are not counted.
- Several seeds: each character plays one conversation per seed, and its outcomes over the
  seeds are pooled into one cluster, so the estimate averages over conversations as well as
  characters (added 2026-12-05 before any second-seed run with the note at depth 1 existed).
- Intervals: 95 % percentile bootstrap over characters (the character is the resampled
  cluster). The JSON results keep per-(character, trait) outcomes, not per-item ones, so the
  items are not resampled here; the per-set tables of ``persona_drift`` resample both and are
  wider.
- Verdicts: "met" when the interval's lower end reaches the target, "met by the point
  estimate" when only the estimate does, "missed by the point estimate" when the estimate
  falls short but the interval reaches the target, "missed" when the whole interval is
  below it.

    python -m benchmarks.persona_drift_targets            # table, JSON and plot
    python -m benchmarks.persona_drift_targets --resamples 10000
    python -m benchmarks.persona_drift_targets --conditions controller  # one condition
    python -m benchmarks.persona_drift_targets --seeds 7000,7100  # two conversations each
    python -m benchmarks.persona_drift_targets --seeds 7000,7100 --conditions controller \
        --decouple-traits on  # the decoupled strengths' runs
    python -m benchmarks.persona_drift_targets --conditions memory \
        --sets evaluation,confirmation,replication  # three sets, pooled as "all"

Output: the tables on stdout, ``benchmarks/out/persona_drift_targets.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable as a script as well as with -m
    sys.path.insert(0, str(ROOT))

from benchmarks.common import (  # noqa: E402
    FIRST_CROSSTALK_FIT,
    OUT_DIR,
    cluster_bootstrap_interval,
    crosstalk_identity,
)

CONFIDENCE = 0.95
CONDITIONS = ("controller", "memory")
TRAITS = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")
# Issue 17: Acc(Dim) at these checkpoints, and no trait below the floor.
TARGETS = {0: 0.80, 20: 0.75}
TRAIT_FLOOR = 0.6
SCRIPT_SEED = 7000  # drift_conversation.yaml's, for results written before the seed was kept
# (card set, condition) -> the published results whose rows are that set's under chat's
# configuration for the script's own seed, read where no seed run of that name exists; the
# first that exists is read.
PUBLISHED_SOURCES: dict[tuple[str, str], tuple[str, ...]] = {
    ("evaluation", "controller"): ("persona_drift",),
    ("evaluation", "memory"): ("persona_drift_remember_statements", "persona_drift"),
    ("confirmation", "controller"): ("persona_drift_confirmation",),
    ("confirmation", "memory"): ("persona_drift_confirmation",),
}
HELD_OUT_SETS = ("evaluation", "confirmation")  # the default pair, as published until 2026-12-07
# Every frozen set the targets can be read on: roleplay.evaluation.characters'
# FROZEN_CARD_SET_DIRS, spelled out so that reading results does not import the card loader
# (a test keeps the two equal). The replication set has no published runs, only seed runs
# (``persona_drift_replication_seed_S_<condition>.json``).
FROZEN_SETS = ("evaluation", "confirmation", "replication")
POOLED = "both"  # the label of the pooled rows over two sets
POOLED_ALL = "all"  # ... and over more
# Runs made without --remember after this commit (1a5c089) kept the statements by default.
STATEMENTS_DEFAULT_SINCE = "2026-12-04T23:27:07+00:00"


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float
    pairs: int


@dataclass(frozen=True)
class TargetRow:
    card_set: str  # a held-out set, or "both"
    condition: str
    turns: int
    characters: int
    seeds: list[int]  # conversations played per character, pooled
    acc: Estimate
    traits: dict[str, Estimate]
    target: float | None
    verdict: str  # against ``target``; "" where the issue sets none
    traits_below_floor: list[str]  # by the point estimate


def conversation_seed(payload: dict[str, Any]) -> int:
    """The seed a drift result's conversation was played with."""
    return int(payload.get("conversation_seed", SCRIPT_SEED))


def verdict(estimate: Estimate, target: float) -> str:
    if estimate.low >= target:
        return "met"
    if estimate.value >= target:
        return "met by the point estimate"
    if estimate.high >= target:
        return "missed by the point estimate"
    return "missed"


def decoupled_run(payload: dict[str, Any]) -> bool:
    """Whether a run steered the Big Five at the cross-talk-cancelling strengths: by
    steering.yaml's ``decouple_traits`` (or ``--decouple-traits on``), or by the solved
    strengths given with ``--decoupled-strengths`` (the same strengths: the controller's solve
    gives exactly the file's for every card, checked 2026-12-06). Runs before either existed
    steered at the cards' strengths."""
    return bool(payload.get("decouple_traits")) or payload.get("decoupled_strengths") is not None


def shipped_crosstalk_fits(payload: dict[str, Any]) -> set[str]:
    """The solves crosstalk.yaml holds for the run's model (every model's where the run names
    none), as runs record them (``benchmarks.common.crosstalk_identity``)."""
    from roleplay.control.decoupling import load_crosstalk

    fits = load_crosstalk()
    model = payload.get("engine", {}).get("model")
    chosen = list(fits.values()) if model is None else [fits[model]] if model in fits else []
    return {crosstalk_identity(fit.fitted, fit.floor, fit.own_share) for fit in chosen}


def _expected_decoupling(decoupled: bool | None) -> bool:
    from roleplay.control.config import load_config

    return load_config().decouple_traits if decoupled is None else decoupled


def _decoupling_switch(decoupled: bool | None) -> str:
    """The persona_drift switch that runs the Big Five strengths asked for ("" where
    steering.yaml's choice already does)."""
    from roleplay.control.config import load_config

    if decoupled is None or decoupled == load_config().decouple_traits:
        return ""
    return f" --decouple-traits {'on' if decoupled else 'off'}"


def configuration_problem(
    payload: dict[str, Any], condition: str, decoupled: bool | None = None
) -> str | None:
    """Why ``payload`` is not chat's configuration for ``condition`` (None when it is);
    ``decoupled`` asks for that choice of the Big Five strengths instead of steering.yaml's."""
    if decoupled_run(payload) != _expected_decoupling(decoupled):
        return (
            "Big Five steered at the decoupled strengths"
            if decoupled_run(payload)
            else "Big Five steered at the cards' strengths, not the decoupled ones"
        )
    if decoupled_run(payload):
        fit = payload.get("crosstalk_fitted") or FIRST_CROSSTALK_FIT  # older runs: the first
        if fit not in shipped_crosstalk_fits(payload):
            return f"Big Five solved on another cross-talk fit ({fit.split(',')[0]})"
    if not payload.get("character_notes", True):
        return "run without the character's note"
    if payload.get("memory_pools"):
        return "run with memory pools"
    if payload.get("memory_position", "after_character") != "after_character":
        return f"memories placed {payload['memory_position']}"
    if payload.get("steering_combination", "sum") != "sum":
        return f"steering combined {payload['steering_combination']}"
    if payload.get("steering_scope", "all") != "all":
        return f"steering on {payload['steering_scope']} tokens only"
    from roleplay.control.config import load_config

    half_life = payload.get("reply_half_life")  # None in results written before the key
    if half_life != load_config().reply_half_life:
        shown = "not decayed" if half_life is None else f"halved every {half_life:g} reply tokens"
        return f"steering {shown}, not as steering.yaml ships it"

    shipped_bound = load_config().max_combined_strength
    # Results written before the bound was recorded ran with the 1.0 of the day.
    bound = payload.get("max_combined_strength", 1.0)
    if bound != shipped_bound:
        return f"traits' sum bounded at {bound:g}, not {shipped_bound:g}"
    if payload.get("recalled_memories") is not None:
        return f"{payload['recalled_memories']} memories recalled a turn"
    if condition == "memory":
        # Runs since 2026-12-05 say what they kept; older ones only which flag was given.
        policy = payload.get("remember_policy_used", payload.get("remember_policy"))
        if policy is None and str(payload.get("date", "")) < STATEMENTS_DEFAULT_SINCE:
            return "memory rows from before the statements policy became the default"
        if policy not in (None, "statements"):
            return f"memory keeping {policy!r}, not the statements"
    from roleplay.prompting.character_note import CHAT_NOTE_PARTS, NOTE_PARTS, WRITTEN_NOTE_DEPTH

    # Results written before the depth was recorded had the note at depth 4.
    depth = payload.get("note_depth", 4)
    if depth != WRITTEN_NOTE_DEPTH:
        return f"the character's note at depth {depth}, not {WRITTEN_NOTE_DEPTH}"
    # Results written before the parts were recorded said the whole note.
    parts = payload.get("note_parts", NOTE_PARTS)
    if set(parts) != CHAT_NOTE_PARTS:
        said = ", ".join(part for part in NOTE_PARTS if part in parts)
        return f"the character's note saying {said}, not chat's parts"
    return None


def _outcomes(
    results: list[dict[str, Any]], trait: str | None = None
) -> tuple[list[float], list[str]]:
    """Counted (character, trait) outcomes (1 right, 0 wrong) and their characters."""
    outcomes: list[float] = []
    characters: list[str] = []
    for result in results:
        for character in result["characters"]:
            for name, scored in character["traits"].items():
                if scored["counted"] and trait in (None, name):
                    outcomes.append(float(bool(scored["correct"])))
                    characters.append(character["name"])
    return outcomes, characters


def estimate(outcomes: list[float], characters: list[str], resamples: int) -> Estimate:
    if not outcomes:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    low, high = cluster_bootstrap_interval(
        outcomes, characters, confidence=CONFIDENCE, resamples=resamples, seed=0
    )
    return Estimate(sum(outcomes) / len(outcomes), low, high, len(outcomes))


def target_row(
    card_set: str,
    condition: str,
    turns: int,
    results: Sequence[tuple[int, dict[str, Any]]],
    resamples: int,
) -> TargetRow:
    """One (set, condition, checkpoint) over the characters of ``results``: (conversation
    seed, result) pairs, one result per card set and seed; a character's outcomes over the
    seeds form one cluster."""
    played = [
        (seed, character["name"]) for seed, result in results for character in result["characters"]
    ]
    if len(set(played)) != len(played):
        raise ValueError(f"{card_set}: a character is counted twice in one conversation seed")
    pooled = [result for _, result in results]
    overall = estimate(*_outcomes(pooled), resamples)
    traits = {trait: estimate(*_outcomes(pooled, trait), resamples) for trait in TRAITS}
    target = TARGETS.get(turns)
    return TargetRow(
        card_set=card_set,
        condition=condition,
        turns=turns,
        characters=len({name for _, name in played}),
        seeds=sorted({seed for seed, _ in results}),
        acc=overall,
        traits=traits,
        target=target,
        verdict=verdict(overall, target) if target is not None else "",
        traits_below_floor=[t for t, e in traits.items() if e.pairs and e.value < TRAIT_FLOOR],
    )


def source_candidates(
    folder: Path, card_set: str, condition: str, seed: int, decoupled: bool | None = None
) -> list[Path]:
    """The files that may hold ``card_set``'s ``condition`` rows for conversation ``seed``,
    in the order they are tried: the runs of chat's own name, then those a variant's switch
    names (``persona_drift --decoupled-strengths`` / ``--decouple-traits``) for the Big Five
    strengths asked for (``decoupled``; None: steering.yaml's)."""
    stem = "persona_drift" if card_set == "evaluation" else f"persona_drift_{card_set}"
    variants = (
        ["_decoupled", "_decouple_traits_on"]
        if _expected_decoupling(decoupled)
        else ["_decouple_traits_off"]
    )
    stems = [f"{stem}{v}_seed_{seed}_{condition}" for v in ["", *variants]]
    if seed == SCRIPT_SEED:
        stems += [f"{stem}{v}" for v in variants]
        stems += PUBLISHED_SOURCES.get((card_set, condition), ())
    return [folder / f"{name}.json" for name in stems]


def _load_source(
    folder: Path, card_set: str, condition: str, seed: int, decoupled: bool | None = None
) -> dict[tuple[str, int], dict[str, Any]]:
    """The rows of the first candidate in chat's configuration; where none is, the first
    existing candidate's problem (or its absence) is the error."""
    candidates = source_candidates(folder, card_set, condition, seed, decoupled)
    existing = [candidate for candidate in candidates if candidate.exists()]
    problems: list[ValueError] = []
    for candidate in existing:  # a candidate of another configuration gives way
        try:
            return _read_source(candidate, candidates, card_set, condition, seed, decoupled)
        except ValueError as problem:
            problems.append(problem)
    if problems:
        raise problems[0]
    return _read_source(candidates[0], candidates, card_set, condition, seed, decoupled)


def _read_source(
    path: Path,
    candidates: list[Path],
    card_set: str,
    condition: str,
    seed: int,
    decoupled: bool | None,
) -> dict[tuple[str, int], dict[str, Any]]:
    try:
        payload = json.loads(path.read_text("utf-8"))
        results = payload["report"]["results"]
    except FileNotFoundError:
        others = ", ".join(candidate.name for candidate in candidates[1:])
        raise ValueError(
            f"{path}: missing{f' (as are {others})' if others else ''}; run "
            f"benchmarks.persona_drift --card-set {card_set} --conditions {condition} "
            f"--conversation-seed {seed} --after-turns 20{_decoupling_switch(decoupled)} for it"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a persona_drift result ({error})") from None
    ran_on = payload.get("card_set", "evaluation")  # results before --card-set
    if ran_on != card_set:
        raise ValueError(f"{path}: ran on the {ran_on} set, not the {card_set} set")
    played = conversation_seed(payload)
    if played != seed:
        raise ValueError(f"{path}: played with conversation seed {played}, not {seed}")
    problem = configuration_problem(payload, condition, decoupled)
    if problem:
        raise ValueError(f"{path}: not chat's configuration for {condition}: {problem}")
    rows = {(r["condition"], r["turns"]): r for r in results if r["condition"] == condition}
    if not rows:
        raise ValueError(f"{path}: no {condition} rows")
    return rows


def load_sources(
    folder: Path,
    conditions: Sequence[str] = CONDITIONS,
    seeds: Sequence[int] = (SCRIPT_SEED,),
    decoupled: bool | None = None,
    card_sets: Sequence[str] = HELD_OUT_SETS,
) -> dict[tuple[str, str], dict[int, dict[tuple[str, int], dict[str, Any]]]]:
    """(set, condition) -> {seed: {(condition, turns): result}} from each source run of
    ``card_sets``, ``conditions`` and ``seeds`` (``decoupled``: the Big Five strengths asked
    for, None: steering.yaml's); a missing run, a run on another card set, with another seed
    or in another configuration is a one-line ValueError."""
    unknown = [card_set for card_set in card_sets if card_set not in FROZEN_SETS]
    if unknown:
        raise ValueError(f"unknown held-out set {unknown[0]!r}; use {', '.join(FROZEN_SETS)}")
    loaded: dict[tuple[str, str], dict[int, dict[tuple[str, int], dict[str, Any]]]] = {}
    for card_set in card_sets:
        for condition in (c for c in CONDITIONS if c in conditions):
            loaded[(card_set, condition)] = {
                seed: _load_source(folder, card_set, condition, seed, decoupled) for seed in seeds
            }
    return loaded


def pooled_label(card_sets: Sequence[str]) -> str:
    """The name of the rows pooled over ``card_sets``."""
    return POOLED if len(card_sets) == 2 else POOLED_ALL


def target_rows(
    loaded: dict[tuple[str, str], dict[int, dict[tuple[str, int], dict[str, Any]]]],
    resamples: int,
) -> list[TargetRow]:
    """Each held-out set loaded, then the sets pooled (``pooled_label``) where there are
    several, per condition and checkpoint every set has in every seed."""
    card_sets = [s for s in FROZEN_SETS if any(key[0] == s for key in loaded)]
    pooled_name = pooled_label(card_sets)
    rows: list[TargetRow] = []
    for condition in (c for c in CONDITIONS if all((s, c) in loaded for s in card_sets)):
        runs = [loaded[(s, condition)] for s in card_sets]
        checkpoints = sorted(
            set.intersection(
                *(
                    {turns for _, turns in by_turns}
                    for by_seed in runs
                    for by_turns in by_seed.values()
                )
            )
        )
        for turns in checkpoints:
            per_set = {
                s: [(seed, by_turns[(condition, turns)]) for seed, by_turns in by_seed.items()]
                for s, by_seed in zip(card_sets, runs, strict=True)
            }
            for card_set, results in per_set.items():
                rows.append(target_row(card_set, condition, turns, results, resamples))
            if len(per_set) > 1:  # one set's pooled row would repeat its own
                pooled = [pair for results in per_set.values() for pair in results]
                rows.append(target_row(pooled_name, condition, turns, pooled, resamples))
    return rows


def _is_pooled(row: TargetRow) -> bool:
    return row.card_set in (POOLED, POOLED_ALL)


def _pooled_words(rows: list[TargetRow]) -> str:
    """The pooled rows' sets in words: "both sets", "all N sets" for more than two, or
    "the S set" where only one was read (it has no pooled rows)."""
    sets = {row.card_set for row in rows if not _is_pooled(row)}
    if len(sets) == 1:
        return f"the {next(iter(sets))} set"
    return "both sets" if len(sets) == 2 else f"all {len(sets)} sets"


def _cell(value: Estimate) -> str:
    return f"{value.value:.2f} [{value.low:.2f}, {value.high:.2f}]"


def markdown(rows: list[TargetRow]) -> str:
    lines = [
        "| condition | turns | set | characters | n | Acc(Dim) [95 %] | target | verdict |"
        + "".join(f" {t[0].upper()} |" for t in TRAITS),
        "|---|---|---|---|---|---|---|---|" + "---|" * len(TRAITS),
    ]
    for row in rows:
        bold = "**" if _is_pooled(row) else ""
        target = f">= {row.target:.2f}" if row.target is not None else "-"
        lines.append(
            f"| {row.condition} | {row.turns} | {bold}{row.card_set}{bold} | {row.characters} | "
            f"{row.acc.pairs} | {bold}{_cell(row.acc)}{bold} | {target} | {row.verdict or '-'} |"
            + "".join(
                f" {row.traits[t].value:.2f}"
                + (f" [{row.traits[t].low:.2f}, {row.traits[t].high:.2f}]" if bold else "")
                + " |"
                for t in TRAITS
            )
        )
    pooled = [row for row in rows if _is_pooled(row)] or rows  # one set: its own rows
    below = [
        f"{row.condition} at {row.turns}: {', '.join(row.traits_below_floor)}"
        for row in pooled
        if row.traits_below_floor
    ]
    seeds = sorted({seed for row in rows for seed in row.seeds})
    lines += [
        "",
        f"Conversation seeds: {', '.join(map(str, seeds))}"
        + (
            " (each character's outcomes pooled over them; turn 0 comes before any "
            "conversation, so its interview is the same one under every seed)."
            if len(seeds) > 1
            else "."
        ),
        f"Traits below {TRAIT_FLOOR} over {_pooled_words(rows)} (point estimates): "
        + ("; ".join(below) if below else "none")
        + ".",
    ]
    return "\n".join(lines) + "\n"


def write_plot(rows: list[TargetRow], path: Path) -> Path:
    """Acc(Dim) against turns per condition present: each set and the sets pooled, with
    intervals and the targets marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conditions = [c for c in CONDITIONS if any(r.condition == c for r in rows)]
    figure, axes = plt.subplots(
        1, len(conditions), figsize=(5 * len(conditions), 4), sharey=True, squeeze=False
    )
    offsets = {
        "evaluation": -0.6,
        "confirmation": 0.6,
        "replication": 1.2,
        POOLED: 0.0,
        POOLED_ALL: 0.0,
    }
    for axis, condition in zip(axes[0], conditions, strict=True):
        for card_set, offset in offsets.items():
            mine = [r for r in rows if r.condition == condition and r.card_set == card_set]
            if not mine:
                continue
            pooled = card_set in (POOLED, POOLED_ALL)
            axis.errorbar(
                [r.turns + offset for r in mine],
                [r.acc.value for r in mine],
                yerr=[
                    [r.acc.value - r.acc.low for r in mine],
                    [r.acc.high - r.acc.value for r in mine],
                ],
                fmt="o-" if pooled else "o:",
                capsize=3,
                label=_pooled_words(rows) if pooled else card_set,
                linewidth=2 if pooled else 1,
            )
        for turns, target in TARGETS.items():
            axis.hlines(target, turns - 2, turns + 2, colors="red", linestyles="dashed")
        axis.set_title(condition)
        axis.set_xlabel("turns played before the interview")
        axis.set_ylim(0.3, 1.0)
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("Acc(Dim), 95 % bootstrap over characters")
    axes[0][0].legend(fontsize=8, loc="lower left")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--results", type=Path, default=OUT_DIR, help="the runs' folder")
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument(
        "--conditions",
        default=",".join(CONDITIONS),
        help="comma-separated, of " + ", ".join(CONDITIONS) + " (default: both)",
    )
    parser.add_argument(
        "--seeds",
        default=str(SCRIPT_SEED),
        help="comma-separated conversation seeds whose runs are pooled per character "
        f"(default: {SCRIPT_SEED}, the script's own)",
    )
    parser.add_argument(
        "--sets",
        default=",".join(HELD_OUT_SETS),
        help=f"comma-separated held-out sets, of {', '.join(FROZEN_SETS)} (default: "
        f"{','.join(HELD_OUT_SETS)}); other sets write persona_drift_targets_<sets>",
    )
    parser.add_argument(
        "--decouple-traits",
        choices=("on", "off"),
        help="the Big Five strengths the runs must have steered at: the cross-talk-cancelling "
        "ones or the cards' (default: steering.yaml's decouple_traits); a choice other than "
        "steering.yaml's writes persona_drift_targets_decouple_traits_<on|off>",
    )
    arguments = parser.parse_args(argv)
    decoupled = None if arguments.decouple_traits is None else arguments.decouple_traits == "on"
    conditions = [c.strip() for c in arguments.conditions.split(",") if c.strip()]
    unknown = [c for c in conditions if c not in CONDITIONS]
    if unknown or not conditions:
        parser.error(f"--conditions {arguments.conditions!r}: use {' or '.join(CONDITIONS)}")
    try:
        seeds = sorted({int(seed) for seed in arguments.seeds.split(",") if seed.strip()})
    except ValueError:
        parser.error(f"--seeds {arguments.seeds!r}: use comma-separated integers")
    if not seeds:
        parser.error(f"--seeds {arguments.seeds!r}: give at least one seed")
    card_sets = [s.strip() for s in arguments.sets.split(",") if s.strip()]
    if not card_sets or len(set(card_sets)) != len(card_sets):
        parser.error(f"--sets {arguments.sets!r}: give one or more different sets")
    try:
        loaded = load_sources(arguments.results, conditions, seeds, decoupled, card_sets)
        rows = target_rows(loaded, arguments.resamples)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    print(markdown(rows), end="")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    # Another choice than chat's is a variant: it never replaces chat's verdicts.
    stem = "persona_drift_targets" + _decoupling_switch(decoupled).replace(
        " --decouple-traits ", "_decouple_traits_"
    )
    if sorted(card_sets) != sorted(HELD_OUT_SETS):  # another choice of sets is written apart
        stem += "_" + "_".join(s for s in FROZEN_SETS if s in card_sets)
    (OUT_DIR / f"{stem}.json").write_text(json.dumps([asdict(row) for row in rows], indent=2))
    print(f"wrote {write_plot(rows, OUT_DIR / f'{stem}.png')}")


if __name__ == "__main__":
    main()
