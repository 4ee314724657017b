"""`roleplay memory ...`: a character's long-term memory from the command line.

The main app mounts it with ``app.add_typer(memory_app, name="memory")``. Every command
takes CHARACTER (a bundled or user card name, or a card path) and ``--chroma-url`` to use a
Chroma server instead of the local store. Errors are one ``error: ...`` line, exit 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape

from roleplay import paths
from roleplay.cli.errors import RoleplayGroup
from roleplay.errors import RoleplayError

if TYPE_CHECKING:
    from roleplay.memory.service import CharacterMemory

memory_app = typer.Typer(
    cls=RoleplayGroup,
    help="A character's memories: add, search, list, forget, export.",
    no_args_is_help=True,
)
console = Console(highlight=False, soft_wrap=True)

CharacterArgument = typer.Argument(..., help="Bundled or user card name, or a card file path.")
ChromaUrlOption = typer.Option(
    None, "--chroma-url", help="Use the Chroma server at this URL instead of the local store."
)
JsonOption = typer.Option(False, "--json", help="Print JSON instead of a table.")
EmotionOption = typer.Option(
    None, "--emotion", help="Emotion as NAME=VALUE pairs, e.g. joy=0.8,fear=0.1 (values 0..1)."
)


@memory_app.callback()
def _prepare() -> None:
    # Before chromadb/torch are imported: their caches go under ROLEPLAY_HOME, not ~.
    paths.configure_library_caches()


@memory_app.command("add")
def add_command(
    character: str = CharacterArgument,
    text: str = typer.Argument(..., help="What the character remembers ('-' reads stdin)."),
    emotion: str | None = EmotionOption,
    chroma_url: str | None = ChromaUrlOption,
    json_output: bool = JsonOption,
) -> None:
    """Add a memory. Its emotion is scored automatically unless --emotion is given."""
    from roleplay.memory.emotions import parse_emotion_spec

    values = parse_emotion_spec(emotion) if emotion is not None else None
    memory = _open_memory(character, chroma_url)
    memory.ensure_seed_memories()
    memory_id = memory.add_memory(_read_text(text), values)
    stored = memory.store.records([memory_id])[0]
    if json_output:
        _print_json({"id": memory_id, "text": stored.text, "emotion": stored.emotion})
    else:
        console.print(f"remembered {memory_id} ({_top_emotions(stored.emotion)})")


@memory_app.command("search")
def search_command(
    character: str = CharacterArgument,
    query: str = typer.Argument(..., help="The topic to recall."),
    strategy: str | None = typer.Option(
        None, "--strategy", help="semantic, c-a, c-m, s-c or s-s (default: the card's, else c-a)."
    ),
    k: int = typer.Option(5, "--k", help="How many memories to return (1..100)."),
    mood: str | None = typer.Option(
        None, "--mood", help="Text that sets the mood (default: the query itself)."
    ),
    emotion: str | None = EmotionOption,
    pool: str = typer.Option(
        "all",
        "--pool",
        help="all, character (the card's memories, notes, scenes) or user (what the user said).",
    ),
    chroma_url: str | None = ChromaUrlOption,
    json_output: bool = JsonOption,
) -> None:
    """Recall the memories that best match a topic and a mood, best first."""
    from roleplay.memory.emotions import parse_emotion_spec
    from roleplay.memory.service import RECALL_POOLS
    from roleplay.memory.strategies import check_strategy
    from roleplay.memory.validation import check_result_count

    if mood is not None and emotion is not None:
        raise RoleplayError("give --mood or --emotion, not both")
    if pool not in RECALL_POOLS:
        raise RoleplayError(f"unknown --pool {pool!r}; use one of {', '.join(RECALL_POOLS)}")
    if strategy is not None:
        check_strategy(strategy)
    check_result_count(k)
    override = parse_emotion_spec(emotion) if emotion is not None else None
    memory = _open_memory(character, chroma_url)
    memory.ensure_seed_memories()
    turns = [mood] if mood is not None else [query]
    results = memory.recall(
        query,
        turns,
        k=k,
        strategy=strategy,
        emotion_override=override,
        pool=pool,  # type: ignore[arg-type]  # checked against RECALL_POOLS above
    )
    if json_output:
        _print_json([result.as_json() for result in results])
        return
    if not results:
        console.print("No memories yet.")
    for rank, result in enumerate(results, start=1):
        scores = (
            f"score {result.score:.3f} (semantic {result.semantic:.3f}, "
            f"emotional {result.emotional:.3f})"
        )
        _print_memory(f"{rank}.", result.id, result.text, result.emotion, scores)


@memory_app.command("list")
def list_command(
    character: str = CharacterArgument,
    chroma_url: str | None = ChromaUrlOption,
    json_output: bool = JsonOption,
) -> None:
    """List the stored memories, oldest first."""
    records = _open_memory(character, chroma_url).memories()
    if json_output:
        _print_json([record.as_json() for record in records])
        return
    if not records:
        console.print("No memories yet.")
    for record in records:
        kind = str(record.metadata.get("kind", ""))
        _print_memory("-", record.id, record.text, record.emotion, kind)


@memory_app.command("forget")
def forget_command(
    character: str = CharacterArgument,
    ids: list[str] | None = typer.Argument(None, help="Ids of the memories to forget."),
    forget_all: bool = typer.Option(False, "--all", help="Forget every memory of the character."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    chroma_url: str | None = ChromaUrlOption,
    json_output: bool = JsonOption,
) -> None:
    """Forget memories by id, or all of them with --all."""
    if bool(ids) == forget_all:
        raise RoleplayError("give the ids of memories to forget, or --all (not both)")
    memory = _open_memory(character, chroma_url)
    what = "every memory" if forget_all else f"{len(ids or [])} memory(ies)"
    if not yes and not typer.confirm(f"Forget {what} of {memory.card.name}?"):
        raise typer.Exit(1)
    if forget_all:
        memory.forget_all()
    else:
        memory.forget(ids or [])
    if json_output:
        _print_json({"forgotten": "all" if forget_all else ids})
    else:
        console.print(f"forgot {what} of {escape(memory.card.name)}")


@memory_app.command("export")
def export_command(
    character: str = CharacterArgument,
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the JSONL here instead of to stdout."
    ),
    chroma_url: str | None = ChromaUrlOption,
    json_output: bool = typer.Option(
        False, "--json", help="With --output: print a JSON summary instead of a sentence."
    ),
) -> None:
    """Export the memories as JSON Lines. One memory per line, oldest first."""
    records = _open_memory(character, chroma_url).memories()
    lines = "".join(json.dumps(r.as_json(), ensure_ascii=False) + "\n" for r in records)
    if output is None:
        sys.stdout.write(lines)
        return
    try:
        output.write_text(lines, encoding="utf-8")
    except OSError as error:
        raise RoleplayError(f"cannot write {output}: {error.strerror}") from None
    if json_output:
        _print_json({"path": str(output), "count": len(records)})
    else:
        console.print(f"exported {len(records)} memories to {escape(str(output))}")


def _open_memory(character: str, chroma_url: str | None) -> CharacterMemory:
    from roleplay.cards.loader import load_card
    from roleplay.cards.registry import resolve_card
    from roleplay.memory.service import CharacterMemory

    return CharacterMemory(load_card(resolve_card(character)), chroma_url=chroma_url)


def _print_memory(
    bullet: str, memory_id: str, text: str, emotion: dict[str, float], detail: str
) -> None:
    # A block per memory rather than a table: ids (what `forget` takes) and texts stay whole
    # in any terminal width.
    feeling = escape(f"[{_top_emotions(emotion)}]")
    console.print(f"{bullet} [bold]{memory_id}[/]  {escape(detail)}  {feeling}")
    console.print(f"  {escape(text)}")


def _read_text(text: str) -> str:
    return sys.stdin.read() if text == "-" else text


def _top_emotions(emotion: dict[str, float], threshold: float = 0.2) -> str:
    strong = sorted(((v, k) for k, v in emotion.items() if v >= threshold), reverse=True)
    return ", ".join(f"{name} {value:.2f}" for value, name in strong) or "neutral"


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")
