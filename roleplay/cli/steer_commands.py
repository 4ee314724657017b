"""``roleplay steer ...``: list the steerable attributes and precompute their vectors.

The main CLI mounts this sub-app with ``app.add_typer(steer_app, name="steer")``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from roleplay.errors import RoleplayError

steer_app = typer.Typer(
    help="Steering vectors: the steerable attributes and their cache.",
    no_args_is_help=True,
)
console = Console()
error_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def _one_line_errors(command: F) -> F:
    """Print ``error: ...`` and exit 2 on a RoleplayError, also when run without the main app."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except RoleplayError as error:
            error_console.print(f"error: {error.message}", markup=False, highlight=False)
            raise typer.Exit(error.exit_code) from None

    return wrapper  # type: ignore[return-value]


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]


def _parse_layers(value: str | None) -> list[int] | None:
    from roleplay.control.errors import ControlError

    items = _split(value)
    if items is None:
        return None
    try:
        return [int(item) for item in items]
    except ValueError:
        raise ControlError(f"--layers: expected layer numbers like 12,15, got {value!r}") from None


@steer_app.command("list")
@_one_line_errors
def list_attributes() -> None:
    """Show the steerable attributes. Their poles, pair counts and which models have them
    cached."""
    from roleplay.control.attributes import BIG_FIVE, bundled_attributes_dir, load_attributes
    from roleplay.control.cache import cached_entries
    from roleplay.control.config import load_config

    specs = load_attributes()
    cached: dict[str, set[str]] = {}
    for key in cached_entries():
        cached.setdefault(str(key["attribute"]), set()).add(str(key["model_id"]))
    table = Table(title="Steerable attributes")
    for column in ("attribute", "negative  <->  positive", "pairs", "set by", "source", "cached"):
        table.add_column(column)
    for name, spec in specs.items():
        table.add_row(
            name,
            f"{spec.negative}  <->  {spec.positive}",
            str(len(spec.pairs)),
            "card Big Five" if name in BIG_FIVE else "card attributes",
            "bundled" if spec.source.parent == bundled_attributes_dir() else str(spec.source),
            ", ".join(sorted(cached.get(name, ()))) or "-",
        )
    console.print(table)
    config = load_config()
    console.print(
        f"strengths: -{config.max_strength:g}..+{config.max_strength:g} "
        f"(1.0 = {config.unit_relative_norm:g} x the layer's median activation norm); "
        "override per chat with --steer NAME=STRENGTH,..."
    )


@steer_app.command("build")
@_one_line_errors
def build(
    model: Annotated[
        str | None, typer.Option(help="Model folder, .gguf file or hub id (default: bundled).")
    ] = None,
    attributes: Annotated[
        str | None, typer.Option(help="Comma-separated attributes (default: all).")
    ] = None,
    layers: Annotated[
        str | None, typer.Option(help="Comma-separated decoder layers (default: from config).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Recompute even when cached.")] = False,
    backend: Annotated[
        str, typer.Option(help="auto, llama.cpp or transformers (auto: by the model's kind).")
    ] = "auto",
    threads: Annotated[int | None, typer.Option(help="CPU threads.")] = None,
) -> None:
    """Compute the steering vectors of a model once and cache them."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from roleplay.application import BackendOptions, load_engine
    from roleplay.control.attributes import load_attributes
    from roleplay.control.building import build_steering_set, select_attributes
    from roleplay.control.targets import steering_target_for

    chosen_layers = _parse_layers(layers)
    names = _split(attributes)
    select_attributes(names, load_attributes())  # fail on a typo before loading the model
    options = BackendOptions(backend=backend, model=model, threads=threads)
    with console.status("Loading the model..."):
        engine = load_engine(options, status=lambda message: console.log(message))
    target = steering_target_for(engine)
    if target is None:
        raise RoleplayError(
            f"the {engine.capabilities.backend} backend exposes no hidden states; "
            "steering vectors are built with llama.cpp or transformers"
        )
    started = time.perf_counter()
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("Recording activations", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        steering_set, report = build_steering_set(
            target,
            names,
            layers=chosen_layers,
            force=force,
            progress=advance,
        )
    elapsed = time.perf_counter() - started
    table = Table(
        title=f"Steering vectors for {target.model_id} ({target.backend}, "
        f"layers {list(report.layers)})"
    )
    for column in ("attribute", "pairs", "consistency", "separation", "status"):
        table.add_column(column)
    for name, vector in steering_set.vectors.items():
        table.add_row(
            name,
            f"{vector.stats.get('pairs', 0):.0f}",
            f"{vector.stats.get('consistency', float('nan')):.2f}",
            f"{vector.stats.get('relative_separation', float('nan')):.3f}",
            "built" if name in report.built else "cached",
        )
    console.print(table)
    console.print(
        f"{len(report.built)} built, {len(report.cached)} from cache in {elapsed:.1f} s. "
        "consistency: mean cosine of each pair's difference with the direction; "
        "separation: pole distance / median activation norm."
    )
