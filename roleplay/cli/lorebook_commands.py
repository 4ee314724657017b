"""`roleplay lorebook ...`: import, list, show, export and remove standalone lorebooks
(SillyTavern World Info files; docs/lorebooks.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from roleplay.cards.model import Lorebook, LoreEntry
from roleplay.errors import RoleplayError
from roleplay.lorebooks.store import LorebookStore, StoredLorebook, write_atomic

lorebook_app = typer.Typer(
    help="Standalone lorebooks (SillyTavern World Info files).", no_args_is_help=True
)
console = Console(highlight=False, soft_wrap=True)
PREVIEW_CHARS = 70


@lorebook_app.command("import")
def import_lorebook(
    file: Path = typer.Argument(..., help="A SillyTavern World Info .json file."),
    name: str | None = typer.Option(
        None, "--name", help="The name to use it by (default: the file name without .json)."
    ),
    replace: bool = typer.Option(
        False, "--replace", help="Replace an imported lorebook of the same name."
    ),
) -> None:
    """Import a World Info file; it is kept byte for byte for `export`."""
    stored, book = LorebookStore().import_file(file, name=name, replace=replace)
    console.print(
        f"imported lorebook {escape(repr(stored.name))}: {len(book.entries)} entries "
        f"({_constant(book)} constant); use it with --lorebook {escape(_quoted(stored.name))}"
    )


@lorebook_app.command("list")
def list_lorebooks(json_output: bool = typer.Option(False, "--json")) -> None:
    """List the imported lorebooks."""
    store = LorebookStore()
    rows = [(stored, store.load(stored.name)) for stored in store.books()]
    if json_output:
        records = [
            {
                "name": stored.name,
                "entries": len(book.entries),
                "constant": _constant(book),
                "source": stored.source,
                "imported": stored.imported,
                "sha256": stored.sha256,
            }
            for stored, book in rows
        ]
        sys.stdout.write(json.dumps(records, ensure_ascii=False, indent=2) + "\n")
        return
    if not rows:
        console.print("No lorebooks yet. Import one with: roleplay lorebook import FILE.json")
        return
    table = Table("name", "entries", "constant", header_style="bold")
    table.add_column("source", overflow="fold")
    for stored, book in rows:
        table.add_row(
            escape(stored.name), str(len(book.entries)), str(_constant(book)), escape(stored.source)
        )
    console.print(table)


@lorebook_app.command("show")
def show_lorebook(
    name: str = typer.Argument(..., help="An imported lorebook's name."),
    json_output: bool = typer.Option(
        False, "--json", help="The entries as read (keys, logic, content in full)."
    ),
) -> None:
    """Show a lorebook's entries: keys and the start of each content."""
    store = LorebookStore()
    stored = store.get(name)
    book = store.load(stored.name)
    if json_output:
        record = {**_describe(stored), **_settings(book)}
        record["entries"] = [_entry_record(entry) for entry in book.entries]
        sys.stdout.write(json.dumps(record, ensure_ascii=False, indent=2) + "\n")
        return
    settings = ", ".join(f"{key} {value}" for key, value in _settings(book).items() if value)
    console.print(
        f"[bold]{escape(stored.name)}[/] - {len(book.entries)} entries, "
        f"{_constant(book)} constant (from {escape(stored.source)})"
    )
    if settings:
        console.print(f"[dim]{escape(settings)}[/]")
    for index, entry in enumerate(book.entries):
        console.print(_entry_line(index, entry))


@lorebook_app.command("export")
def export_lorebook(
    name: str = typer.Argument(..., help="An imported lorebook's name."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write to this file (default: standard output)."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists."),
) -> None:
    """Write the lorebook back as the very file that was imported."""
    data = LorebookStore().read_bytes(name)
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    if out.is_dir():
        raise RoleplayError(f"{out} is a directory")
    if out.exists() and not force:
        raise RoleplayError(f"{out} already exists; use --force to overwrite it")
    if not out.parent.is_dir():
        raise RoleplayError(f"{out.parent}: no such folder")
    write_atomic(out, data)
    console.print(f"wrote {escape(str(out))} ({len(data):,} bytes)")


@lorebook_app.command("remove")
def remove_lorebook(name: str = typer.Argument(..., help="An imported lorebook's name.")) -> None:
    """Remove an imported lorebook. The file it came from is not touched."""
    stored = LorebookStore().remove(name)
    console.print(f"removed lorebook {escape(repr(stored.name))}")


def _constant(book: Lorebook) -> int:
    return sum(1 for entry in book.entries if entry.constant)


def _quoted(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").isalnum() else repr(name)


def _describe(stored: StoredLorebook) -> dict[str, Any]:
    return {
        "name": stored.name,
        "source": stored.source,
        "imported": stored.imported,
        "sha256": stored.sha256,
        "bytes": stored.size,
    }


def _settings(book: Lorebook) -> dict[str, Any]:
    return {
        "scan_depth": book.scan_depth,
        "token_budget": book.token_budget,
        "recursive_scanning": book.recursive_scanning,
    }


def _entry_record(entry: LoreEntry) -> dict[str, Any]:
    return entry.model_dump(exclude={"extensions"})


def _entry_line(index: int, entry: LoreEntry) -> str:
    label = entry.comment or f"#{index}"
    flags = [
        flag for flag, on in (("constant", entry.constant), ("disabled", not entry.enabled)) if on
    ]
    keys = ", ".join(entry.keys) or "(no keys)"
    secondary = ""
    if entry.selective and entry.secondary_keys:
        secondary = f" {entry.selective_logic}: {', '.join(entry.secondary_keys)}"
    flat = " ".join(entry.content.split())
    preview = flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"
    mark = f" [dim]({', '.join(flags)})[/]" if flags else ""
    return (
        f"[bold]{escape(label)}[/]{mark} [cyan]{escape(keys)}[/]{escape(secondary)}\n"
        f"  {escape(preview)}"
    )
