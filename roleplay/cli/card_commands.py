"""CLI commands for cards: ``roleplay card validate|lint|import|export|schema|new`` and
``roleplay characters``. The work happens in ``roleplay.cards`` and ``roleplay.interop``;
these functions only parse options, ask questions and print.

The main app mounts them with ``app.add_typer(card_app, name="card")`` and
``app.command("characters")(characters_command)``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from roleplay import paths
from roleplay.cards.lint import advice
from roleplay.cards.loader import check_card, load_card
from roleplay.cards.model import BIG_FIVE_TRAITS, MBTI_TYPES, BigFive, Card
from roleplay.cards.personality import big_five_from_mbti
from roleplay.cards.registry import CardEntry, list_cards, resolve_card
from roleplay.cards.wizard import (
    ANSWER_SCALE,
    DESCRIPTION_PLACEHOLDER,
    PersonalitySource,
    draft_card,
    draft_yaml,
    questionnaire,
    score_answers,
)
from roleplay.errors import USAGE_EXIT_CODE, Problem, RoleplayError
from roleplay.interop.exporter import default_export_name, export_card
from roleplay.interop.files import write_atomic, write_card_atomic
from roleplay.interop.importer import FORMAT_NAMES, import_card

card_app = typer.Typer(help="Check, convert and write character cards.", no_args_is_help=True)

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
    _check_files(paths, with_advice=False)


@card_app.command("lint")
def lint_command(
    paths: list[Path] = typer.Argument(..., help="Card files (.yaml) to check."),
) -> None:
    """Validate cards, then give advice on them.

    Advice covers MBTI/Big Five contradictions, over-long text (estimated as words x 1.3
    tokens), a missing greeting or examples, placeholder Big Five scores and dead lore.

    Exits with status 2 when any card has errors (advice alone exits 0).
    """
    _check_files(paths, with_advice=True)


def _check_files(paths: list[Path], *, with_advice: bool) -> None:
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
            console.print(_labelled(problem, "warning"))
        if with_advice:
            for problem in advice(str(path), check):
                console.print(_labelled(problem, "advice"))
    if failed:
        noun = "card" if len(paths) == 1 else "cards"
        console.print(f"{failed} of {len(paths)} {noun} failed validation")
        raise typer.Exit(code=USAGE_EXIT_CODE)


def _labelled(problem: Problem, label: str) -> str:
    return f"{problem.path}:{problem.line}:{problem.column}: {label}: {problem.message}"


@card_app.command("import")
def import_command(
    path: Path = typer.Argument(
        ...,
        help="A SillyTavern card (.png, .json, .charx), text-generation-webui .yaml or "
        "Pygmalion .json.",
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Folder for the YAML card (default: your characters folder)."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing card file."),
    infer_traits: bool = typer.Option(
        False,
        "--infer-traits",
        help="Estimate the Big Five from the card's words instead of neutral placeholders.",
    ),
) -> None:
    """Convert a card from another tool into a YAML card. Prints where it was written."""
    result = import_card(
        path, out or paths.user_characters_dir(), force=force, infer_traits=infer_traits
    )
    console = _console()
    for note in result.notes:
        console.print(f"note: {note}")
    if result.traits_source == "unset":
        console.print(
            "note: the card has no Big Five scores; neutral placeholders were written "
            "(set them, or import with --infer-traits)"
        )
    elif result.traits_source == "estimated":
        console.print("note: Big Five scores were estimated from the card's words; review them")
    console.print(
        f"imported {result.card.name} ({FORMAT_NAMES[result.source_format]}) -> {result.path}"
    )


class ExportFormat(StrEnum):
    """roleplay.interop.exporter.EXPORT_FORMATS, as a typer choice."""

    CCV2_JSON = "ccv2-json"
    CCV3_JSON = "ccv3-json"
    CCV2_PNG = "ccv2-png"
    CCV3_PNG = "ccv3-png"


@card_app.command("export")
def export_command(
    name: str = typer.Argument(..., help="A card name, file stem or path."),
    export_format: ExportFormat = typer.Option(
        ...,
        "--format",
        help="ccv2-json, ccv3-json, ccv2-png or ccv3-png (PNGs carry both V2 and V3).",
    ),
    image: Path | None = typer.Option(
        None, "--image", help="Picture for a PNG card (default: a generated placeholder)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Output file (default: ./<name>.json or .png)."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a card as a SillyTavern Character Card (JSON or PNG)."""
    card = load_card(resolve_card(name))
    chosen = export_format.value
    data = export_card(card, chosen, image=image)
    target = out or Path(default_export_name(card, chosen))
    if target.is_dir():
        target = target / default_export_name(card, chosen)
    write_atomic(target, data, force=force)
    _console().print(f"exported {card.name} ({chosen}) -> {target}")


@card_app.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of YAML cards. For editor completion and checks."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **Card.model_json_schema(),
        "title": "roleplay character card",
    }
    typer.echo(json.dumps(schema, indent=2, ensure_ascii=False))


@card_app.command("new")
def new_command(
    name: str | None = typer.Option(None, "--name", help="The character's name."),
    description: str | None = typer.Option(
        None, "--description", help="Who they are (third person)."
    ),
    from_mbti: str | None = typer.Option(
        None, "--from-mbti", help="Pre-fill the Big Five from an MBTI type (e.g. ENFP)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Folder for the card (default: your characters folder)."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing card file."),
) -> None:
    """Write a new YAML card, asking for what the options do not give.

    With --name and --from-mbti nothing is asked (the description is then a TODO).
    """
    mbti = _mbti_or_error(from_mbti) if from_mbti else None
    interactive = not (name and mbti)
    if not name:
        name = typer.prompt("Name").strip()
    if not name:
        raise RoleplayError("the name must not be empty")
    if description is None:
        description = (
            typer.prompt("Description (who they are, third person)").strip()
            if interactive
            else DESCRIPTION_PLACEHOLDER
        )
    source: PersonalitySource
    if mbti is not None:
        source, big_five = "mbti", big_five_from_mbti(mbti)
    else:
        source, big_five, mbti = _ask_personality()
    greeting = (
        typer.prompt("First message (empty for none)", default="", show_default=False).strip()
        if interactive
        else ""
    )
    card = draft_card(
        name, description or DESCRIPTION_PLACEHOLDER, big_five, mbti=mbti, greeting=greeting or None
    )
    target = (out or paths.user_characters_dir()) / f"{paths.safe_slug(card.name)}.yaml"
    write_card_atomic(target, draft_yaml(card, source), force=force)
    _console().print(f"wrote {target}")


def _ask_personality() -> tuple[PersonalitySource, BigFive, str | None]:
    choice = typer.prompt(
        "Personality from: numbers (five Big Five scores), mbti (a type), or questionnaire "
        "(10 questions)",
        default="mbti",
        value_proc=_one_of("numbers", "mbti", "questionnaire"),
    )
    if choice == "numbers":
        scores = {
            trait: typer.prompt(f"{trait} (0 low .. 1 high)", value_proc=_unit_score)
            for trait in BIG_FIVE_TRAITS
        }
        return "numbers", BigFive.model_validate(scores), None
    if choice == "mbti":
        mbti = typer.prompt("MBTI type (e.g. ENFP)", value_proc=_mbti_or_ask_again)
        return "mbti", big_five_from_mbti(mbti), mbti
    typer.echo(f"How accurately does each describe the character? {ANSWER_SCALE}.")
    questions = questionnaire()
    answers = [
        typer.prompt(f"{number}. {question.text}", value_proc=_answer)
        for number, question in enumerate(questions, start=1)
    ]
    return "questionnaire", score_answers(questions, answers), None


# Prompt parsers: a typer.BadParameter makes the prompt say why and ask again.


def _one_of(*choices: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        folded = value.strip().lower()
        if folded not in choices:
            raise typer.BadParameter(f"answer one of: {', '.join(choices)}")
        return folded

    return parse


def _unit_score(value: str) -> float:
    try:
        score = float(value)
    except ValueError:
        score = -1.0
    if not 0.0 <= score <= 1.0:
        raise typer.BadParameter("give a number from 0 to 1 (e.g. 0.7)")
    return score


def _answer(value: str) -> int:
    if value.strip() not in {"1", "2", "3", "4", "5"}:
        raise typer.BadParameter(f"answer 1 to 5: {ANSWER_SCALE}")
    return int(value)


def _mbti_or_ask_again(value: str) -> str:
    try:
        return _mbti_or_error(value)
    except RoleplayError as error:
        raise typer.BadParameter(error.message) from None


def _mbti_or_error(value: str) -> str:
    normalised = value.strip().upper()
    if normalised not in MBTI_TYPES:
        raise RoleplayError(f"{value!r} is not one of the 16 MBTI types (e.g. ENFP, ISTJ)")
    return normalised


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
    # The slug is what `-c` takes, so it is printed whole, never cut with "…": the other
    # columns wrap instead when the terminal is narrow.
    slug_column = table.columns[0]
    slug_column.no_wrap = True
    slug_column.min_width = max(len(entry.slug) for entry in entries)
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
