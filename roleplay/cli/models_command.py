"""`roleplay models`: the models a chat can use, and which backend runs each."""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from roleplay.cli.options import ApiKeyOption, BaseUrlOption

console = Console(highlight=False)


def models_command(
    base_url: str | None = BaseUrlOption,
    api_key: str | None = ApiKeyOption,
    json_output: bool = typer.Option(False, "--json", help="Print a JSON list."),
) -> None:
    """List the models a chat can use. The embedded one, GGUF files in the data dir and a
    server's models."""
    from roleplay.models_catalog import local_models, server_models
    from roleplay.paths import models_dir

    entries = local_models()
    if base_url:
        entries += server_models(base_url, api_key)
    if json_output:
        sys.stdout.write(json.dumps([entry.as_dict() for entry in entries], indent=2) + "\n")
        return
    table = Table(box=None, header_style="bold")
    for column in ("model (--model)", "source", "backend", "architecture", "size"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        size = f"{entry.size_bytes / 2**20:,.0f} MiB" if entry.size_bytes else ""
        architecture = entry.architecture or (
            f"[red]{escape(entry.problem)}[/]" if entry.problem else ""
        )
        if entry.problem and entry.architecture:
            architecture += f" [red]({escape(entry.problem)})[/]"
        table.add_row(escape(entry.name), entry.source, entry.backend, architecture, size)
    console.print(table)
    console.print(
        f"[dim]GGUF files placed under {escape(str(models_dir()))} are listed here; any other "
        "path works with --model too.[/]"
    )
