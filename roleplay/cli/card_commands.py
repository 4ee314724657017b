"""CLI commands for cards: ``roleplay card validate PATH...`` and ``roleplay characters``.

The main app mounts them with ``app.add_typer(card_app, name="card")`` and
``app.command("characters")(characters_command)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from roleplay.cards.loader import check_card
from roleplay.cards.registry import CardEntry, list_cards
from roleplay.errors import USAGE_EXIT_CODE

card_app = typer.Typer(help="Check and inspect character cards.", no_args_is_help=True)

_BIG_FIVE_LETTERS = {
    "openness": "O",
    "conscientiousness": "C",
    "extraversion": "E",
    "agreeableness": "A",
    "neuroticism": "N",
}


def _console() -> Console:
    # Card text and paths are user data: no markup, emoji codes or highlighting may
    # reinterpret them, and problem lines must never be wrapped (editors and CI parse
    # PATH:LINE:COL).
    return Console(markup=False, highlight=False, emoji=False, soft_wrap=True)


@card_app.command("validate")
def validate_command(
    paths: list[Path] = typer.Argument(..., help="Card files (.yaml) to check."),
) -> None:
    """Check card files; print every problem as PATH:LINE:COL: message.

    Exits with status 2 when any card has errors (warnings alone exit 0).
    """
    console = _console()
    failed = 0
    for path in paths:
        check = check_card(path)
        if check.card is not None:
            console.print(f"ok: {path} ({check.card.name})")
        else:
            failed += 1
        for problem in check.errors:
            console.print(str(problem))
        for problem in check.warnings:
            console.print(
                f"{problem.path}:{problem.line}:{problem.column}: warning: {problem.message}"
            )
    if failed:
        noun = "card" if len(paths) == 1 else "cards"
        console.print(f"{failed} of {len(paths)} {noun} failed validation")
        raise typer.Exit(code=USAGE_EXIT_CODE)


def characters_command(
    json_output: bool = typer.Option(False, "--json", help="Print a JSON list instead."),
) -> None:
    """List the bundled and user characters."""
    entries = list_cards()
    console = _console()
    if json_output:
        console.print(json.dumps([_entry_json(entry) for entry in entries], indent=2))
        return
    if not entries:
        console.print("no characters found")
        return
    table = Table("slug", "name", "MBTI", "Big Five", "source")
    for entry in entries:
        table.add_row(*_entry_row(entry))
    console.print(table)


def _entry_json(entry: CardEntry) -> dict[str, Any]:
    personality = entry.card.personality if entry.card is not None else None
    return {
        "slug": entry.slug,
        "name": entry.name,
        "path": str(entry.path),
        "source": entry.source,
        "mbti": personality.mbti if personality is not None else None,
        "big_five": personality.big_five.as_dict() if personality is not None else None,
        "error": entry.error,
    }


def _entry_row(entry: CardEntry) -> tuple[Text, ...]:
    if entry.card is None:
        broken = Text(f"broken: {entry.error}", style="red")
        return (Text(entry.slug), broken, Text(""), Text(""), Text(entry.source))
    personality = entry.card.personality
    big_five = " ".join(
        f"{_BIG_FIVE_LETTERS[trait]}{score:.2f}"
        for trait, score in personality.big_five.as_dict().items()
    )
    return (
        Text(entry.slug),
        Text(entry.name),
        Text(personality.mbti or "-"),
        Text(big_five),
        Text(entry.source),
    )
