"""Does the character stay in character? Persona fidelity of the bundled characters.

Every bundled character is interviewed with the IPIP-50 items under each available
condition (prompt; prompt + controller; prompt + controller + memory) and scored with each
available method (expected-likert, grammar, likelihood); see docs/evaluation.md. Nothing is
sampled, so the numbers repeat exactly on the same model and engine settings.

The run uses a fresh ROLEPLAY_HOME (a temporary folder), so the memory condition recalls the
cards' seed memories only, not whatever the user's own chats left in memory; the model
conversion cache is shared with the normal home. Output: ``benchmarks/out/
persona_fidelity.json`` and ``.png``.

    .venv/bin/python benchmarks/persona_fidelity.py               # ~10-20 min on 2 busy cores
    .venv/bin/python benchmarks/persona_fidelity.py --methods likelihood --conditions prompt
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable as a script as well as with -m
    sys.path.insert(0, str(ROOT))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--characters", default=None, help="comma-separated (default: bundled)")
    parser.add_argument("--methods", default=None, help="comma-separated (default: available)")
    parser.add_argument("--conditions", default=None, help="comma-separated (default: available)")
    parser.add_argument("--model", default=None, help="model reference (default: embedded)")
    parser.add_argument(
        "--keep-home", action="store_true", help="use the normal ROLEPLAY_HOME (its memories)"
    )
    return parser.parse_args()


def main() -> None:
    arguments = _arguments()
    from roleplay import paths

    if arguments.keep_home:
        run(arguments)
        return
    # Share the converted model, isolate everything else (memory, sessions, vectors).
    os.environ["ROLEPLAY_MODELS_DIR"] = str(paths.models_dir())
    home = tempfile.mkdtemp(prefix="roleplay-bench-home-")
    os.environ["ROLEPLAY_HOME"] = home
    try:
        run(arguments)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run(arguments: argparse.Namespace) -> None:
    from roleplay import paths

    paths.configure_library_caches()

    from rich.console import Console

    from benchmarks.common import OUT_DIR, write_result
    from roleplay.engine.transformers_engine import TransformersEngine
    from roleplay.evaluation.characters import bundled_character_paths, resolve_characters
    from roleplay.evaluation.persona import evaluate_persona
    from roleplay.evaluation.plan import (
        Condition,
        Method,
        parse_conditions,
        parse_methods,
        unavailable_reason,
    )
    from roleplay.evaluation.report import (
        PLOT_NAME,
        character_table,
        report_json,
        summary_table,
        trait_table,
        write_plot,
    )

    console = Console(width=120)
    cards = (
        resolve_characters([arguments.characters])
        if arguments.characters
        else bundled_character_paths()
    )
    methods = (
        parse_methods([arguments.methods])
        if arguments.methods
        else [m for m in Method if unavailable_reason(m) is None]
    )
    conditions = (
        parse_conditions([arguments.conditions])
        if arguments.conditions
        else [c for c in Condition if unavailable_reason(c) is None]
    )
    skipped = [
        f"{item.value}: {unavailable_reason(item)}"
        for item in (*Method, *Condition)
        if unavailable_reason(item)
    ]
    started = time.perf_counter()
    engine = TransformersEngine.load(arguments.model)
    load_seconds = time.perf_counter() - started
    console.print(f"loaded {engine.model_id} in {load_seconds:.1f} s")
    report = evaluate_persona(engine, cards, methods, conditions)
    payload = report_json(report)
    payload["engine"] = {
        "backend": engine.backend_name,
        "load_seconds": round(load_seconds, 2),
    }
    payload["skipped"] = skipped
    path = write_result("persona_fidelity", payload)
    write_plot(report, OUT_DIR / PLOT_NAME)
    console.print(summary_table(report))
    console.print(trait_table(report))
    for result in report.results:
        console.print(character_table(result))
    for line in skipped:
        console.print(f"skipped {line}")
    console.print(f"{report.seconds:.0f} s; wrote {path} and {OUT_DIR / PLOT_NAME}")


if __name__ == "__main__":
    main()
