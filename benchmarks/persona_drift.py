"""Does the character stay in character over a long conversation? Persona fidelity at turn 0
and after N turns of the scripted drift conversation (issue 17).

The frozen evaluation set (roleplay/evaluation/data/evaluation_characters, never tuned on) is
interviewed with the likelihood method at the start of a conversation and after N turns of
``roleplay/evaluation/data/drift_conversation.yaml`` (flattery, hostility, off-topic
requests, "are you an AI?", the user's chatty style), played through the chat path with
each condition's parts (steering on every reply; memory recalled and written to a scratch
store). The published run: 10 and 20 turns, conditions controller and memory. The
likelihood zero point is the bundled panel's at turn 0 in every column, so a change with
turns is the characters', not the calibration's. 95 % bootstrap intervals over characters
and items. Replies are sampled with fixed seeds (seed + turn).

    python -m benchmarks.persona_drift --after-turns 10,20 --conditions controller,memory
    python -m benchmarks.persona_drift --quick      # 2 characters, 2 turns

Ablations, each written under its own name so the published run stays:
``--no-character-note`` plays and interviews without the character's note (the card's traits
re-asserted near the end of the chat): ``persona_drift_no_note``; ``--remember POLICY``
stores what memory_defaults.yaml's policy of that name keeps (``exchange``: each exchange
with the character's reply verbatim, the policy before issue 17; ``user``: the user's whole
message; ``statements``: their statements without questions and requests):
``persona_drift_remember_<policy>``; ``--memory-pools`` recalls three of the character's
own memories and, apart, two of what the user said, instead of one pool of three:
``..._memory_pools``; ``--memory-position before_character`` puts the recalled memories
first in the system block, before the card's own text: ``..._memories_first``;
``--recalled-memories K`` recalls K memories a turn instead of chat's 3: ``..._recall_K``;
``--steering-combination decorrelated``: ``..._decorrelated``; ``--steering-scope reply``
steers only the tokens the character writes (the prompt, its earlier replies included, is
computed unsteered): ``..._reply_only``; ``--max-combined-strength B`` bounds the norm of
the traits' summed vector at B units instead of steering.yaml's: ``..._combined_B``;
``--note-depth D`` puts the character's note D messages from the end instead of chat's 1:
``..._note_depth_D``; ``--note-parts stay,lines,words,voice`` has the written note say those
of its parts (``roleplay.prompting.character_note.NOTE_PARTS``; this one is chat's note before
2026-12-07, with its closing sentence): ``..._note_<parts>``; ``--decouple-traits on|off``
steers the Big Five at the strengths that cancel the vectors' cross-talk, or at the cards',
where steering.yaml says otherwise:
``..._decouple_traits_<on|off>``; ``--reply-half-life H`` decays the steering vectors over
each reply, halving every H tokens (steering.yaml's ``reply_half_life``): ``..._half_life_H``.
``--card-set bundled`` runs on the five bundled characters (the tuning set) instead of the
frozen evaluation set, so that a variant can be chosen there before it is reported on the
evaluation set: ``persona_drift_bundled...``.
``benchmarks/persona_drift_compare.py`` pairs two results character by character.

Output: ``benchmarks/out/persona_drift.json`` and ``persona_drift.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable as a script as well as with -m
    sys.path.insert(0, str(ROOT))


CARD_SET_NAMES = {
    "evaluation": "frozen evaluation set",
    "confirmation": "frozen confirmation set (written to confirm the evaluation set's choices)",
    "replication": "frozen replication set (written after every choice; only reports)",
    "bundled": "bundled tuning set (in-sample zero point: the panel is the set itself)",
}
# A result's name for a memory position other than the default.
POSITION_SUFFIXES = {"before_character": "_memories_first", "after_character": "_memories_last"}


def _arguments(argv: list[str] | None = None) -> argparse.Namespace:
    from benchmarks.common import add_decouple_traits_argument
    from roleplay.control.config import SCOPES
    from roleplay.control.vectors import COMBINATIONS
    from roleplay.evaluation.characters import CARD_SETS
    from roleplay.prompting.builder import DEFAULT_MEMORY_POSITION, MEMORY_POSITIONS
    from roleplay.prompting.character_note import MAX_NOTE_DEPTH

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--after-turns", default="5,10,20")
    parser.add_argument("--conditions", default="prompt,controller,memory")
    parser.add_argument(
        "--card-set",
        choices=CARD_SETS,
        default="evaluation",
        help="the characters: the frozen evaluation set (published), the bundled tuning set, "
        "where a variant can be chosen before it is reported on the evaluation set, or the "
        "frozen confirmation set, or the frozen replication set, written after every choice "
        "and only reporting; another set than evaluation adds _<set> to the result's name",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="2 characters, 2 turns, memory")
    parser.add_argument(
        "--no-character-note",
        action="store_true",
        help="ablation: no character's note; writes persona_drift_no_note.json",
    )
    parser.add_argument(
        "--remember",
        choices=("statements", "user", "exchange"),
        help="ablation: what a turn leaves in memory (default: memory_defaults.yaml's); "
        "writes persona_drift_remember_<policy>.json",
    )
    parser.add_argument(
        "--memory-pools",
        action="store_true",
        help="variant: recall the user's words apart from the card's memories (3 + 2); "
        "adds _memory_pools to the result's name",
    )
    parser.add_argument(
        "--memory-position",
        choices=MEMORY_POSITIONS,
        default=DEFAULT_MEMORY_POSITION,
        help="variant: where the recalled memories go in the system block (default: "
        "builder.DEFAULT_MEMORY_POSITION); another position adds _memories_first "
        "(before_character) or _memories_last to the result's name",
    )
    parser.add_argument(
        "--recalled-memories",
        type=int,
        metavar="K",
        help="ablation: memories a turn recalls (default: chat's 3); adds _recall_K to the "
        "result's name",
    )
    parser.add_argument(
        "--steering-combination",
        choices=COMBINATIONS,
        help="variant: how the traits' steering vectors make one (default: steering.yaml's); "
        "adds _<combination> to the result's name",
    )
    parser.add_argument(
        "--steering-scope",
        choices=SCOPES,
        help="variant: which tokens the steering vectors act on (default: steering.yaml's); "
        "reply (only the reply's) adds _reply_only to the result's name",
    )
    parser.add_argument(
        "--note-depth",
        type=int,
        metavar="D",
        help="variant: the character's note D messages from the end instead of chat's 1; adds "
        "_note_depth_D to the result's name",
    )
    parser.add_argument(
        "--note-parts",
        metavar="PARTS",
        help="variant: the written note says these of its parts, comma-separated, of stay, "
        "lines, words, voice (default: chat's); other than chat's adds _note_<parts> to the "
        "result's name",
    )
    parser.add_argument(
        "--max-combined-strength",
        type=float,
        metavar="B",
        help="variant: bound on the norm of the traits' summed steering vector (default: "
        "steering.yaml's max_combined_strength); adds _combined_B to the result's name",
    )
    parser.add_argument(
        "--decoupled-strengths",
        type=Path,
        metavar="RESULT",
        help="variant: steer each character at the strengths a benchmarks.steering_decoupled "
        "result solved for it (cancelling the vectors' cross-talk); adds _decoupled",
    )
    add_decouple_traits_argument(parser)
    parser.add_argument(
        "--reply-half-life",
        type=float,
        metavar="H",
        help="variant: the steering vectors halve every H tokens of a reply (default: "
        "steering.yaml's reply_half_life); adds _half_life_H",
    )
    parser.add_argument(
        "--conversation-seed",
        type=int,
        metavar="S",
        help="variance: sample the conversation's replies from seed S + turn instead of the "
        "script's seed; adds _seed_S_<conditions> to the result's name",
    )
    arguments = parser.parse_args(argv)
    try:
        decoupled_strengths(arguments.decoupled_strengths)
    except ValueError as error:
        parser.error(str(error))
    if arguments.note_depth is not None and not 0 <= arguments.note_depth <= MAX_NOTE_DEPTH:
        parser.error(f"--note-depth {arguments.note_depth}: use 0 to {MAX_NOTE_DEPTH}")
    try:
        arguments.note_parts = note_parts(arguments.note_parts)
    except ValueError as error:
        parser.error(str(error))
    bound = arguments.max_combined_strength
    if bound is not None and not (math.isfinite(bound) and bound > 0):
        parser.error(f"--max-combined-strength {bound:g}: use a positive number")
    half_life = arguments.reply_half_life
    if half_life is not None and not (math.isfinite(half_life) and half_life > 0):
        parser.error(f"--reply-half-life {half_life:g}: use a number of tokens > 0")
    if arguments.recalled_memories is not None and arguments.recalled_memories < 1:
        parser.error(f"--recalled-memories {arguments.recalled_memories}: use 1 or more")
    return arguments


def note_parts(text: str | None) -> frozenset[str] | None:
    """``--note-parts``: the written note's parts to say, or None for chat's."""
    from roleplay.prompting.character_note import ALL_NOTE_PARTS, CHAT_NOTE_PARTS, NOTE_PARTS

    if text is None:
        return None
    parts = frozenset(part.strip() for part in text.split(",") if part.strip())
    if not parts or parts - ALL_NOTE_PARTS:
        raise ValueError(f"--note-parts {text!r}: use some of {', '.join(NOTE_PARTS)}")
    return None if parts == CHAT_NOTE_PARTS else parts


def decoupled_strengths(path: Path | None) -> dict[str, dict[str, float]] | None:
    """Each character's solved strengths from a ``benchmarks.steering_decoupled`` result."""
    if path is None:
        return None
    try:
        solved = json.loads(path.read_text())["strengths"]["decoupled"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(
            f"--decoupled-strengths {path}: not a steering_decoupled result ({error})"
        ) from None
    return {str(name): {str(t): float(v) for t, v in s.items()} for name, s in solved.items()}


def result_name(arguments: argparse.Namespace) -> str:
    """The result's file name: ``persona_drift`` and a suffix for each ablation or variant,
    so that the published run is never overwritten by one."""
    from benchmarks.common import decouple_suffix
    from roleplay.control.config import load_config
    from roleplay.prompting.builder import DEFAULT_MEMORY_POSITION
    from roleplay.prompting.character_note import NOTE_PARTS, WRITTEN_NOTE_DEPTH

    name = "persona_drift"
    if arguments.card_set != "evaluation":
        name += f"_{arguments.card_set}"  # first: the compare script finds a set's variants
    if arguments.no_character_note:
        name += "_no_note"
    if arguments.remember:
        name += f"_remember_{arguments.remember}"
    if arguments.memory_pools:
        name += "_memory_pools"
    if arguments.memory_position != DEFAULT_MEMORY_POSITION:
        name += POSITION_SUFFIXES[arguments.memory_position]
    if arguments.recalled_memories is not None:
        name += f"_recall_{arguments.recalled_memories}"
    if arguments.steering_combination not in (None, load_config().combination):
        name += f"_{arguments.steering_combination}"
    if arguments.steering_scope not in (None, load_config().scope):
        name += "_reply_only" if arguments.steering_scope == "reply" else "_all_tokens"
    if arguments.note_depth not in (None, WRITTEN_NOTE_DEPTH):
        name += f"_note_depth_{arguments.note_depth}"
    if arguments.note_parts is not None:
        name += "_note_" + "-".join(p for p in NOTE_PARTS if p in arguments.note_parts)
    if arguments.max_combined_strength not in (None, load_config().max_combined_strength):
        name += f"_combined_{arguments.max_combined_strength:g}"
    if arguments.decoupled_strengths is not None:
        name += "_decoupled"
    name += decouple_suffix(arguments.decouple_traits, load_config().decouple_traits)
    if arguments.reply_half_life not in (None, load_config().reply_half_life):
        name += f"_half_life_{arguments.reply_half_life:g}"
    if arguments.conversation_seed is not None:
        # A seed's runs under other conditions sit side by side instead of replacing
        # each other (the controller's and memory's seed runs are separate runs).
        from roleplay.evaluation.plan import parse_conditions

        conditions = parse_conditions([arguments.conditions])
        name += f"_seed_{arguments.conversation_seed}_" + "-".join(c.value for c in conditions)
    return name


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

    from benchmarks.common import (
        OUT_DIR,
        crosstalk_fit_used,
        decouple_choice,
        decouple_used,
        run_identity,
        write_result,
    )
    from roleplay.application import BackendOptions, load_engine
    from roleplay.cli.eval_commands import rows_progress
    from roleplay.control.config import load_config
    from roleplay.evaluation.characters import bundled_character_paths, card_set_paths
    from roleplay.evaluation.drift import load_drift_script, parse_after_turns
    from roleplay.evaluation.interview import Interviewer
    from roleplay.evaluation.persona import evaluate_persona
    from roleplay.evaluation.plan import Method, parse_conditions
    from roleplay.evaluation.report import report_json, summary_table, write_drift_plot
    from roleplay.memory.settings import default_settings
    from roleplay.prompting.character_note import CHAT_NOTE_PARTS, WRITTEN_NOTE_DEPTH

    console = Console(width=120)
    cards = card_set_paths(arguments.card_set)
    turns = parse_after_turns(arguments.after_turns)
    conditions = parse_conditions([arguments.conditions])
    if arguments.quick:
        cards, turns = cards[:2], [2]
        conditions = parse_conditions(["memory"])
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    engine = load_engine(BackendOptions(threads=arguments.threads))
    notes = not arguments.no_character_note
    name = result_name(arguments)
    with rows_progress(sys.stderr.isatty()) as progress:
        report = evaluate_persona(
            engine,
            cards,
            [Method.LIKELIHOOD],
            conditions,
            interviewer=Interviewer(
                engine,
                rows_done=progress.advance if progress else None,
                character_notes=notes,
                note_depth=arguments.note_depth,
                note_parts=arguments.note_parts,
                remember_policy=arguments.remember,
                memory_pools=arguments.memory_pools,
                memory_position=arguments.memory_position,
                recalled_memories=arguments.recalled_memories,
                steering_combination=arguments.steering_combination,
                steering_scope=arguments.steering_scope,
                steering_max_combined_strength=arguments.max_combined_strength,
                strengths_by_character=decoupled_strengths(arguments.decoupled_strengths),
                conversation_seed=arguments.conversation_seed,
                reply_half_life=arguments.reply_half_life,
                decouple_traits=decouple_choice(arguments.decouple_traits),
            ),
            progress=progress,
            reference_paths=bundled_character_paths(),
            resamples=arguments.resamples,
            after_turns=turns,
        )
    write_drift_plot(report, OUT_DIR / f"{name}.png")
    decoupled = decouple_used(arguments.decouple_traits, load_config().decouple_traits)
    console.print(summary_table(report))
    payload = {
        **run_identity(engine, arguments.threads),
        "card_set": arguments.card_set,
        "character_notes": notes,
        "note_depth": WRITTEN_NOTE_DEPTH if arguments.note_depth is None else arguments.note_depth,
        "note_parts": sorted(arguments.note_parts or CHAT_NOTE_PARTS),
        "remember_policy": arguments.remember,
        # What memory kept in this run, the flag or the default of the day: a later change
        # of the default must not change what an old result says it measured.
        "remember_policy_used": arguments.remember or default_settings().remember.policy,
        "memory_pools": arguments.memory_pools,
        "memory_position": arguments.memory_position,
        "recalled_memories": arguments.recalled_memories,
        "steering_combination": arguments.steering_combination or load_config().combination,
        "steering_scope": arguments.steering_scope or load_config().scope,
        "decoupled_strengths": (
            str(arguments.decoupled_strengths) if arguments.decoupled_strengths else None
        ),
        "decouple_traits": decoupled,
        # which fit the decoupled strengths were solved on: a refit must not pass for the old
        "crosstalk_fitted": crosstalk_fit_used(
            engine.model_id, decoupled, arguments.decoupled_strengths
        ),
        "max_combined_strength": (
            arguments.max_combined_strength or load_config().max_combined_strength
        ),
        "reply_half_life": (
            load_config().reply_half_life
            if arguments.reply_half_life is None
            else arguments.reply_half_life
        ),
        "conversation_seed": (
            load_drift_script().generation.seed
            if arguments.conversation_seed is None
            else arguments.conversation_seed
        ),
        "load_average": [load_before, os.getloadavg()[0]],
        "seconds": round(time.perf_counter() - started, 1),
        "report": report_json(report),
    }
    path = write_result(name, payload)
    console.print(f"{payload['seconds']:.0f} s; wrote {path} and {OUT_DIR}/{name}.png")


def markdown(payload: dict[str, Any]) -> str:
    """BENCHMARKS.md's drift table from this script's JSON result."""
    from benchmarks.common import machine_line
    from benchmarks.persona_fidelity import _cell

    report = payload["report"]
    engine = payload["engine"]
    load = payload["load_average"]
    card_set = payload.get("card_set", "evaluation")  # results before --card-set: evaluation
    traits = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")
    lines = [
        f"Machine: {machine_line(payload)}; {engine['model']} on {engine['backend']} "
        f"({payload['threads']} thread{'s' if payload['threads'] != 1 else ''}); "
        f"{payload['date']}; load {load[0]:.1f} -> "
        f"{load[1]:.1f}; {payload['seconds']:.0f} s; `{payload['command']}`. "
        f"{len(report['characters'])} characters of the {CARD_SET_NAMES[card_set]}, likelihood "
        "method; brackets: 95 % bootstrap over characters and items; n = counted (character, "
        "trait) pairs.",
        "",
        "| condition | turns | n | MAE | Acc(Dim) |"
        + "".join(f" {t[0].upper()} |" for t in traits),
        "|---|---|---|---|---|" + "---|" * len(traits),
    ]
    for result in report["results"]:
        intervals = result.get("intervals") or {}
        trait_cells = "".join(f" {_cell(result['trait_acc'][t], None)} |" for t in traits)
        lines.append(
            f"| {result['condition']} | {result['turns']} | {result['counted_dims']} | "
            f"{_cell(result['mae'], intervals.get('mae'), 3)} | "
            f"{_cell(result['acc_dim'], intervals.get('acc_dim'))} |{trait_cells}"
        )
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    main()
