"""`roleplay persona ...`: add, list, show, edit, use and remove your personas (who
``{{user}}`` is in a chat; docs/personas.md)."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from roleplay.cards.model import BIG_FIVE_TRAITS, BigFive
from roleplay.cards.personality import mbti_contradictions, trait_level
from roleplay.cli.errors import report_warning
from roleplay.errors import RoleplayError
from roleplay.personas.model import Persona, parse_big_five
from roleplay.personas.store import (
    active_persona,
    add_persona,
    clear_active_persona,
    edit_persona,
    get_persona,
    list_personas,
    remove_persona,
    use_persona,
)

persona_app = typer.Typer(
    help="Your personas: who {{user}} is in a chat (docs/personas.md).", no_args_is_help=True
)
console = Console(highlight=False, soft_wrap=True)
PREVIEW_CHARS = 50
CLEAR = "none"

NameOption = typer.Option(..., "--name", help="What {{user}} becomes in the card's text.")
DescriptionOption = typer.Option(
    None, "--description", "-d", help="Who you are, as the character should know it."
)
BigFiveOption = typer.Option(
    None,
    "--big-five",
    help="Your Big Five, 0 to 1: O,C,E,A,N (e.g. 0.8,0.4,0.3,0.7,0.2) or "
    "openness=0.8,conscientiousness=0.4,... (`none` clears it in edit).",
)
MbtiOption = typer.Option(
    None, "--mbti", help="Your MBTI type, e.g. INFP (`none` clears it in edit)."
)


@persona_app.command("add")
def add_command(
    name: str = NameOption,
    description: str | None = DescriptionOption,
    big_five: str | None = BigFiveOption,
    mbti: str | None = MbtiOption,
    use: bool = typer.Option(False, "--use", help="Make it the active persona."),
) -> None:
    """Add a persona."""
    persona = add_persona(
        name,
        description or "",
        big_five=_big_five(big_five, allow_clear=False),
        mbti=_mbti(mbti, allow_clear=False),
        use=use,
    )
    _warn_contradictions(persona)
    active = " (active)" if use else f"; make it active with roleplay persona use {_quoted(name)}"
    console.print(f"added persona {escape(repr(persona.name))}{escape(active)}")


@persona_app.command("list")
def list_command(json_output: bool = typer.Option(False, "--json")) -> None:
    """List the personas; * marks the active one."""
    personas = list_personas()
    active = active_persona()
    active_name = active.name if active is not None else None
    if json_output:
        records = [_record(persona, persona.name == active_name) for persona in personas]
        sys.stdout.write(json.dumps(records, ensure_ascii=False, indent=2) + "\n")
        return
    if not personas:
        console.print(
            'No personas yet. Add one with: roleplay persona add --name NAME -d "..." --use'
        )
        return
    table = Table("", "name", "big five (O C E A N)", "mbti", header_style="bold")
    table.add_column("description", overflow="fold")
    for persona in personas:
        table.add_row(
            "*" if persona.name == active_name else "",
            escape(persona.name),
            _scores(persona.big_five),
            persona.mbti or "",
            escape(_preview(persona.description)),
        )
    console.print(table)


@persona_app.command("show")
def show_command(
    name: str = typer.Argument(..., help="A persona's name (any case)."),
    json_output: bool = typer.Option(False, "--json"),
) -> None:
    """Show a persona in full."""
    persona = get_persona(name)
    active = active_persona()
    is_active = active is not None and active.name == persona.name
    if json_output:
        sys.stdout.write(
            json.dumps(_record(persona, is_active), ensure_ascii=False, indent=2) + "\n"
        )
        return
    console.print(f"[bold]{escape(persona.name)}[/]" + (" (active)" if is_active else ""))
    console.print(
        escape(persona.description) if persona.description else "[dim](no description)[/]"
    )
    if persona.big_five is not None:
        levels = ", ".join(
            f"{trait} {score:.2f} ({trait_level(score)})"
            for trait, score in persona.big_five.as_dict().items()
        )
        console.print(f"big five: {levels}")
    if persona.mbti is not None:
        console.print(f"mbti: {persona.mbti}")
    console.print(
        f"[dim]created {persona.created_at.isoformat()}, "
        f"updated {persona.updated_at.isoformat()}[/]"
    )


@persona_app.command("edit")
def edit_command(
    name: str = typer.Argument(..., help="A persona's name (any case)."),
    new_name: str | None = typer.Option(None, "--name", help="Rename it."),
    description: str | None = DescriptionOption,
    big_five: str | None = BigFiveOption,
    mbti: str | None = MbtiOption,
) -> None:
    """Change a persona's name, description, Big Five or MBTI."""
    changes: dict[str, Any] = {}
    if new_name is not None:
        changes["name"] = new_name
    if description is not None:
        changes["description"] = description
    if big_five is not None:
        changes["big_five"] = _big_five(big_five, allow_clear=True)
    if mbti is not None:
        changes["mbti"] = _mbti(mbti, allow_clear=True)
    if not changes:
        raise RoleplayError("nothing to change: give --name, --description, --big-five or --mbti")
    before = get_persona(name)
    persona = edit_persona(name, **changes)
    _warn_contradictions(persona)
    renamed = f" (was {before.name!r})" if persona.name != before.name else ""
    console.print(f"updated persona {escape(repr(persona.name))}{escape(renamed)}")


@persona_app.command("use")
def use_command(
    name: str | None = typer.Argument(None, help="A persona's name (any case)."),
    none: bool = typer.Option(False, "--none", help="Use no persona (chats call you User)."),
) -> None:
    """Choose the active persona: the one chats use by default."""
    if none == (name is not None):
        raise RoleplayError("give a persona's name, or --none to use none")
    if name is None:
        clear_active_persona()
        console.print("no persona is active now")
        return
    persona = use_persona(name)
    console.print(f"active persona: {escape(repr(persona.name))}")


@persona_app.command("remove")
def remove_command(name: str = typer.Argument(..., help="A persona's name (any case).")) -> None:
    """Remove a persona (if it was active, none is active afterwards)."""
    persona = remove_persona(name)
    console.print(f"removed persona {escape(repr(persona.name))}")


def _big_five(text: str | None, *, allow_clear: bool) -> BigFive | None:
    if text is None or (allow_clear and text.strip().lower() == CLEAR):
        return None
    try:
        return parse_big_five(text)
    except ValueError as error:
        raise RoleplayError(f"--big-five {text!r}: {error}") from None


def _mbti(text: str | None, *, allow_clear: bool) -> str | None:
    if text is None or (allow_clear and text.strip().lower() == CLEAR):
        return None
    return text


def _warn_contradictions(persona: Persona) -> None:
    if persona.big_five is not None and persona.mbti is not None:
        for note in mbti_contradictions(persona.big_five, persona.mbti):
            report_warning(f"mbti: {note}")


def _record(persona: Persona, active: bool) -> dict[str, Any]:
    return {"active": active, **persona.model_dump(mode="json")}


def _scores(big_five: BigFive | None) -> str:
    if big_five is None:
        return ""
    return " ".join(f"{getattr(big_five, trait):.2f}" for trait in BIG_FIVE_TRAITS)


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


def _quoted(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").isalnum() else repr(name)
