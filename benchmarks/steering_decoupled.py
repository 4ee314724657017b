"""Strengths that cancel the steering vectors' cross-talk, fitted on cards no fidelity figure
is reported on (issue 17): the fit ``roleplay/control/data/crosstalk.yaml`` holds.

``benchmarks/steering_crosstalk.py`` showed that each trait's vector, steered alone, holds
its own trait and moves the other traits' interview answers about as much. This tries the
obvious correction, in three steps:

1. **Fit** on the bundled (tuning) cards, or on those and the fitting set (``--fit-sets``):
   interview them with the prompt alone and with each Big Five trait steered alone at the
   card's strength (the others at 0). For measured trait U and steered trait S, ``M[U, S]``
   is the least-squares slope, over the cards, of (measured U with S alone - measured U with
   the prompt alone) on the card's strength of S: what one unit of S does to U's answers.
2. **Solve** per card (every card of the bundled and held-out sets; the bundled cards are the
   likelihood panel): the strengths ``s`` whose summed effects match what each trait's own
   vector does alone at the card's strengths ``s0``: ``s = argmin |M s - diag(M) s0|^2 +
   lambda |s - s0|^2`` with ``lambda = RIDGE * mean(diag(M)^2)`` (the ridge keeps a noisy
   fit from sending the strengths far from the card's), within each attribute's fluency
   bound; with ``--floor F``, each trait keeps at least F of its own effect on the card's
   side, and with ``--own-share S`` each vector keeps at least S of the card's own strength
   (``roleplay/control/decoupling.py``).
3. **Interview** the given card sets with the controller at the cards' own strengths and at
   the solved ones, and compare them pair by pair: Acc(Dim) per trait and over all traits,
   the difference with a 95 % bootstrap over characters.

    python -m benchmarks.steering_decoupled [--fit-sets bundled[,fitting]]
        [--sets evaluation,confirmation] [--floor F] [--own-share S] [--threads 2]
    python -m benchmarks.steering_decoupled --from-result RESULT [--floor F] [--own-share S]
        # solve only

``--fit-sets`` names the cards the fit is made on (default: the five bundled cards; the
sixteen cards of ``roleplay/evaluation/data/fitting_characters`` were written for it, in a
balanced design that makes every slope independent of the others); ``--sets ""`` fits only.

Output: the tables on stdout, the fit as a ``crosstalk.yaml`` entry, and
``benchmarks/out/steering_decoupled[_fit_<sets>][_floor_<F>][_own_share_<S>].json`` (the
fitted ``M`` with
each slope's standard error, each card's strengths before and after, both interviews'
reports).
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from roleplay.control.config import SteeringConfig

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable as a script as well as with -m
    sys.path.insert(0, str(ROOT))

from benchmarks.common import cluster_bootstrap_interval  # noqa: E402
from benchmarks.persona_drift_targets import TRAITS  # noqa: E402

RIDGE = 0.25  # lambda as a share of the mean squared own effect; fixed before any run
Matrix = list[list[float]]  # rows: measured trait U, columns: steered trait S (TRAITS order)


def fit_crosstalk(
    baseline: Mapping[str, Mapping[str, float]],
    alone: Mapping[str, Mapping[str, Mapping[str, float]]],
    strengths: Mapping[str, Mapping[str, float]],
) -> Matrix:
    """``M[U][S]``: slope of (measured U with S alone - measured U, prompt alone) on the
    card's strength of S. ``baseline``: character -> trait -> measured score (prompt alone);
    ``alone``: steered trait -> character -> trait -> measured score; ``strengths``:
    character -> trait -> the card's strength."""
    import numpy as np

    names = sorted(baseline)
    matrix = np.zeros((len(TRAITS), len(TRAITS)))
    for column, steered in enumerate(TRAITS):
        x = np.array([strengths[n].get(steered, 0.0) for n in names])
        x = x - x.mean()
        if not np.any(x):
            raise SystemExit(f"the tuning cards do not vary in {steered}: nothing to fit")
        for row, measured in enumerate(TRAITS):
            y = np.array([alone[steered][n][measured] - baseline[n][measured] for n in names])
            matrix[row, column] = float(x @ (y - y.mean()) / (x @ x))
    return [[round(float(v), 4) for v in row] for row in matrix]


def slope_standard_errors(
    baseline: Mapping[str, Mapping[str, float]],
    alone: Mapping[str, Mapping[str, Mapping[str, float]]],
    strengths: Mapping[str, Mapping[str, float]],
) -> Matrix:
    """The ordinary least-squares standard error of each slope of :func:`fit_crosstalk`
    (same arguments): how far the fit could be from the vectors' true cross-talk."""
    import numpy as np

    names = sorted(baseline)
    if len(names) < 3:
        raise SystemExit("a slope's standard error needs at least three fitting cards")
    errors = np.zeros((len(TRAITS), len(TRAITS)))
    for column, steered in enumerate(TRAITS):
        x = np.array([strengths[n].get(steered, 0.0) for n in names])
        x = x - x.mean()
        for row, measured in enumerate(TRAITS):
            y = np.array([alone[steered][n][measured] - baseline[n][measured] for n in names])
            y = y - y.mean()
            slope = float(x @ y / (x @ x))
            residual = y - slope * x
            variance = float(residual @ residual) / (len(names) - 2)
            errors[row, column] = math.sqrt(variance / float(x @ x))
    return [[round(float(v), 4) for v in row] for row in errors]


def crosstalk_entry(
    model_id: str,
    matrix: Matrix,
    config: SteeringConfig,
    attribute_hashes: Mapping[str, str],
    fitted: str,
    floor: float = 0.0,
    own_share: float = 0.0,
) -> str:
    """The fit as one model's entry of ``roleplay/control/data/crosstalk.yaml`` (under
    ``models:``): the steering it was measured with (``config``, the Big Five attribute files'
    data hashes), the ridge, the floor and own share (when set) and the matrix."""
    hashes = ", ".join(f'{t}: "{attribute_hashes[t]}"' for t in TRAITS)
    fractions = ", ".join(f"{f:g}" for f in config.layer_fractions)
    lines = [
        f"  {model_id}:",
        f'    fitted: "{fitted}"',
        "    steering:",
        f"      layer_fractions: [{fractions}]",
        f"      method: {config.method}",
        f"      unit_relative_norm: {config.unit_relative_norm:g}",
        "      # each Big Five attribute file's data hash (its pairs; AttributeSpec.data_hash)",
        f"      attributes: {{{hashes}}}",
        f"    ridge: {RIDGE:g}",
        *([f"    floor: {floor:g}"] if floor else []),
        *([f"    own_share: {own_share:g}"] if own_share else []),
        "    matrix:",
    ]
    for measured, row in zip(TRAITS, matrix, strict=True):
        cells = ", ".join(f"{steered}: {value}" for steered, value in zip(TRAITS, row, strict=True))
        lines.append(f"      {measured}: {{{cells}}}")
    return "\n".join(lines)


def result_name(fit_sets: Sequence[str], floor: float = 0.0, own_share: float = 0.0) -> str:
    """``steering_decoupled`` for the bundled cards' fit, else ``..._fit_<sets>``, then
    :func:`solve_suffix`."""
    name = "steering_decoupled"
    if list(fit_sets) != ["bundled"]:
        name += "_fit_" + "_".join(fit_sets)
    return name + solve_suffix(floor, own_share)


def solve_suffix(floor: float, own_share: float) -> str:
    """What a solve's options add to a result's name: ``_floor_<F>``, ``_own_share_<S>``."""
    return (f"_floor_{floor:g}" if floor else "") + (
        f"_own_share_{own_share:g}" if own_share else ""
    )


def decoupled_strengths(
    matrix: Matrix,
    card: Mapping[str, float],
    bounds: Mapping[str, tuple[float, float]],
    floor: float = 0.0,
    own_share: float = 0.0,
) -> dict[str, float]:
    """The strengths whose summed effects match each trait's own effect at the card's
    strengths (ridge toward the card's), within ``bounds`` (trait -> (low, high)), each
    trait keeping ``floor`` of its own effect and each vector ``own_share`` of the card's
    strength: the controller's solve (``roleplay.control.decoupling``) on this run's fit."""
    from roleplay.control.decoupling import Crosstalk, decouple

    fit = Crosstalk(
        model_id="",
        matrix=tuple(tuple(row) for row in matrix),
        ridge=RIDGE,
        layer_fractions=(),
        method="",
        unit_relative_norm=0.0,
        floor=floor,
        own_share=own_share,
    )  # settings unchecked here: this run's own fit, on this run's vectors
    return decouple(card, fit, lambda t, v: bounds[t][1] if v > 0 else -bounds[t][0])


def card_strengths(paths: Sequence[Path]) -> dict[str, dict[str, float]]:
    """Each card's Big Five strengths in force, as chat resolves them (clipped to bounds)."""
    from roleplay.cards.loader import load_card
    from roleplay.control.attributes import fluency_bounds, load_attributes
    from roleplay.control.config import load_config
    from roleplay.control.strengths import resolve_strengths

    specs = load_attributes()
    config = load_config()
    result = {}
    for path in paths:
        card = load_card(path)
        resolved = resolve_strengths(
            card, None, specs, max_strength=config.max_strength, bounds=fluency_bounds(specs)
        )
        result[card.name] = {t: resolved.strengths.get(t, 0.0) for t in TRAITS}
    return result


def trait_bounds() -> dict[str, tuple[float, float]]:
    from roleplay.control.attributes import fluency_bounds, load_attributes
    from roleplay.control.config import load_config
    from roleplay.control.strengths import strength_bound

    specs = load_attributes()
    bounds = fluency_bounds(specs)
    cap = load_config().max_strength
    return {
        t: (-strength_bound(t, -1.0, cap, bounds), strength_bound(t, 1.0, cap, bounds))
        for t in TRAITS
    }


def _estimates(report: Any, condition: str) -> dict[str, dict[str, float]]:
    from roleplay.evaluation.report import report_json

    payload = report_json(report)
    [result] = [r for r in payload["results"] if r["condition"] == condition]
    return {
        c["name"]: {t: float(c["traits"][t]["estimate"]) for t in TRAITS}
        for c in result["characters"]
    }


def _outcomes(payload: dict[str, Any]) -> dict[tuple[str, str], bool]:
    """(character, trait) -> on the card's side, for the counted pairs."""
    [result] = [r for r in payload["results"] if r["condition"] == "controller"]
    return {
        (c["name"], t): bool(c["traits"][t]["correct"])
        for c in result["characters"]
        for t in TRAITS
        if c["traits"][t]["counted"]
    }


def compare(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Acc(Dim) at the cards' strengths and at the solved ones, per trait and over all,
    with the paired difference's 95 % bootstrap over characters."""
    first, second = _outcomes(before), _outcomes(after)
    if set(first) != set(second):
        raise SystemExit("the two interviews counted different (character, trait) pairs")
    rows = []
    for trait in [*TRAITS, "all"]:
        keys = [k for k in sorted(first) if trait in ("all", k[1])]
        differences = [float(second[k]) - float(first[k]) for k in keys]
        low, high = cluster_bootstrap_interval(differences, [k[0] for k in keys])
        rows.append(
            {
                "trait": trait,
                "n": len(keys),
                "before": round(sum(first[k] for k in keys) / len(keys), 3),
                "after": round(sum(second[k] for k in keys) / len(keys), 3),
                "difference": round(sum(differences) / len(keys), 3),
                "interval": [round(low, 3), round(high, 3)],
            }
        )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| trait | n | Acc(Dim) cards' strengths -> decoupled | difference [95 %] |",
        "|---|---|---|---|",
    ]
    for row in rows:
        low, high = row["interval"]
        lines.append(
            f"| {row['trait']} | {row['n']} | {row['before']:.2f} -> {row['after']:.2f} | "
            f"{row['difference']:+.2f} [{low:+.2f}, {high:+.2f}] |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--fit-sets",
        default="bundled",
        help="the cards the cross-talk is fitted on: bundled (the tuning cards) and/or "
        "fitting (the sixteen cards written for it); never a held-out set",
    )
    parser.add_argument(
        "--sets",
        default="evaluation,confirmation",
        help='the held-out sets interviewed at both strengths ("": fit only)',
    )
    parser.add_argument(
        "--floor",
        type=float,
        default=0.0,
        help="the least share of its own effect each trait keeps, net of the cross-talk "
        "(roleplay/control/decoupling.py; default 0: plain least squares)",
    )
    parser.add_argument(
        "--own-share",
        type=float,
        default=0.0,
        help="the least share of the card's own strength each vector keeps, on the card's "
        "side (roleplay/control/decoupling.py; default 0: none)",
    )
    parser.add_argument(
        "--from-result",
        type=Path,
        help="solve on the fit of an earlier result instead of fitting (no model is loaded): "
        "writes <its name>_floor_<F>[_own_share_<S>].json with every bundled and held-out "
        "card's strengths",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--resamples", type=int, default=2000)
    arguments = parser.parse_args(argv)
    if not 0 <= arguments.floor <= 1:
        parser.error("--floor: a share from 0 to 1")
    if not 0 <= arguments.own_share <= 1:
        parser.error("--own-share: a share from 0 to 1")
    if arguments.from_result is not None:
        solve_only(arguments.from_result, arguments.floor, arguments.own_share)
        return
    from benchmarks.common import scratch_home

    with scratch_home():
        run(arguments)


def solve_only(source: Path, floor: float, own_share: float = 0.0) -> Path:
    """Every bundled and held-out card's strengths solved on ``source``'s fit at ``floor``
    and ``own_share``, written beside it as ``<source>_floor_<floor>[_own_share_<S>].json``
    (for ``persona_drift --decoupled-strengths``)."""
    import json

    from benchmarks.common import write_result
    from roleplay.evaluation.characters import FROZEN_CARD_SET_DIRS, card_set_paths

    try:
        earlier = json.loads(source.read_text())
        matrix = earlier["crosstalk"]["matrix"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SystemExit(
            f"--from-result {source}: not a steering_decoupled result ({error})"
        ) from None
    names = ["bundled", *FROZEN_CARD_SET_DIRS]
    cards = card_strengths([path for name in names for path in card_set_paths(name)])
    bounds = trait_bounds()
    crosstalk = {k: v for k, v in earlier["crosstalk"].items() if k != "crosstalk_yaml"}
    if "fitted" not in crosstalk:
        from benchmarks.common import crosstalk_fit_used

        crosstalk["fitted"] = crosstalk_fit_used("", False, source)
    payload = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "solved_from": str(source),
        "ridge": RIDGE,
        "floor": floor,
        "own_share": own_share,
        "crosstalk": crosstalk,
        "strengths": {
            "cards": cards,
            "decoupled": {
                name: decoupled_strengths(matrix, strengths, bounds, floor, own_share)
                for name, strengths in cards.items()
            },
        },
    }
    # the plain solve keeps its old name (_floor_0) so that it never overwrites its source
    path = write_result(source.stem + (solve_suffix(floor, own_share) or "_floor_0"), payload)
    print(
        f"solved {len(cards)} cards at floor {floor:g}, own share {own_share:g} on {source}; "
        f"wrote {path}"
    )
    return path


def run(arguments: argparse.Namespace) -> None:
    from roleplay import paths

    paths.configure_library_caches()
    from benchmarks.common import OUT_DIR, write_result
    from roleplay.application import BackendOptions, load_engine
    from roleplay.control.attributes import load_attributes
    from roleplay.control.config import load_config
    from roleplay.evaluation.characters import (
        FROZEN_CARD_SET_DIRS,
        bundled_character_paths,
        card_set_paths,
    )
    from roleplay.evaluation.interview import Interviewer
    from roleplay.evaluation.persona import evaluate_persona
    from roleplay.evaluation.plan import Condition, Method
    from roleplay.evaluation.report import report_json

    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    engine = load_engine(BackendOptions(threads=arguments.threads))
    panel = bundled_character_paths()

    def interview(
        cards: Sequence[Path], condition: Condition, interviewer: Interviewer, resamples: int
    ) -> Any:
        return evaluate_persona(
            engine,
            cards,
            [Method.LIKELIHOOD],
            [condition],
            interviewer=interviewer,
            reference_paths=panel,
            resamples=resamples,
        )

    # 1. Fit on the tuning cards (and the fitting set) only.
    fit_sets = [name.strip() for name in arguments.fit_sets.split(",") if name.strip()]
    held_out = sorted(set(fit_sets) & set(FROZEN_CARD_SET_DIRS))
    if held_out or not fit_sets:
        raise SystemExit(f"--fit-sets: fit on bundled and/or fitting, not {held_out or 'none'}")
    fitting_cards = [path for name in fit_sets for path in card_set_paths(name)]
    print(f"fitting the cross-talk on {len(fitting_cards)} cards ({', '.join(fit_sets)})")
    baseline = _estimates(
        interview(fitting_cards, Condition.PROMPT, Interviewer(engine), 0), "prompt"
    )
    alone = {
        trait: _estimates(
            interview(
                fitting_cards,
                Condition.CONTROLLER,
                Interviewer(engine, steered_traits=[trait]),
                0,
            ),
            "controller",
        )
        for trait in TRAITS
    }
    tuning_strengths = card_strengths(fitting_cards)
    matrix = fit_crosstalk(baseline, alone, tuning_strengths)
    errors = slope_standard_errors(baseline, alone, tuning_strengths)
    fitted_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    specs = load_attributes()
    fitted = (
        f"{fitted_at}, benchmarks/out/"
        f"{result_name(fit_sets, arguments.floor, arguments.own_share)}.json, "
        f"{len(fitting_cards)} cards "
        f"({', '.join(fit_sets)}), {len(fitting_cards)} points per slope"
    )
    entry = crosstalk_entry(
        engine.model_id,
        matrix,
        load_config(),
        {t: specs[t].data_hash for t in TRAITS},
        fitted,
        arguments.floor,
        arguments.own_share,
    )
    print(f"the fit, for crosstalk.yaml:\n{entry}\n", flush=True)
    # 2. Solve per card of every set, panel included (its zero point must come from the same
    # steering), so that `persona_drift --decoupled-strengths` can run any set on this fit.
    sets = [name.strip() for name in arguments.sets.split(",") if name.strip()]
    solved_sets = ["bundled", *FROZEN_CARD_SET_DIRS]
    before_strengths = card_strengths([p for name in solved_sets for p in card_set_paths(name)])
    bounds = trait_bounds()
    solved = {
        name: decoupled_strengths(matrix, strengths, bounds, arguments.floor, arguments.own_share)
        for name, strengths in before_strengths.items()
    }
    # 3. Interview the evaluated sets both ways.
    reports: dict[str, Any] = {}
    comparisons: dict[str, list[dict[str, Any]]] = {}
    for name in sets:
        cards = card_set_paths(name)
        before = report_json(
            interview(
                cards,
                Condition.CONTROLLER,
                Interviewer(engine, decouple_traits=False),  # the cards' own strengths
                arguments.resamples,
            )
        )
        after = report_json(
            interview(
                cards,
                Condition.CONTROLLER,
                Interviewer(engine, strengths_by_character=solved),
                arguments.resamples,
            )
        )
        reports[name] = {"cards' strengths": before, "decoupled": after}
        comparisons[name] = compare(before, after)
        print(f"{name} set:\n{markdown(comparisons[name])}\n", flush=True)
    if len(sets) > 1:
        pooled_before = _pool([reports[n]["cards' strengths"] for n in sets])
        pooled_after = _pool([reports[n]["decoupled"] for n in sets])
        comparisons["pooled"] = compare(pooled_before, pooled_after)
        print(f"pooled ({', '.join(sets)}):\n{markdown(comparisons['pooled'])}", flush=True)
    payload = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "engine": {"model": engine.model_id, "backend": engine.backend_name},
        "threads": arguments.threads,
        "load_average": [load_before, os.getloadavg()[0]],
        "ridge": RIDGE,
        "floor": arguments.floor,
        "own_share": arguments.own_share,
        "fit_sets": fit_sets,
        "fit_cards": sorted(tuning_strengths),
        "crosstalk": {
            "traits": list(TRAITS),
            "matrix": matrix,
            "standard_errors": errors,
            "fitted": fitted,
            "crosstalk_yaml": entry,
        },
        "strengths": {"cards": before_strengths, "decoupled": solved},
        "comparisons": comparisons,
        "reports": reports,
        "seconds": round(time.perf_counter() - started, 1),
    }
    path = write_result(result_name(fit_sets, arguments.floor, arguments.own_share), payload)
    print(f"{payload['seconds']:.0f} s; wrote {path} ({OUT_DIR})")


def _pool(payloads: list[dict[str, Any]]) -> dict[str, Any]:
    """One report whose controller result holds every set's characters."""
    characters = [
        c
        for payload in payloads
        for r in payload["results"]
        if r["condition"] == "controller"
        for c in r["characters"]
    ]
    return {"results": [{"condition": "controller", "characters": characters}]}


if __name__ == "__main__":
    main()
