"""``roleplay eval ...``: does the character stay in character? (see docs/evaluation.md)

The main CLI mounts this sub-app with ``app.add_typer(eval_app, name="eval")``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from roleplay.cli.options import (
    ApiKeyOption,
    BackendOption,
    BaseUrlOption,
    ModelOption,
    PromptLayoutOption,
    ThreadsOption,
    backend_options,
    prompt_layout,
)
from roleplay.errors import RoleplayError

if TYPE_CHECKING:
    from roleplay.application import BackendOptions

eval_app = typer.Typer(
    help="Measure how well characters keep their personality.", no_args_is_help=True
)
console = Console(highlight=False)
error_console = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


def one_line_errors(command: F) -> F:
    """``error: ...`` and exit 2 on a RoleplayError, also when the sub-app runs on its own."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except RoleplayError as error:
            error_console.print(f"error: {error.message}", markup=False)
            raise typer.Exit(error.exit_code) from None

    return wrapper  # type: ignore[return-value]


def load_engine(options: BackendOptions, *, quiet: bool) -> Any:
    """The engine ``options`` describe (default: the embedded model on llama.cpp)."""
    from roleplay.cli.runtime import load_cli_engine

    return load_cli_engine(options, quiet=quiet)


class RichRowsProgress:
    """The evaluation's progress (forward-pass rows) as a rich progress bar on stderr."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task = progress.add_task("interviews", total=None)

    def begin(self, total_rows: int) -> None:
        self._progress.update(self._task, total=total_rows)

    def label(self, text: str) -> None:
        self._progress.update(self._task, description=text)

    def advance(self, rows: int) -> None:
        self._progress.advance(self._task, rows)


@contextlib.contextmanager
def rows_progress(enabled: bool) -> Iterator[RichRowsProgress | None]:
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=error_console,
        transient=True,
    ) as progress:
        yield RichRowsProgress(progress)


@eval_app.command("persona")
@one_line_errors
def persona_command(
    character: list[str] | None = typer.Option(
        None,
        "--character",
        "-c",
        help="Card name or path; repeat or comma-separate (default: the bundled characters).",
    ),
    card_set: str | None = typer.Option(
        None,
        "--card-set",
        help="bundled (the tuning set), evaluation (frozen, never tuned on), confirmation "
        "(frozen, written to confirm choices made on evaluation) or replication (frozen, "
        "written after every choice; only reports).",
    ),
    method: list[str] | None = typer.Option(
        None,
        "--method",
        help="expected-likert, grammar, likelihood; repeat or comma-separate (default: all).",
    ),
    conditions: str | None = typer.Option(
        None,
        "--conditions",
        help="Comma-separated: prompt, controller (prompt + steering), memory "
        "(prompt + steering + memory). Default: all available.",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the full result as JSON."),
    out: Path | None = typer.Option(
        None, "--out", help="Folder for persona_fidelity.json and persona_fidelity.png."
    ),
    model: str | None = ModelOption,
    backend: str = BackendOption,
    base_url: str | None = BaseUrlOption,
    api_key: str | None = ApiKeyOption,
    threads: int | None = ThreadsOption,
    layout: str = PromptLayoutOption,
    details: bool = typer.Option(False, "--details", help="Also print per-character tables."),
    batch_size: int | None = typer.Option(
        None, "--batch-size", min=1, help="Rows per forward pass (default from the data file)."
    ),
    resamples: int = typer.Option(
        2000, "--resamples", min=0, help="Bootstrap resamples for the intervals (0: none)."
    ),
    after_turns: str | None = typer.Option(
        None,
        "--after-turns",
        help="Also interview after N turns of a scripted conversation that pulls the "
        "character away (drift), e.g. 20 or 5,10,20.",
    ),
    seed: int | None = typer.Option(
        None,
        "--seed",
        help="With --after-turns: sample the conversation's replies from this seed (turn t "
        "uses seed + t; default: the script's). Another seed is another conversation.",
    ),
) -> None:
    """Interview characters with the IPIP-50 items. Compares their Big Five with the cards."""
    from roleplay.evaluation.characters import card_set_paths, resolve_characters
    from roleplay.evaluation.drift import parse_after_turns
    from roleplay.evaluation.interview import Interviewer, unsupported_reason
    from roleplay.evaluation.persona import evaluate_persona
    from roleplay.evaluation.plan import (
        CONDITION_LABELS,
        Condition,
        Method,
        parse_conditions,
        parse_methods,
        require_available,
        unavailable_reason,
    )
    from roleplay.evaluation.report import (
        DRIFT_PLOT_NAME,
        JSON_NAME,
        PLOT_NAME,
        character_table,
        headline_result,
        report_json,
        summary_table,
        trait_table,
        write_drift_plot,
        write_plot,
    )
    from roleplay.evaluation.verdict import confounded, unmeasurable, verdict_lines

    # Everything the user typed is checked before the model loads (a typo fails at once).
    backend_choice = backend_options(backend, model, base_url, api_key, threads)
    if character and card_set:
        raise RoleplayError("give --character or --card-set, not both")
    cards = resolve_characters(character) if character else card_set_paths(card_set or "bundled")
    if method:
        methods = parse_methods(method)
        require_available(methods)
    else:
        methods = [m for m in Method if unavailable_reason(m) is None]
    if conditions is not None:
        chosen_conditions = parse_conditions([conditions])
        require_available(chosen_conditions)
    else:
        chosen_conditions = [c for c in Condition if unavailable_reason(c) is None]
    chosen_layout = prompt_layout(layout)
    drift_turns = parse_after_turns(after_turns) if after_turns is not None else []
    if seed is not None and not drift_turns:
        raise RoleplayError("--seed samples the drift conversation: give --after-turns too")
    engine = load_engine(backend_choice, quiet=json_output)
    # What this backend cannot run: an error when asked for, skipped (with a note) by default.
    for chosen_method in list(methods):
        if (reason := unsupported_reason(engine, chosen_method)) is not None:
            if method:
                raise RoleplayError(reason)
            methods.remove(chosen_method)
            error_console.print(f"[dim]{chosen_method.value} method skipped: {reason}[/]")
    with rows_progress(not json_output and sys.stderr.isatty()) as progress:
        interviewer = Interviewer(
            engine,
            batch_size=batch_size,
            rows_done=progress.advance if progress else None,
            prompt_layout=chosen_layout,
            conversation_seed=seed,
        )
        report = evaluate_persona(
            engine,
            cards,
            methods,
            chosen_conditions,
            interviewer=interviewer,
            progress=progress,
            resamples=resamples,
            after_turns=drift_turns,
        )
    payload = report_json(report)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / JSON_NAME).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        write_plot(report, out / PLOT_NAME)
        if report.drift:
            write_drift_plot(report, out / DRIFT_PLOT_NAME)
    if json_output:
        sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
        return
    console.print(summary_table(report))
    if details:
        console.print(trait_table(report))
        for result in report.results:
            console.print(character_table(result))
    headline = headline_result(report)
    console.print(
        f"[bold]Verdict[/] ({headline.method.value}, {CONDITION_LABELS[headline.condition]}; "
        "'holds' = on the card's side in >= 95% of item resamples):"
    )
    for line in verdict_lines(headline):
        console.print(f"  {line}", markup=False)
    if report.drift:
        last = report.checkpoints[-1]
        after = report.result(headline.method, headline.condition, last)
        console.print(f"[bold]After {last} turns[/] of the scripted conversation:")
        for line in verdict_lines(after):
            console.print(f"  {line}", markup=False)
    for result in report.results:
        label = f"{result.method.value}/{result.condition.value}"
        caveats = [line for line in (unmeasurable(result), confounded(result)) if line]
        for note in [*result.notes, *caveats]:
            console.print(f"[dim]{label}: {note}[/]")
    if out is not None:
        drift_plot = f" and {out / DRIFT_PLOT_NAME}" if report.drift else ""
        console.print(f"[dim]wrote {out / JSON_NAME}, {out / PLOT_NAME}{drift_plot}[/]")
