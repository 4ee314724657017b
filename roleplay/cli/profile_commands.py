"""`roleplay profile ...`: list, add, edit, delete and forget what characters know about
users (docs/profile.md)."""

from __future__ import annotations

import json
import sys
from datetime import datetime

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from roleplay.cards.loader import load_card
from roleplay.cards.registry import resolve_card
from roleplay.errors import RoleplayError
from roleplay.profile.profile import UserProfile
from roleplay.profile.store import Fact, ProfileStore

profile_app = typer.Typer(
    help="What characters learned about you. List, edit or delete it.",
    no_args_is_help=True,
)
console = Console(highlight=False, soft_wrap=True)


def _day(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d")


def _character(store: ProfileStore, name: str) -> str:
    """The character's display name: a name the store knows (any case), else a card's
    name, slug or path as `roleplay chat --character` takes it."""
    known = store.characters()
    if name in known:
        return name
    folded = [character for character in known if character.casefold() == name.casefold()]
    if len(folded) == 1:
        return folded[0]
    try:
        path = resolve_card(name)
    except RoleplayError as error:
        raise RoleplayError(
            f"unknown character {name!r}: no card of that name and nothing kept for it ({error})"
        ) from None
    return load_card(path).name


def _known_user(store: ProfileStore, user: str) -> str:
    if user not in store.users():
        raise RoleplayError(
            f"nothing is kept about the user {user!r} (see `roleplay profile list`)"
        )
    return user


def _superseded(fact: Fact) -> str:
    if fact.current:
        return ""
    assert fact.superseded_at is not None
    by = f" by #{fact.superseded_by}" if fact.superseded_by is not None else " (retired)"
    return f"{_day(fact.superseded_at)}{by}"


@profile_app.command("list")
def list_facts(
    character: str | None = typer.Option(None, "--character", "-c", help="Only this character's."),
    user: str | None = typer.Option(None, "--user", "-u", help="Only about this user."),
    history: bool = typer.Option(False, "--history", help="Also the superseded facts."),
    json_output: bool = typer.Option(False, "--json"),
) -> None:
    """List what characters know about users. --history adds superseded facts."""
    store = ProfileStore()
    wanted_character = _character(store, character) if character is not None else None
    wanted_user = _known_user(store, user) if user is not None else None
    facts = store.facts(user=wanted_user, character=wanted_character, include_history=history)
    if json_output:
        sys.stdout.write(
            json.dumps([fact.as_dict() for fact in facts], ensure_ascii=False, indent=2) + "\n"
        )
        return
    if not facts:
        console.print("Nothing is kept yet: characters learn what you tell them in chat.")
        return
    table = Table("id", "character", "user", "slot", "value", "since", header_style="bold")
    if history:
        table.add_column("superseded")
    for fact in facts:
        cells = [
            str(fact.id),
            escape(fact.character),
            escape(fact.user),
            escape(fact.slot),
            escape(fact.value),
            _day(fact.created_at),
        ]
        table.add_row(*cells, *([_superseded(fact)] if history else []))
    console.print(table)


@profile_app.command("add")
def add_fact(
    character: str = typer.Option(..., "--character", "-c", help="The character who knows it."),
    user: str = typer.Option(..., "--user", "-u", help="The user it is about."),
    slot: str = typer.Option(..., "--slot", help="e.g. home, diet, job, likes, pet:cat."),
    value: str = typer.Option(..., "--value", help="e.g. Oslo, vegetarian, nurse."),
) -> None:
    """Add a fact about a user by hand. It supersedes as a stated one would."""
    store = ProfileStore()
    name = _character(store, character)
    fact = store.record(user, name, slot, value, source="added")
    console.print(f"#{fact.id}: {escape(UserProfile(store, user, name).sentence(fact))}")


@profile_app.command("edit")
def edit_fact(
    fact_id: int = typer.Argument(..., metavar="ID"),
    value: str = typer.Option(..., "--value", help="The corrected value."),
) -> None:
    """Correct a current fact; the old value stays as history."""
    store = ProfileStore()
    fact = store.edit(fact_id, value)
    console.print(
        f"#{fact.id}: {escape(UserProfile(store, fact.user, fact.character).sentence(fact))}"
    )


@profile_app.command("delete")
def delete_fact(fact_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Delete one fact for good."""
    fact = ProfileStore().delete(fact_id)
    console.print(f"deleted #{fact.id} ({escape(fact.slot)}: {escape(fact.value)})")


@profile_app.command("forget")
def forget(
    character: str = typer.Option(..., "--character", "-c", help="The character to forget."),
    user: str | None = typer.Option(None, "--user", "-u", help="Only about this user."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Delete all a character knows. About one user with --user."""
    store = ProfileStore()
    name = _character(store, character)
    who = _known_user(store, user) if user is not None else None
    about = f"about {who}" if who is not None else "about every user"
    if not yes and not typer.confirm(f"Delete everything {name} knows {about}?"):
        raise typer.Exit(1)
    removed = store.forget(who, name)
    console.print(f"forgot {removed} fact{'s' if removed != 1 else ''} {escape(name)} kept {about}")
