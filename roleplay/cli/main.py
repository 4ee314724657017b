"""The `roleplay` command line: a thin face over the pipeline and the parts."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

import typer

from roleplay.cli.card_commands import card_app, characters_command
from roleplay.cli.chat import chat_command
from roleplay.cli.errors import RoleplayGroup
from roleplay.cli.eval_commands import eval_app
from roleplay.cli.generate_commands import generate_app
from roleplay.cli.memory_commands import memory_app
from roleplay.cli.prompt_command import prompt_command
from roleplay.cli.session_commands import sessions_app
from roleplay.cli.steer_commands import steer_app

app = typer.Typer(
    cls=RoleplayGroup,
    help="Persona-consistent role-play on local language models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("chat")(chat_command)
app.command("prompt")(prompt_command)
app.command("characters")(characters_command)
app.add_typer(card_app, name="card")
app.add_typer(sessions_app, name="sessions")
app.add_typer(eval_app, name="eval")
app.add_typer(generate_app, name="generate")
app.add_typer(memory_app, name="memory")
app.add_typer(steer_app, name="steer")


def _register_plugin_commands() -> None:
    """Faces outside the core (the TUI, the audit) register commands through entry points,
    so `roleplay` never imports them directly and dependencies keep pointing one way."""
    for entry_point in entry_points(group="roleplay.commands"):
        app.command(entry_point.name)(entry_point.load())


_register_plugin_commands()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        sys.exit(130)
