"""The `roleplay` command line: a thin face over the pipeline and the parts.

Command modules are imported when their command runs (``roleplay.cli.lazy``), so each
command starts without loading the others' dependencies.
"""

from __future__ import annotations

import sys

import typer

from roleplay.cli.lazy import LazyRoleplayGroup, from_module, plugin_commands

LazyRoleplayGroup.lazy_commands = {
    "chat": from_module("roleplay.cli.chat:chat_command"),
    "models": from_module("roleplay.cli.models_command:models_command"),
    "prompt": from_module("roleplay.cli.prompt_command:prompt_command"),
    "characters": from_module("roleplay.cli.card_commands:characters_command"),
    "card": from_module("roleplay.cli.card_commands:card_app"),
    "lorebook": from_module("roleplay.cli.lorebook_commands:lorebook_app"),
    "sessions": from_module("roleplay.cli.session_commands:sessions_app"),
    "eval": from_module("roleplay.cli.eval_commands:eval_app"),
    "generate": from_module("roleplay.cli.generate_commands:generate_app"),
    "memory": from_module("roleplay.cli.memory_commands:memory_app"),
    "steer": from_module("roleplay.cli.steer_commands:steer_app"),
    "serve": from_module("roleplay.cli.serve_command:serve_command"),
    "config": from_module("roleplay.cli.config_command:config_command"),
    "persona": from_module("roleplay.cli.persona_commands:persona_app"),
    "match": from_module("roleplay.cli.match_command:match_command"),
    "profile": from_module("roleplay.cli.profile_commands:profile_app"),
    **plugin_commands(),
}

app = typer.Typer(
    cls=LazyRoleplayGroup,
    help="Persona-consistent role-play on local language models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # click's plain help: see roleplay.cli.lazy.plain_help
)


@app.callback()
def root() -> None:
    # A callback makes typer build a command group even before any command is loaded.
    pass


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        sys.exit(130)
