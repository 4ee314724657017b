"""`roleplay config`: every setting's effective value and where it came from.

The settings themselves live in ``roleplay.settings`` (docs/configuration.md). A bad value
in the environment or the config file is a ``RoleplayError``, which the root group prints as
one ``error: ...`` line with exit code 2.
"""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console(highlight=False)


def config_command(
    json_output: bool = typer.Option(False, "--json", help="Print a JSON object."),
) -> None:
    """Show every setting's value and its source.

    For each setting: its variable, the value in effect, where it came from (the
    environment, the config file or the default) and what it does."""
    from roleplay.settings import describe_settings, load_settings

    loaded = load_settings()
    rows = describe_settings(loaded)
    config_file = loaded.settings.config_file
    if json_output:
        document = {
            "config_file": str(config_file),
            "config_file_exists": config_file.is_file(),
            "settings": {row.name: row.as_dict() for row in rows},
        }
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    table = Table(box=None, header_style="bold")
    # Names stay whole (they are typed back into shells and files); the rest wraps. The
    # variable goes under the setting's name: five columns do not fit 80 characters.
    table.add_column("setting / variable", no_wrap=True)
    for column in ("value", "source", "description"):
        table.add_column(column, overflow="fold")
    for row in rows:
        value = "[dim]not set[/]" if row.value is None else escape(str(row.value))
        table.add_row(
            f"{row.name}\n[dim]{row.variable}[/]",
            value,
            _origin(row.source),
            escape(row.description),
        )
    console.print(table)
    found = "found" if config_file.is_file() else "not found"
    console.print(
        f"[dim]config file: {escape(str(config_file))} ({found}). The environment overrides "
        "the file; docs/configuration.md explains each setting.[/]"
    )


def _origin(source: str) -> str:
    """The kind of source: the table already shows the variable, and the file below it."""
    for kind in ("environment", "config file"):
        if source.startswith(kind):
            return kind
    return source
