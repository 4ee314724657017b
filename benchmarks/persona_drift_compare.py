"""Paired comparisons of drift results: does one condition or variant hold the characters
better than another, beyond the noise? (issue 17)

Two results of ``benchmarks/persona_drift.py`` that interviewed the same characters at the
same turn are compared (character, trait) by (character, trait): the difference in Acc(Dim)
and in MAE, with a 95 % bootstrap interval over characters (both sides resampled with the
same characters, so what the characters share cancels). The items are the same 50 on both
sides and are not resampled here: the JSON keeps per-(character, trait) results, not
per-item ones. Replies are seeded, so the same condition at the same turn repeats exactly
and a difference comes from what changed.

    python -m benchmarks.persona_drift_compare            # the standard comparisons
    python -m benchmarks.persona_drift_compare --resamples 5000
    python -m benchmarks.persona_drift_compare --between BASE.json OTHER.json
    python -m benchmarks.persona_drift_compare --between A_7000 B_7000 --between A_7100 B_7100
    python -m benchmarks.persona_drift_compare \
        --between BEFORE/persona_fidelity.json#evaluation AFTER/persona_fidelity.json#evaluation \
        --between BEFORE/persona_fidelity.json#confirmation AFTER/persona_fidelity.json#confirmation
    python -m benchmarks.persona_drift_compare \
        --pool-with benchmarks/out/persona_drift_bundled.json \
                    benchmarks/out/persona_drift_confirmation.json \
        --pool-memory persona_drift_remember_statements

``FILE.json#SET`` names one card set of a ``benchmarks.persona_fidelity`` result: its turn-0
interview, which samples nothing, so two runs of it under different settings pair exactly.
``FILE.json#VIEW`` names one view of a ``benchmarks.drift_sources`` result, scored as a drift
run of its condition: its ``full`` view is the shipped configuration's drift run, so a
variant pairs with it without that run made again:

    python -m benchmarks.persona_drift_compare \
        --between benchmarks/out/drift_sources.json#full \
                  benchmarks/out/persona_drift_note_stay-lines-words.json

Output: the table on stdout, ``benchmarks/out/<published>_compare.json`` and ``.png``
(``persona_drift_compare``; ``..._compare_pooled_with_<sets>`` with ``--pool-with``).

``--published`` may name another card set's run (``persona_drift --card-set bundled`` writes
``persona_drift_bundled.json``); its variants are then read under its name. ``--pool-with
RESULT`` adds memory - controller over the characters of both sets, the published run's
controller against the memory of ``--pool-memory VARIANT`` (the variant run with the same
configuration as RESULT); several RESULTs pool every set given.

The standard comparisons: memory - controller in the published run at each checkpoint;
the published run - each ablation whose result exists (``persona_drift
--no-character-note``, ``--remember exchange``), per condition and checkpoint both have; and
each candidate change - the published run (``--remember statements``, with and without
``--memory-pools``), with the candidate's memory condition against the published
controller as well; a candidate built on another (``--memory-position before_character``,
``--recalled-memories 1``, both on the statements policy) is measured against that one;
``--steering-combination decorrelated`` is measured against the published run.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable as a script as well as with -m
    sys.path.insert(0, str(ROOT))

from benchmarks.common import OUT_DIR, cluster_bootstrap_interval  # noqa: E402
from benchmarks.persona_drift_targets import conversation_seed  # noqa: E402

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Variant:
    """A result of benchmarks/persona_drift.py run with one of its flags."""

    label: str
    # False (an ablation): the published run has a part the variant lacks; the difference
    # is published - variant. True (a candidate): the variant is the change under test;
    # the difference is variant - published, and its memory condition is also compared
    # with the published controller (the controller does not depend on the change).
    is_change: bool = False
    # A candidate built on another candidate: the result it is measured against instead of
    # the published run (its memory condition is still compared with the published
    # controller).
    base: str | None = None


VARIANTS: dict[str, Variant] = {
    "persona_drift_no_note": Variant("with note - without"),
    "persona_drift_remember_exchange": Variant("remember what the user said - the exchange"),
    "persona_drift_remember_statements": Variant(
        "remember the user's statements - their whole messages", is_change=True
    ),
    "persona_drift_remember_statements_memory_pools": Variant(
        "statements, recalled apart from the card's memories - whole messages, one pool",
        is_change=True,
    ),
    "persona_drift_memories_first": Variant(
        "memories before the card's text - after it (both statements, one pool)",
        is_change=True,
        base="persona_drift_remember_statements",
    ),
    "persona_drift_recall_1": Variant(
        "one memory recalled a turn - three (both statements, one pool)",
        is_change=True,
        base="persona_drift_remember_statements",
    ),
    "persona_drift_decorrelated": Variant("trait vectors decorrelated - summed", is_change=True),
}


@dataclass(frozen=True)
class PairedDifference:
    """``other - base`` over the (character, trait) pairs both count."""

    label: str
    pairs: int
    base_acc: float
    other_acc: float
    acc_difference: float
    acc_interval: tuple[float, float]
    mae_difference: float
    mae_interval: tuple[float, float]
    gained: int  # pairs right in other, wrong in base
    lost: int  # pairs right in base, wrong in other


def _per_character(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each conversation's character by its key: the name, or name and seed where pooled
    runs played the character more than once (``pooled``)."""
    return {
        character.get("played", character["name"]): character for character in result["characters"]
    }


def paired_difference(
    base: dict[str, Any],
    other: dict[str, Any],
    label: str,
    *,
    resamples: int = 5000,
    seed: int = 0,
) -> PairedDifference:
    """Compare two report results (``report["results"][i]``) of the same characters."""
    base_characters, other_characters = _per_character(base), _per_character(other)
    if sorted(base_characters) != sorted(other_characters):
        raise ValueError(f"{label}: the two results interviewed different characters")
    # Per (character, trait): other - base, with the character as the resampled cluster
    # (all its conversations together where several seeds are pooled).
    # Acc(Dim) counts only the pairs the card counts; MAE every trait.
    right: list[tuple[bool, bool]] = []
    right_characters: list[str] = []
    error_differences: list[float] = []
    error_characters: list[str] = []
    for key in sorted(base_characters):
        name = base_characters[key]["name"]
        for trait, before in base_characters[key]["traits"].items():
            after = other_characters[key]["traits"][trait]
            error_differences.append(after["abs_error"] - before["abs_error"])
            error_characters.append(name)
            if before["counted"]:
                right.append((bool(before["correct"]), bool(after["correct"])))
                right_characters.append(name)
    if not right:
        raise ValueError(f"{label}: no counted (character, trait) pairs")
    acc_differences = [float(now) - float(then) for then, now in right]

    def interval(values: list[float], characters: list[str]) -> tuple[float, float]:
        return cluster_bootstrap_interval(
            values, characters, confidence=CONFIDENCE, resamples=resamples, seed=seed
        )

    pairs = len(right)
    return PairedDifference(
        label=label,
        pairs=pairs,
        base_acc=sum(then for then, _ in right) / pairs,
        other_acc=sum(now for _, now in right) / pairs,
        acc_difference=sum(acc_differences) / pairs,
        acc_interval=interval(acc_differences, right_characters),
        mae_difference=sum(error_differences) / len(error_differences),
        mae_interval=interval(error_differences, error_characters),
        gained=sum(now and not then for then, now in right),
        lost=sum(then and not now for then, now in right),
    )


def _results(payload: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    return {(r["condition"], r["turns"]): r for r in payload["report"]["results"]}


def standard_comparisons(
    published: dict[str, Any], variants: dict[str, dict[str, Any]], resamples: int
) -> list[PairedDifference]:
    """``variants``: result name (a key of ``VARIANTS``) -> that run's payload."""
    rows = []
    results = _results(published)
    rows.extend(_memory_against_controller(results, results, "", resamples))
    for name, payload in variants.items():
        variant, found = VARIANTS[name], _results(payload)
        if variant.base is not None and variant.base not in variants:
            continue  # measured against a result that is not there
        against = _results(variants[variant.base]) if variant.base is not None else results
        for key in sorted(set(against) & set(found)):
            condition, turns = key
            base, other = (against, found) if variant.is_change else (found, against)
            rows.append(
                paired_difference(
                    base[key],
                    other[key],
                    f"{condition}: {variant.label}, turn {turns}",
                    resamples=resamples,
                )
            )
        if variant.is_change:
            suffix = f" ({name.removeprefix('persona_drift_')})"
            rows.extend(_memory_against_controller(results, found, suffix, resamples))
    return rows


def pooled_memory_against_controller(
    controllers: dict[str, Any],
    memories: dict[str, Any],
    others: list[dict[str, Any]],
    resamples: int,
) -> list[PairedDifference]:
    """Memory - controller at each checkpoint, over the characters of one card set's runs
    (``controllers``' controller rows, ``memories``' memory rows: the controller does not
    depend on a memory change) and other sets' runs of the same configuration (``others``):
    more characters, a narrower interval. No character may be in two sets."""
    one = {
        **{k: r for k, r in _results(controllers).items() if k[0] == "controller"},
        **{k: r for k, r in _results(memories).items() if k[0] == "memory"},
    }
    runs = [{"report": {"results": list(one.values())}}, *others]
    both = _results(pooled(runs))
    label = " (both card sets)" if len(runs) == 2 else f" ({len(runs)} card sets)"
    rows = _memory_against_controller(both, both, label, resamples)
    if not rows:
        raise ValueError("pooled runs: no checkpoint with both memory and controller in all")
    return rows


def _memory_against_controller(
    controllers: dict[tuple[str, int], dict[str, Any]],
    memories: dict[tuple[str, int], dict[str, Any]],
    suffix: str,
    resamples: int,
) -> list[PairedDifference]:
    return [
        paired_difference(
            controllers[("controller", turns)],
            memories[("memory", turns)],
            f"memory{suffix} - controller, turn {turns}",
            resamples=resamples,
        )
        for turns in sorted({turns for _, turns in memories})
        if ("controller", turns) in controllers and ("memory", turns) in memories
    ]


def markdown(rows: list[PairedDifference]) -> str:
    lines = [
        "| comparison | n | Acc(Dim) base -> other | difference [95 %] | gained / lost | "
        "MAE difference [95 %] |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        acc_low, acc_high = row.acc_interval
        mae_low, mae_high = row.mae_interval
        lines.append(
            f"| {row.label} | {row.pairs} | {row.base_acc:.2f} -> {row.other_acc:.2f} | "
            f"{row.acc_difference:+.2f} [{acc_low:+.2f}, {acc_high:+.2f}] | "
            f"{row.gained} / {row.lost} | "
            f"{row.mae_difference:+.3f} [{mae_low:+.3f}, {mae_high:+.3f}] |"
        )
    return "\n".join(lines) + "\n"


def write_plot(rows: list[PairedDifference], path: Path) -> Path:
    """The Acc(Dim) differences with their intervals, one row per comparison, zero marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.2))
    positions = list(range(len(rows)))[::-1]
    points = [row.acc_difference for row in rows]
    below = [row.acc_difference - row.acc_interval[0] for row in rows]
    above = [row.acc_interval[1] - row.acc_difference for row in rows]
    axis.errorbar(points, positions, xerr=[below, above], fmt="o", capsize=3)
    axis.axvline(0.0, color="grey", linewidth=0.8)
    axis.set_yticks(positions, [row.label for row in rows], fontsize=8)
    axis.set_xlabel("Acc(Dim) difference, paired (95 % bootstrap over characters)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def _read(path: Path) -> dict[str, Any]:
    """A drift result; or one card set of a ``benchmarks.persona_fidelity`` result, named
    ``FILE.json#SET`` (its turn-0 interview, e.g. under two versions of the bounds); or one
    view of a ``benchmarks.drift_sources`` result, ``FILE.json#VIEW``."""
    file, _, part = str(path).partition("#")
    try:
        payload = json.loads(Path(file).read_text("utf-8"))
        if part and "views" in payload:
            payload = {**payload, "report": drift_sources_report(payload, part)}
        elif part:
            payload = {"report": payload["sets"][part]}
        payload["report"]["results"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a persona_drift result ({error})") from None
    return dict(payload)


def drift_sources_report(payload: dict[str, Any], view: str) -> dict[str, Any]:
    """A ``drift_sources`` view as a drift report's results: its turn-0 interview and the
    view's after the played turns, scored against the neutral role-player without history.
    Its ``full`` view is the interview a ``persona_drift`` run of the same condition, set and
    seed makes (the play is seeded; BENCHMARKS.md checks they agree to the last digit), so a
    variant's drift run pairs with it without running the shipped configuration again."""
    from roleplay.cards.loader import load_card
    from roleplay.evaluation.characters import card_set_paths
    from roleplay.evaluation.metrics import compare_traits
    from roleplay.evaluation.questionnaire import load_interview_settings
    from roleplay.evaluation.report import character_json

    accuracy = load_interview_settings().accuracy
    cards = {
        card.name: card.personality.big_five.as_dict()
        for card in map(load_card, card_set_paths(payload["card_set"]))
    }
    summary = payload["summary"]
    scored = {
        0: summary["start"],
        payload["turns"]: summary["views"][f"{view}/neutral_without_history"],
    }
    return {
        "results": [
            {
                "condition": payload["condition"],
                "turns": turns,
                "characters": [
                    character_json(compare_traits(name, cards[name], scores, accuracy))
                    for name, scores in figures["scores"].items()
                ],
            }
            for turns, figures in scored.items()
        ]
    }


def variant_path(published: Path, name: str) -> Path:
    """Where a variant of ``published`` is: next to it, its name built on the published
    result's (``persona_drift_bundled.json`` -> ``persona_drift_bundled_no_note.json``)."""
    return published.with_name(name.replace("persona_drift", published.stem, 1) + ".json")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--published",
        type=Path,
        default=OUT_DIR / "persona_drift.json",
        help="the published run (or a card set's, e.g. persona_drift_bundled.json); its "
        "ablations are read from the same folder, named after it",
    )
    parser.add_argument("--resamples", type=int, default=5000)
    parser.add_argument(
        "--between",
        nargs=2,
        type=Path,
        action="append",
        metavar=("BASE", "OTHER"),
        help="compare two results (OTHER - BASE) at every condition and checkpoint both "
        "have, instead of the standard comparisons; given again with another card set's "
        "or conversation seed's pair, the characters of every pair are pooled (a "
        "character's conversations over seeds stay one bootstrap cluster)",
    )
    parser.add_argument(
        "--pool-with",
        type=Path,
        nargs="+",
        metavar="RESULT",
        help="also compare memory with the controller over the characters of the published "
        "result and each RESULT (other card sets' runs, e.g. persona_drift_bundled.json "
        "persona_drift_confirmation.json)",
    )
    parser.add_argument(
        "--pool-memory",
        metavar="VARIANT",
        help="with --pool-with: the variant whose memory rows match RESULT's configuration "
        "(e.g. persona_drift_remember_statements; default: the published run's)",
    )
    arguments = parser.parse_args(argv)
    if arguments.between:
        _compare_pairs(arguments.between, resamples=arguments.resamples)
        return
    if not arguments.published.is_file():
        print(
            f"error: {arguments.published}: no drift result; run benchmarks.persona_drift first",
            file=sys.stderr,
        )
        sys.exit(2)
    try:
        published = _read(arguments.published)
        variants = {
            name: _read(path)
            for name in VARIANTS
            if (path := variant_path(arguments.published, name)).is_file()
        }
        rows = standard_comparisons(published, variants, arguments.resamples)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    if arguments.pool_with:
        if arguments.pool_memory and arguments.pool_memory not in variants:
            print(f"error: --pool-memory {arguments.pool_memory}: no such result", file=sys.stderr)
            sys.exit(2)
        memories = variants[arguments.pool_memory] if arguments.pool_memory else published
        try:
            rows.extend(
                pooled_memory_against_controller(
                    published,
                    memories,
                    [_read(path) for path in arguments.pool_with],
                    arguments.resamples,
                )
            )
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)
    print(markdown(rows), end="")
    stem = f"{arguments.published.stem}_compare"
    if arguments.pool_with:  # named after the sets pooled, so one pooling never hides another
        stem += "_pooled_with_" + "_".join(
            path.stem.removeprefix("persona_drift_") for path in arguments.pool_with
        )
    (OUT_DIR / f"{stem}.json").write_text(json.dumps([row.__dict__ for row in rows], indent=2))
    print(f"wrote {write_plot(rows, OUT_DIR / f'{stem}.png')}")


def between(
    base: dict[str, Any], other: dict[str, Any], label: str, resamples: int
) -> list[PairedDifference]:
    """``other - base`` at every (condition, checkpoint) both results have."""
    base_results, other_results = _results(base), _results(other)
    return [
        paired_difference(
            base_results[key],
            other_results[key],
            f"{key[0]}: {label}, turn {key[1]}",
            resamples=resamples,
        )
        for key in sorted(set(base_results) & set(other_results))
    ]


def pooled(payloads: list[dict[str, Any]]) -> dict[str, Any]:
    """One result holding the characters of several results (card sets, conversation seeds),
    at every (condition, checkpoint) they all have. A character may be in several only with
    different conversation seeds: each conversation is then its own entry, keyed
    ``played`` = "name, seed S", and the character stays one bootstrap cluster."""
    runs = [_results(payload) for payload in payloads]
    seeds = [conversation_seed(payload) for payload in payloads]
    seen: set[tuple[int, str]] = set()
    runs_per_name: dict[str, int] = {}
    for run, seed in zip(runs, seeds, strict=True):
        names = {c["name"] for result in run.values() for c in result["characters"]}
        shared = sorted(name for played_seed, name in seen if played_seed == seed and name in names)
        if shared:
            raise ValueError(
                f"pooled runs share characters: {', '.join(shared)} (conversation seed {seed})"
            )
        seen |= {(seed, name) for name in names}
        for name in names:
            runs_per_name[name] = runs_per_name.get(name, 0) + 1

    def entry(character: dict[str, Any], seed: int) -> dict[str, Any]:
        if runs_per_name[character["name"]] == 1:
            return character
        return {**character, "played": f"{character['name']}, seed {seed}"}

    keys = set(runs[0]).intersection(*runs[1:])
    results = [
        {
            **runs[0][key],
            "characters": [
                entry(c, seed)
                for run, seed in zip(runs, seeds, strict=True)
                for c in run[key]["characters"]
            ],
        }
        for key in sorted(keys)
    ]
    return {"report": {"results": results}}


def _compare_pairs(paths: list[list[Path]], *, resamples: int) -> None:
    """``--between`` given once: two results; given again: each pair's characters pooled."""
    base_path, other_path = paths[0]
    label = f"{other_path.stem} - {base_path.stem}"
    if len(paths) > 1:
        label += f" and {len(paths) - 1} more pair{'s' if len(paths) > 2 else ''}, pooled"
    try:
        pairs = [(_read(base), _read(other)) for base, other in paths]
        for (base_file, other_file), (base, other) in zip(paths, pairs, strict=True):
            if conversation_seed(base) != conversation_seed(other):
                raise ValueError(
                    f"{other_file.name} played conversation seed {conversation_seed(other)}, "
                    f"{base_file.name} seed {conversation_seed(base)}: not a pair"
                )
        base = pooled([base for base, _ in pairs])
        other = pooled([other for _, other in pairs])
        rows = between(base, other, label, resamples)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    if not rows:
        print(f"error: {label}: no condition and checkpoint in common", file=sys.stderr)
        sys.exit(2)
    print(markdown(rows), end="")


if __name__ == "__main__":
    main()
