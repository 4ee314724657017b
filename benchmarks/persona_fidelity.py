"""Does the character stay in character? Persona fidelity on the tuning and evaluation sets.

Two card sets are interviewed with the IPIP-50 items under each condition (prompt; prompt +
controller; prompt + controller + memory) and scored with each method the backend offers
(expected-likert and likelihood on llama.cpp; grammar needs transformers): the bundled
characters, which prompts, steering and the likelihood reference are tuned on, and the frozen
evaluation set (roleplay/evaluation/data/evaluation_characters), written before any tuning
and never tuned on. The likelihood method's zero point comes from the bundled characters in
both runs, so the evaluation set's figures use nothing calibrated on it. Every figure has a
95 % bootstrap interval over characters and items. Nothing is sampled, so the point figures
repeat exactly on the same model, backend and build.

The run uses a fresh ROLEPLAY_HOME (a temporary folder), so the memory condition recalls the
cards' seed memories only. Output: ``benchmarks/out/persona_fidelity.json`` and ``.png``.

    .venv/bin/python -m benchmarks.persona_fidelity              # ~15 min on 2 cores
    .venv/bin/python -m benchmarks.persona_fidelity --quick      # prompt condition only
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable as a script as well as with -m
    sys.path.insert(0, str(ROOT))

SETS = ("bundled", "evaluation")
SET_LABELS = {"bundled": "tuning set (bundled)", "evaluation": "evaluation set (frozen)"}


def _arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated card sets")
    parser.add_argument("--methods", default=None, help="comma-separated (default: available)")
    parser.add_argument("--conditions", default=None, help="comma-separated (default: available)")
    parser.add_argument("--model", default=None, help="model reference (default: embedded)")
    parser.add_argument("--backend", default="auto", help="auto, llama.cpp or transformers")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="the prompt condition only")
    parser.add_argument(
        "--steered-traits",
        default=None,
        help="steer only these Big Five traits, comma-separated (a diagnostic; default: all)",
    )
    return parser.parse_args(argv)


def steered_traits(value: str | None) -> list[str] | None:
    """``--steered-traits`` as a list of Big Five traits (None: all of them steered)."""
    if value is None:
        return None
    from roleplay.cards.model import BIG_FIVE_TRAITS

    traits = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in traits if name not in BIG_FIVE_TRAITS]
    if unknown or not traits:
        raise SystemExit(
            f"--steered-traits: expected some of {', '.join(BIG_FIVE_TRAITS)}, got {value!r}"
        )
    return traits


def result_name(arguments: argparse.Namespace) -> str:
    """``persona_fidelity``, or ``persona_fidelity_steered_<traits>`` for the diagnostic, so
    that it never overwrites the published run's result."""
    steered = steered_traits(arguments.steered_traits)
    return "persona_fidelity" + ("_steered_" + "_".join(steered) if steered else "")


def main(argv: list[str] | None = None) -> None:
    arguments = _arguments(argv)
    from benchmarks.common import scratch_home

    # Share the converted model, isolate everything else (memory, sessions, vectors).
    with scratch_home():
        run(arguments)


def run(arguments: argparse.Namespace) -> None:
    from roleplay import paths

    paths.configure_library_caches()

    from rich.console import Console

    from benchmarks.common import OUT_DIR, write_result
    from roleplay.application import BackendOptions, load_engine
    from roleplay.cli.eval_commands import rows_progress
    from roleplay.engine.scorer import scorer_for
    from roleplay.evaluation.characters import bundled_character_paths, card_set_paths
    from roleplay.evaluation.interview import Interviewer
    from roleplay.evaluation.persona import evaluate_persona
    from roleplay.evaluation.plan import (
        Condition,
        Method,
        parse_conditions,
        parse_methods,
        unavailable_reason,
    )
    from roleplay.evaluation.report import report_json, summary_table, trait_table, write_plot

    console = Console(width=120)
    sets = [name.strip() for name in arguments.sets.split(",") if name.strip()]
    card_sets = {name: card_set_paths(name) for name in sets}
    methods = (
        parse_methods([arguments.methods])
        if arguments.methods
        else [m for m in Method if unavailable_reason(m) is None]
    )
    if arguments.quick:
        conditions = [Condition.PROMPT]
    elif arguments.conditions:
        conditions = parse_conditions([arguments.conditions])
    else:
        conditions = [c for c in Condition if unavailable_reason(c) is None]
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    engine = load_engine(
        BackendOptions(backend=arguments.backend, model=arguments.model, threads=arguments.threads)
    )
    load_seconds = time.perf_counter() - started
    skipped = [f"{m.value}: {unavailable_reason(m)}" for m in Method if unavailable_reason(m)]
    if Method.GRAMMAR in methods and not scorer_for(engine).supports_grammar_method:
        methods = [m for m in methods if m is not Method.GRAMMAR]
        skipped.append("grammar: needs the transformers backend")
    console.print(f"loaded {engine.model_id} ({engine.backend_name}) in {load_seconds:.1f} s")
    steered = steered_traits(arguments.steered_traits)
    name_of_result = result_name(arguments)
    reports: dict[str, Any] = {}
    for name, cards in card_sets.items():
        with rows_progress(sys.stderr.isatty()) as progress:
            report = evaluate_persona(
                engine,
                cards,
                methods,
                conditions,
                interviewer=Interviewer(
                    engine,
                    rows_done=progress.advance if progress else None,
                    steered_traits=steered,
                ),
                progress=progress,
                reference_paths=bundled_character_paths(),
                resamples=arguments.resamples,
            )
        reports[name] = report_json(report)
        write_plot(report, OUT_DIR / f"{name_of_result}_{name}.png")
        console.print(f"[bold]{SET_LABELS.get(name, name)}[/]")
        console.print(summary_table(report))
        console.print(trait_table(report))
    payload = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "steered_traits": list(steered) if steered is not None else None,
        "engine": {
            "model": engine.model_id,
            "backend": engine.backend_name,
            "threads": arguments.threads,
            "load_seconds": round(load_seconds, 2),
        },
        "load_average": [load_before, os.getloadavg()[0]],
        "seconds": round(time.perf_counter() - started, 1),
        "skipped": skipped,
        "sets": reports,
    }
    path = write_result(name_of_result, payload)
    for line in skipped:
        console.print(f"skipped {line}")
    console.print(f"{payload['seconds']:.0f} s; wrote {path} and {OUT_DIR}/{name_of_result}_*.png")


def _cell(value: float | None, bounds: list[float] | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    if not bounds:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{bounds[0]:.{digits}f}, {bounds[1]:.{digits}f}]"


def markdown(payload: dict[str, Any]) -> str:
    """BENCHMARKS.md's tables from this script's JSON result."""
    from benchmarks.common import machine_line

    engine = payload["engine"]
    load = payload.get("load_average", [None, None])
    lines = [
        f"Machine: {machine_line(payload)}; "
        f"{engine['model']} on {engine['backend']} ({engine['threads']} threads); "
        f"{payload['date']}; load {load[0]:.1f} -> {load[1]:.1f}; {payload['seconds']:.0f} s; "
        f"`{payload['command']}`. Brackets: 95 % bootstrap intervals over characters and "
        "items (2,000 resamples); n = counted (character, trait) pairs.",
        "",
    ]
    traits = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")
    for name, report in payload["sets"].items():
        characters = len(report["characters"])
        lines += [
            f"**{SET_LABELS.get(name, name)}**, {characters} characters:",
            "",
            "| method | condition | n | MAE | Acc(Dim) | Acc(Full) |"
            + "".join(f" {t[0].upper()} |" for t in traits),
            "|---|---|---|---|---|---|" + "---|" * len(traits),
        ]
        for result in report["results"]:
            intervals = result.get("intervals") or {}
            trait_cells = "".join(
                f" {_cell(result['trait_acc'][t], (intervals.get('trait_acc') or {}).get(t))} |"
                for t in traits
            )
            lines.append(
                f"| {result['method']} | {result['condition']} | {result['counted_dims']} | "
                f"{_cell(result['mae'], intervals.get('mae'), 3)} | "
                f"{_cell(result['acc_dim'], intervals.get('acc_dim'))} | "
                f"{_cell(result['acc_full'], None)} |{trait_cells}"
            )
        lines.append("")
    for line in payload.get("skipped", []):
        lines.append(f"Skipped: {line}.")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    main()
