"""`roleplay sessions ...`: list and inspect saved conversations."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from roleplay.application import open_store

sessions_app = typer.Typer(help="Saved conversations.", no_args_is_help=True)
console = Console(highlight=False)


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


@sessions_app.command("list")
def list_sessions(
    character: str | None = typer.Option(None, "--character", "-c", help="Only this character's."),
    json_output: bool = typer.Option(False, "--json"),
) -> None:
    """List saved sessions, most recent first."""
    store = open_store()
    sessions = store.list_sessions(character)
    if json_output:
        rows = [
            {
                "id": s.id,
                "character": s.character,
                "model": s.model_id,
                "user": s.user_name,
                "persona": _persona_name(s.metadata),
                "group": "group" in s.metadata,
                "messages": store.count_messages(s.id),
                "created_at": s.created_at,
                "updated_at": s.updated_at,
            }
            for s in sessions
        ]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    if not sessions:
        console.print("No sessions yet. Start one with: roleplay chat --character mira")
        return
    table = Table("id", "character", "messages", "updated", "model", header_style="bold")
    for s in sessions:
        table.add_row(
            s.id,
            escape(s.character),
            str(store.count_messages(s.id)),
            _when(s.updated_at),
            s.model_id,
        )
    console.print(table)


@sessions_app.command("show")
def show_session(session_id: str, json_output: bool = typer.Option(False, "--json")) -> None:
    """Print a session's conversation (the branch in view)."""
    from roleplay.pipeline import speaker_name

    store = open_store()
    session = store.get_session(session_id)
    messages = store.branch(session_id)
    if json_output:
        rows = [
            {
                "id": m.id,
                "parent_id": m.parent_id,
                "role": m.role,
                "content": m.content,
                "metadata": m.metadata,
            }
            for m in messages
        ]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    for message in messages:
        if message.role == "system":  # a group scene's event: someone joined or left
            console.print(f"[dim]{escape(message.content)}[/]")
            continue
        # In a group scene each line names its speaker.
        speaker = str(message.metadata.get("speaker", session.character))
        who = speaker if message.role == "assistant" else speaker_name(message, session.user_name)
        # Marked as `roleplay chat` marks a reply stopped with Ctrl+C.
        mark = " [dim](interrupted)[/]" if message.metadata.get("interrupted") else ""
        console.print(f"[bold]{escape(who)}:[/] {escape(message.content)}{mark}")


def _persona_name(metadata: dict[str, Any]) -> str | None:
    """The persona the user played, as stored with the session (None: none was used)."""
    persona = metadata.get("persona")
    return str(persona.get("name")) if isinstance(persona, dict) else None


@sessions_app.command("delete")
def delete_session(
    session_id: str, yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation.")
) -> None:
    """Delete a session and all its messages."""
    store = open_store()
    session = store.get_session(session_id)
    if not yes and not typer.confirm(f"Delete session {session_id} with {session.character}?"):
        raise typer.Exit(1)
    store.delete_session(session_id)
    console.print(f"deleted {session_id}")
