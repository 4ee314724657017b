"""Where does drift come from? A diagnostic of issue 17's agreeable/talkative level shift.

Over the scripted drift conversation every character's scores move toward agreeable and
talkative (about +0.2 after 20 turns, whatever the steering strength: BENCHMARKS.md, "Each
vector keeps a share of the card's strength"). This plays the conversation once per
character, through chat's default path (the ``memory`` condition: steering, memory recalled
and written to a scratch store, the character's note), and then interviews the character
with the likelihood method under several views of the played history, everything else as
played (the memories written, the controller):

- ``full``: the whole conversation, as the drift runs interview it;
- ``none``: no history at all (memory still holds what the turns wrote);
- ``user_only``: the user's messages only (the character's replies left out);
- ``replies_only``: the character's replies only;
- ``last_4``: the last four messages (two exchanges);
- ``full_no_note``, ``user_only_no_note``, ``replies_only_no_note``, ``last_4_no_note``: the
  same without the character's note, which chat puts right before the newest message once
  there is history (so the start and ``none`` have none);
- ``full_note_voice``, ``full_note_lines``, ``full_note_no_voice``: the whole history with a
  note saying only some of its parts: "Stay <name>." and the closing sentence on whose voice
  to answer in; the trait lines alone; everything but that closing sentence.

``--views`` picks views by name.

Each view is scored twice: against the neutral role-player without history (as every drift
run scores it) and against the neutral role-player given the same history (the messages the
character's prompt kept of it, the oldest dropped when the context is full). If the second
removes the shift, any role-player reads more agreeable after such a conversation (a change
of the context's, not of this character's); if it does not, the character's own answers
moved. The reference panel's zero point (the bundled characters at turn 0) is the drift
runs'. 95 % bootstrap intervals over characters for each trait's mean shift from turn 0.

    python -m benchmarks.drift_sources                    # the evaluation set, 20 turns
    python -m benchmarks.drift_sources --quick           # 2 characters, 2 turns
    python -m benchmarks.drift_sources --views full,full_no_note

Output: ``benchmarks/out/drift_sources[_<set>][_seed_S][_views_<names>].json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable as a script as well as with -m
    sys.path.insert(0, str(ROOT))

from roleplay.evaluation.interview import HistoryView  # noqa: E402 (after the path fix above)

if TYPE_CHECKING:
    from roleplay.evaluation.interview import HistoryViewAnswers
    from roleplay.sessions import Message

TRAITS = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")
SCORINGS = ("neutral_without_history", "neutral_with_history")


def _full(history: list[Message]) -> list[Message]:
    return history


def _none(history: list[Message]) -> list[Message]:
    return []


def _user_only(history: list[Message]) -> list[Message]:
    return [message for message in history if message.role == "user"]


def _replies_only(history: list[Message]) -> list[Message]:
    return [message for message in history if message.role == "assistant"]


def _last_4(history: list[Message]) -> list[Message]:
    return history[-4:]


# Every view the diagnostic knows; ``--views`` picks some (default: the first run's five).
ALL_VIEWS: dict[str, HistoryView] = {
    "full": HistoryView(_full),
    "none": HistoryView(_none),
    "user_only": HistoryView(_user_only),
    "replies_only": HistoryView(_replies_only),
    "last_4": HistoryView(_last_4),
    # The character's note joins the prompt only once there is history, so every view above
    # but ``none`` has it and the start has not: these tell the note's part apart.
    "full_no_note": HistoryView(_full, character_note=False),
    "user_only_no_note": HistoryView(_user_only, character_note=False),
    "replies_only_no_note": HistoryView(_replies_only, character_note=False),
    "last_4_no_note": HistoryView(_last_4, character_note=False),
    # The whole history with a note saying only some of its parts (``NOTE_PARTS``): which
    # part lifts every character's agreeableness (BENCHMARKS.md, "Where the drift comes from").
    "full_note_voice": HistoryView(_full, note_parts=frozenset({"stay", "voice"})),
    "full_note_lines": HistoryView(_full, note_parts=frozenset({"lines"})),
    "full_note_no_voice": HistoryView(_full, note_parts=frozenset({"stay", "lines", "words"})),
}
DEFAULT_VIEWS = ("full", "none", "user_only", "replies_only", "last_4")


def _arguments(argv: list[str] | None = None) -> argparse.Namespace:
    from roleplay.evaluation.characters import CARD_SETS

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--card-set", choices=CARD_SETS, default="evaluation")
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--conversation-seed", type=int, metavar="S")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="2 characters, 2 turns")
    parser.add_argument(
        "--views",
        default=",".join(DEFAULT_VIEWS),
        help=f"comma-separated, of: {', '.join(ALL_VIEWS)}; other than the default five adds "
        "_views_<names> to the result's name",
    )
    arguments = parser.parse_args(argv)
    views = [name.strip() for name in arguments.views.split(",") if name.strip()]
    unknown = [name for name in views if name not in ALL_VIEWS]
    if unknown or not views:
        parser.error(f"--views {arguments.views!r}: use names of {', '.join(ALL_VIEWS)}")
    arguments.views = list(dict.fromkeys(views))
    if arguments.turns < 1:
        parser.error(f"--turns {arguments.turns}: use 1 or more")
    return arguments


def result_name(arguments: argparse.Namespace) -> str:
    name = "drift_sources"
    if arguments.card_set != "evaluation":
        name += f"_{arguments.card_set}"
    if arguments.conversation_seed is not None:
        name += f"_seed_{arguments.conversation_seed}"
    if tuple(arguments.views) != DEFAULT_VIEWS:
        name += "_views_" + "-".join(arguments.views)
    return name + ("_quick" if arguments.quick else "")


def main(argv: list[str] | None = None) -> None:
    arguments = _arguments(argv)
    from benchmarks.common import scratch_home

    with scratch_home():  # share the converted model, isolate memory, sessions, vectors
        run(arguments)


def run(arguments: argparse.Namespace) -> None:
    from roleplay import paths

    paths.configure_library_caches()
    from rich.console import Console

    from benchmarks.common import OUT_DIR, run_identity, write_result
    from roleplay.application import BackendOptions, load_engine
    from roleplay.cli.eval_commands import rows_progress
    from roleplay.evaluation.characters import bundled_character_paths, card_set_paths
    from roleplay.evaluation.drift import checkpoints, load_drift_script
    from roleplay.evaluation.intervals import LikelihoodPanel
    from roleplay.evaluation.interview import Interviewer
    from roleplay.evaluation.persona import character_spec
    from roleplay.evaluation.plan import Condition, Method

    console = Console(width=120)
    cards = card_set_paths(arguments.card_set)
    turns = arguments.turns
    if arguments.quick:
        cards, turns = cards[:2], 2
    checkpoints([turns])  # a clear error for more turns than the script has
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    engine = load_engine(BackendOptions(threads=arguments.threads))
    characters = [character_spec(path) for path in cards]
    reference = [character_spec(path) for path in bundled_character_paths()]
    condition = Condition.MEMORY
    answers: dict[str, HistoryViewAnswers] = {}
    views = {name: ALL_VIEWS[name] for name in arguments.views}
    with rows_progress(sys.stderr.isatty()) as progress:
        interviewer = Interviewer(
            engine,
            rows_done=progress.advance if progress else None,
            conversation_seed=arguments.conversation_seed,
        )
        per_item = len(interviewer.questionnaire.items)
        if progress is not None:
            per_character = per_item * (1 + 2 * len(views))
            progress.begin(per_character * len(characters) + per_item * (len(reference) + 1))
        panel_answers = {}
        for spec in reference:
            if progress is not None:
                progress.label(f"reference panel: {spec.name}")
            panel_answers[spec.name] = interviewer.interview(
                spec.path, condition, [Method.LIKELIHOOD]
            )
        for spec in characters:
            label = spec.name

            def turn_done(turn: int, label: str = label) -> None:
                if progress is not None:
                    progress.label(f"{label}: turn {turn}/{turns}")

            if progress is not None:
                progress.label(label)
            answers[spec.name] = interviewer.interview_history_views(
                spec.path, condition, turns, views, turn_done=turn_done
            )
    panel = LikelihoodPanel(panel_answers, {spec.name: spec.card_traits for spec in reference})
    cards_traits = {spec.name: spec.card_traits for spec in characters}
    summary = summarise(answers, cards_traits, panel, interviewer, arguments.resamples)
    console.print(table(summary))
    script = load_drift_script()
    name = result_name(arguments)
    payload = {
        **run_identity(engine, arguments.threads),
        "card_set": arguments.card_set,
        "condition": condition.value,
        "turns": turns,
        "conversation_seed": (
            script.generation.seed
            if arguments.conversation_seed is None
            else arguments.conversation_seed
        ),
        "characters": [spec.name for spec in characters],
        "views": list(views),
        # per character and view: the history messages the character's prompt kept (the
        # neutral role-player was given those)
        "kept_messages": {who: result.kept_messages for who, result in answers.items()},
        "summary": summary,
        "load_average": [load_before, os.getloadavg()[0]],
        "seconds": round(time.perf_counter() - started, 1),
    }
    path = write_result(name, payload)
    plot(summary, OUT_DIR / f"{name}.png", f"{len(characters)} characters, {turns} turns")
    console.print(f"{payload['seconds']:.0f} s; wrote {path} and {OUT_DIR}/{name}.png")


def rescored(
    answers: Mapping[str, HistoryViewAnswers], view: str | None, scoring: str
) -> dict[str, Any]:
    """Each character's responses in ``view`` (None: the start), with the neutral baseline
    the scoring names."""
    chosen = {}
    for name, result in answers.items():
        if view is None:
            chosen[name] = result.start
        elif scoring == "neutral_with_history":
            chosen[name] = replace(
                result.views[view], neutral_log_likelihoods=result.neutral_with_history[view]
            )
        else:
            chosen[name] = result.views[view]
    return chosen


def summarise(
    answers: Mapping[str, HistoryViewAnswers],
    cards: Mapping[str, Mapping[str, float]],
    panel: Any,
    interviewer: Any,
    resamples: int,
) -> dict[str, Any]:
    """Per view and scoring: Acc(Dim), MAE, per-trait accuracy, and each trait's mean shift
    from the start (with a 95 % bootstrap interval over characters)."""
    from benchmarks.common import cluster_bootstrap_interval
    from roleplay.evaluation.metrics import compare_traits
    from roleplay.evaluation.metrics import summarise as overall
    from roleplay.evaluation.persona import estimates_for
    from roleplay.evaluation.plan import Method

    questionnaire, settings = interviewer.questionnaire, interviewer.settings
    names = list(answers)
    views = list(next(iter(answers.values())).views)

    def scored(view: str | None, scoring: str) -> dict[str, dict[str, float]]:
        estimates, _ = estimates_for(
            Method.LIKELIHOOD,
            rescored(answers, view, scoring),
            questionnaire,
            settings,
            panel=panel,
        )
        return estimates

    def figures(estimates: Mapping[str, Mapping[str, float]]) -> dict[str, Any]:
        fidelity = [
            compare_traits(name, cards[name], estimates[name], settings.accuracy) for name in names
        ]
        result = overall(fidelity)
        return {"acc_dim": result.acc_dim, "mae": result.mae, "trait_acc": result.trait_acc}

    start = scored(None, SCORINGS[0])
    summary: dict[str, Any] = {
        "start": {**figures(start), "scores": start},
        "views": {},
    }
    for view in views:
        for scoring in SCORINGS:
            estimates = scored(view, scoring)
            shifts = {}
            for trait in TRAITS:
                moves = [estimates[name][trait] - start[name][trait] for name in names]
                low, high = cluster_bootstrap_interval(moves, names, resamples=resamples)
                shifts[trait] = {"mean": sum(moves) / len(moves), "interval": [low, high]}
            summary["views"][f"{view}/{scoring}"] = {
                **figures(estimates),
                "shift": shifts,
                "scores": estimates,
            }
    return summary


def table(summary: Mapping[str, Any]) -> Any:
    from rich.table import Table

    output = Table(title="Fidelity and each trait's mean shift from turn 0, per view")
    for column in ("view", "baseline", "Acc(Dim)", "MAE", *(t[0].upper() for t in TRAITS)):
        output.add_column(column)
    start = summary["start"]
    output.add_row(
        "turn 0", "-", f"{start['acc_dim']:.2f}", f"{start['mae']:.3f}", *("-" for _ in TRAITS)
    )
    for key, figures in summary["views"].items():
        view, scoring = key.split("/")
        cells = []
        for trait in TRAITS:
            shift = figures["shift"][trait]
            low, high = shift["interval"]
            cells.append(f"{shift['mean']:+.2f} [{low:+.2f}, {high:+.2f}]")
        baseline = "same history" if scoring == "neutral_with_history" else "no history"
        output.add_row(view, baseline, f"{figures['acc_dim']:.2f}", f"{figures['mae']:.3f}", *cells)
    return output


def markdown(payload: Mapping[str, Any]) -> str:
    """BENCHMARKS.md's table from this script's result."""
    from benchmarks.common import machine_line

    summary = payload["summary"]
    lines = [
        f"Machine: {machine_line(dict(payload))}; {payload['engine']['model']} on "
        f"{payload['engine']['backend']}; {payload['date']}; {payload['seconds']:.0f} s; "
        f"`{payload['command']}`. {len(payload['characters'])} characters of the "
        f"{payload['card_set']} set, {payload['turns']} turns, seed "
        f"{payload['conversation_seed']}, chat's default condition; shift: each trait's mean "
        "score change from turn 0, 95 % bootstrap over characters.",
        "",
        "| view | neutral baseline | Acc(Dim) | MAE |"
        + "".join(f" {t[0].upper()} |" for t in TRAITS),
        "|---|---|---|---|" + "---|" * len(TRAITS),
    ]
    start = summary["start"]
    lines.append(
        f"| turn 0 | no history | {start['acc_dim']:.2f} | {start['mae']:.3f} |"
        + " |" * len(TRAITS)
    )
    for key, figures in summary["views"].items():
        view, scoring = key.split("/")
        cells = "".join(
            f" {s['mean']:+.2f} [{s['interval'][0]:+.2f}, {s['interval'][1]:+.2f}] |"
            for s in (figures["shift"][t] for t in TRAITS)
        )
        baseline = "same history" if scoring == "neutral_with_history" else "no history"
        lines.append(
            f"| {view} | {baseline} | {figures['acc_dim']:.2f} | {figures['mae']:.3f} |{cells}"
        )
    return "\n".join(lines) + "\n"


def plot(summary: Mapping[str, Any], path: Path, subtitle: str) -> None:
    """Each trait's mean shift per view, against both neutral baselines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    views = _view_names(summary)
    figure, axes = plt.subplots(1, len(SCORINGS), figsize=(12, 4), sharey=True)
    width = 0.8 / len(TRAITS)
    for axis, scoring in zip(axes, SCORINGS, strict=True):
        for index, trait in enumerate(TRAITS):
            means, errors = _bars(summary, scoring, trait)
            positions = [v + (index - len(TRAITS) / 2 + 0.5) * width for v in range(len(views))]
            axis.bar(positions, means, width, yerr=errors, capsize=2, label=trait)
        axis.axhline(0.0, color="black", linewidth=0.8)
        axis.set_xticks(range(len(views)), views)
        axis.tick_params(axis="x", labelrotation=20)  # long view names would overlap
        baseline = "same history" if scoring == "neutral_with_history" else "no history"
        axis.set_title(f"neutral baseline: {baseline}")
    axes[0].set_ylabel("mean score shift from turn 0")
    axes[0].legend(fontsize="small")
    figure.suptitle(f"Where drift comes from ({subtitle})")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _view_names(summary: Mapping[str, Any]) -> list[str]:
    return list(dict.fromkeys(key.split("/")[0] for key in summary["views"]))


def _bars(
    summary: Mapping[str, Any], scoring: str, trait: str
) -> tuple[list[float], list[Sequence[float]]]:
    means, lows, highs = [], [], []
    for view in _view_names(summary):
        shift = summary["views"][f"{view}/{scoring}"]["shift"][trait]
        means.append(shift["mean"])
        lows.append(shift["mean"] - shift["interval"][0])
        highs.append(shift["interval"][1] - shift["mean"])
    return means, [lows, highs]


if __name__ == "__main__":
    main()
