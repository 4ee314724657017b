"""`roleplay match`: which characters suit your persona, similar or complementary
(docs/personas.md)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from roleplay.errors import RoleplayError
from roleplay.personas.matching import MatchReport, check_mode, match_characters
from roleplay.personas.store import resolve_persona

console = Console(highlight=False, soft_wrap=True)
error_console = Console(stderr=True, highlight=False, soft_wrap=True)


def match_command(
    persona: str | None = typer.Option(
        None, "--persona", help="A saved persona (default: the active one)."
    ),
    mode: str = typer.Option(
        "similar",
        "--mode",
        help="similar (a character like you) or complementary (one who complements you: "
        "opposite extraversion and openness, warm and calm).",
    ),
    limit: int = typer.Option(5, "--limit", help="How many characters to list."),
    json_output: bool = typer.Option(False, "--json"),
) -> None:
    """Characters that suit your persona. Bundled and your own, ranked."""
    chosen_mode = check_mode(mode.strip().lower())
    if limit < 1:
        raise RoleplayError(f"--limit must be at least 1, not {limit}")
    chosen = resolve_persona(persona)
    if chosen is None:
        raise RoleplayError(
            "no persona: give --persona NAME or choose one with `roleplay persona use NAME` "
            "(`roleplay persona add` adds one)"
        )
    report = match_characters(chosen, mode=chosen_mode, limit=limit)
    if json_output:
        sys.stdout.write(json.dumps(_record(report), ensure_ascii=False, indent=2) + "\n")
        return
    _print(report)


def _record(report: MatchReport) -> dict[str, object]:
    return {
        "persona": report.persona.name,
        "mode": report.mode,
        "derived_from_mbti": report.derived_from_mbti,
        "matches": [asdict(match) for match in report.matches],
        "notes": report.notes,
    }


def _print(report: MatchReport) -> None:
    for note in report.notes:
        error_console.print(f"note: {escape(note)}")
    if not report.matches:
        console.print("No characters to match. `roleplay characters` lists them.")
        return
    console.print(
        f"Characters for {escape(report.persona.name)} ({report.mode}; scores 0 to 1, "
        f"numbers are the character's then yours):"
    )
    table = Table("#", "character", "card", "score", header_style="bold")
    table.add_column("why", overflow="fold")
    for rank, match in enumerate(report.matches, start=1):
        why = match.reason.removeprefix(f"{report.mode}: ")
        table.add_row(
            str(rank),
            escape(match.card_name),
            escape(match.card_ref),
            f"{match.score:.2f}",
            escape(why),
        )
    console.print(table)
    best = report.matches[0]
    console.print(
        f"Chat with one: roleplay chat -c {escape(best.card_ref)} "
        f"--persona {escape(_quoted(report.persona.name))}"
    )


def _quoted(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").isalnum() else repr(name)
