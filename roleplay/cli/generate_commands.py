"""``roleplay generate ...``: multi-character scenes and corpora (see docs/dialogue.md).

The main CLI mounts this sub-app with ``app.add_typer(generate_app, name="generate")``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from roleplay.cli.eval_commands import load_engine, one_line_errors
from roleplay.cli.options import (
    ApiKeyOption,
    BackendOption,
    BaseUrlOption,
    ModelOption,
    ThreadsOption,
    backend_options,
)
from roleplay.errors import RoleplayError

generate_app = typer.Typer(
    help="Generate multi-character dialogue: scenes and corpora.", no_args_is_help=True
)
console = Console(highlight=False)
status_console = Console(stderr=True, highlight=False)

SPEAKER_STYLES = ("bold magenta", "bold cyan", "bold green", "bold yellow", "bold blue", "bold red")
BACKTEST_FILE = "backtest.json"

CharactersOption = typer.Option(
    ..., "--characters", help="Comma-separated card names or paths (at least two)."
)
PolicyOption = typer.Option(
    "round-robin", "--policy", help="Turn taking: round-robin or next-speaker."
)
MaxTokensOption = typer.Option(
    None, "--max-new-tokens", min=1, max=4096, help="Tokens per line (default 80)."
)
SteeringOption = typer.Option(
    True, "--steering/--no-steering", help="Steer each character by its card (if available)."
)
MemoryOption = typer.Option(
    True, "--memory/--no-memory", help="Recall each character's memories (read-only)."
)
AnnotateOption = typer.Option(
    True, "--annotate/--no-annotate", help="Score emotion and toxicity of each line."
)


def _check_counts(turns: int) -> None:
    if turns < 1:
        raise RoleplayError(f"--turns must be at least 1, got {turns}")


def _runner_parts(engine: Any, steering: bool, memory: bool, policy: Any) -> dict[str, Any]:
    """Controller and memory factories and the next-speaker scorer for SceneRunner."""
    from roleplay.dialogue.speaker_model import model_speaker_scorer
    from roleplay.dialogue.turns import Policy
    from roleplay.evaluation import parts

    control_factory = parts.controller_factory(engine) if steering else None
    memory_factory = parts.memory_factory() if memory else None
    if steering and control_factory is None:
        reason = parts.missing_reason("steering unavailable", parts.controller_missing())
        status_console.print(f"[dim]{escape(reason)}[/]")
    if memory and memory_factory is None:
        reason = parts.missing_reason("memory unavailable", parts.memory_missing())
        status_console.print(f"[dim]{escape(reason)}[/]")
    scorer = model_speaker_scorer(engine) if policy is Policy.NEXT_SPEAKER else None
    return {
        "control_factory": control_factory,
        "memory_factory": memory_factory,
        "speaker_scorer": scorer,
    }


def _write_jsonl(path: Path, records: Sequence[dict[str, Any]]) -> None:
    """Write a whole file atomically: a temporary file renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            for record in records:
                file.write(json.dumps(record, ensure_ascii=False) + "\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@generate_app.command("scene")
@one_line_errors
def scene_command(
    characters: str = CharactersOption,
    topic: str = typer.Option(..., "--topic", help="What the scene is about."),
    turns: int = typer.Option(12, "--turns", help="Lines to generate."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed (line k uses seed + k)."),
    policy: str = PolicyOption,
    out: Path | None = typer.Option(None, "--out", help="Write the scene as JSONL here."),
    model: str | None = ModelOption,
    backend: str = BackendOption,
    base_url: str | None = BaseUrlOption,
    api_key: str | None = ApiKeyOption,
    threads: int | None = ThreadsOption,
    max_new_tokens: int | None = MaxTokensOption,
    steering: bool = SteeringOption,
    memory: bool = MemoryOption,
    annotate: bool = AnnotateOption,
) -> None:
    """Stream one scene in which the characters talk with each other."""
    from roleplay.dialogue.annotate import load_annotator
    from roleplay.dialogue.corpus import utterance_records
    from roleplay.dialogue.scene import (
        LineRetried,
        SceneRunner,
        SceneSpec,
        SpeakerStarted,
        TextPiece,
        Utterance,
        UtteranceDone,
    )
    from roleplay.dialogue.settings import load_dialogue_settings
    from roleplay.dialogue.turns import parse_policy
    from roleplay.evaluation.characters import resolve_characters

    _check_counts(turns)
    chosen_policy = parse_policy(policy)
    cards = resolve_characters([characters], minimum=2)
    spec = SceneSpec("scene-00000", tuple(cards), topic.strip(), turns, chosen_policy, seed)
    engine = load_engine(backend_options(backend, model, base_url, api_key, threads), quiet=False)
    generation = load_dialogue_settings().generation_settings(max_new_tokens=max_new_tokens)
    runner = SceneRunner(
        engine,
        spec,
        generation=generation,
        **_runner_parts(engine, steering, memory, chosen_policy),
    )
    styles = {name: SPEAKER_STYLES[i % len(SPEAKER_STYLES)] for i, name in enumerate(runner.names)}
    console.print(f"[dim]{escape(load_dialogue_settings().opening_line(spec.topic))}[/]")
    utterances: list[Utterance] = []
    for event in runner.run():
        if isinstance(event, SpeakerStarted):
            console.print(f"[{styles[event.speaker]}]{escape(event.speaker)}:[/] ", end="")
        elif isinstance(event, TextPiece):
            sys.stdout.write(event.text)
            sys.stdout.flush()
        elif isinstance(event, LineRetried):
            console.print(
                f" [dim](repeats {event.overlap:.0%} of earlier lines; again)[/]\n"
                f"[{styles[event.speaker]}]{escape(event.speaker)}:[/] ",
                end="",
            )
        elif isinstance(event, UtteranceDone):
            sys.stdout.write("\n")
            utterances.append(event.utterance)
    if out is not None:
        annotator = load_annotator() if annotate else None
        _write_jsonl(out, utterance_records(utterances, spec.topic, annotator))
        console.print(f"[dim]wrote {len(utterances)} lines to {out}[/]", soft_wrap=True)


def _backtest_table(report: Any) -> Table:
    from roleplay.cards.model import BIG_FIVE_TRAITS

    table = Table(
        title=f"Back-test: portrayed trait side matches the card ({report.samples} samples)"
    )
    table.add_column("character")
    for trait in BIG_FIVE_TRAITS:
        table.add_column(trait[0].upper(), justify="right")

    def cell(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    for name, traits in sorted(report.per_character.items()):
        table.add_row(escape(name), *(cell(traits[t]) for t in BIG_FIVE_TRAITS))
    table.add_row("[bold]all[/]", *(cell(report.trait_match[t]) for t in BIG_FIVE_TRAITS))
    table.caption = f"overall {cell(report.overall)}; '-' = card too close to 0.5 to count"
    return table


def _run_backtest(engine: Any, folder: Path, records: Sequence[dict[str, Any]]) -> Any:
    from roleplay.evaluation.backtest import backtest, speaker_samples

    total = len(speaker_samples(records))
    with Progress(
        TextColumn("back-test"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=status_console,
        transient=True,
        disable=not sys.stderr.isatty(),
    ) as progress:
        task = progress.add_task("back-test", total=total)
        report = backtest(engine, records, on_sample=lambda _: progress.advance(task))
    (folder / BACKTEST_FILE).write_text(json.dumps(report.as_json(), indent=2) + "\n")
    return report


@generate_app.command("corpus")
@one_line_errors
def corpus_command(
    characters: str = CharactersOption,
    topics: Path = typer.Option(..., "--topics", help="Text file: one topic per line."),
    scenes: int = typer.Option(..., "--scenes", help="Number of scenes."),
    out: Path = typer.Option(..., "--out", help="Corpus folder (resumes if it exists)."),
    turns: int = typer.Option(8, "--turns", help="Lines per scene."),
    seed: int = typer.Option(0, "--seed", help="Base seed (scene i: seed + 1000 i)."),
    policy: str = PolicyOption,
    model: str | None = ModelOption,
    backend: str = BackendOption,
    base_url: str | None = BaseUrlOption,
    api_key: str | None = ApiKeyOption,
    threads: int | None = ThreadsOption,
    max_new_tokens: int | None = MaxTokensOption,
    steering: bool = SteeringOption,
    memory: bool = MemoryOption,
    annotate: bool = AnnotateOption,
    run_backtest: bool = typer.Option(
        True, "--backtest/--no-backtest", help="Back-test the traits portrayed at the end."
    ),
) -> None:
    """Generate many scenes as JSONL. One line per utterance; re-run to resume."""
    from roleplay.application import model_identity
    from roleplay.cards.loader import load_card
    from roleplay.dialogue.annotate import load_annotator
    from roleplay.dialogue.corpus import CorpusWriter, plan_scenes, read_topics, utterance_records
    from roleplay.dialogue.scene import SceneRunner, UtteranceDone
    from roleplay.dialogue.settings import load_dialogue_settings
    from roleplay.dialogue.turns import parse_policy
    from roleplay.evaluation.characters import resolve_characters
    from roleplay.paths import configure_library_caches

    _check_counts(turns)
    if scenes < 1:
        raise RoleplayError(f"--scenes must be at least 1, got {scenes}")
    chosen_policy = parse_policy(policy)
    cards = resolve_characters([characters], minimum=2)
    specs = plan_scenes(
        cards, read_topics(topics), scenes=scenes, turns=turns, policy=chosen_policy, seed=seed
    )
    names = {path: load_card(path).name for path in cards}
    writer = CorpusWriter.open(out)
    configure_library_caches()
    choice = backend_options(backend, model, base_url, api_key, threads)

    def plan(model_id: str) -> list[dict[str, Any]]:
        return [
            {**spec.describe([names[p] for p in spec.characters]), "model": model_id}
            for spec in specs
        ]

    # The model's id without loading it, so a mismatched --out fails before the slow part.
    expected_id = model_identity(choice)
    if expected_id is not None:
        writer.check_plan(specs, plan(expected_id))
    engine = load_engine(choice, quiet=False)
    planned = plan(engine.model_id)
    writer.check_plan(specs, planned)
    if writer.repaired_lines:
        status_console.print(
            f"[dim]dropped {writer.repaired_lines} lines of an unfinished scene; redoing it[/]"
        )
    todo = [
        (s, p) for s, p in zip(specs, planned, strict=True) if not writer.is_complete(s.scene_id)
    ]
    generation = load_dialogue_settings().generation_settings(max_new_tokens=max_new_tokens)
    parts = _runner_parts(engine, steering, memory, chosen_policy)
    annotator = load_annotator() if annotate and todo else None
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=status_console,
        disable=not sys.stderr.isatty(),
    ) as progress:
        scene_task = progress.add_task("scenes", total=len(specs), completed=len(specs) - len(todo))
        line_task = progress.add_task("lines", total=turns)
        for spec, scene_record in todo:
            progress.update(line_task, completed=0, description=f"{spec.scene_id} lines")
            runner = SceneRunner(engine, spec, generation=generation, **parts)
            utterances = []
            for event in runner.run():
                if isinstance(event, UtteranceDone):
                    utterances.append(event.utterance)
                    progress.advance(line_task)
            records = utterance_records(utterances, spec.topic, annotator)
            writer.append_scene({**scene_record, "utterances": len(records)}, records)
            progress.advance(scene_task)
    done = len(specs) - len(todo)
    console.print(
        f"{len(specs)} scenes in {out} ({len(todo)} generated now, {done} already complete)",
        soft_wrap=True,
    )
    if run_backtest:
        report = _run_backtest(engine, out, writer.utterances())
        console.print(_backtest_table(report))


@generate_app.command("backtest")
@one_line_errors
def backtest_command(
    folder: Path = typer.Argument(..., help="A corpus folder written by `generate corpus`."),
    model: str | None = ModelOption,
    backend: str = BackendOption,
    base_url: str | None = BaseUrlOption,
    api_key: str | None = ApiKeyOption,
    threads: int | None = ThreadsOption,
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Back-test a corpus. Estimates the traits each speaker portrayed and compares their
    sides with the cards."""
    from roleplay.dialogue.corpus import UTTERANCES_FILE, CorpusWriter

    if not (folder / UTTERANCES_FILE).is_file():
        raise RoleplayError(f"{folder}: no {UTTERANCES_FILE} (not a corpus folder)")
    records = CorpusWriter.open(folder).utterances()
    engine = load_engine(
        backend_options(backend, model, base_url, api_key, threads), quiet=json_output
    )
    report = _run_backtest(engine, folder, records)
    if json_output:
        sys.stdout.write(json.dumps(report.as_json()) + "\n")
        return
    console.print(_backtest_table(report))
