"""A root command group that imports each command's module only when it is used.

`roleplay tui` should paint its first frame fast, and `roleplay sessions list` should not
pay for the card model, the interop package and the pipeline it never touches. Click
looks a command up by name (``get_command``) before running it, so the group keeps
``name -> "module:attribute"`` and imports on first lookup; ``roleplay --help`` lists
every command and therefore imports them all, which is fine there.

An attribute is either a ``typer.Typer`` (a sub-command group such as ``card``) or a
command function (such as ``chat``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any, ClassVar

import typer

from roleplay.cli.errors import RoleplayGroup

PLUGIN_GROUP = "roleplay.commands"


class LazyRoleplayGroup(RoleplayGroup):
    """``RoleplayGroup`` whose commands are imported on first use."""

    # name -> loader returning a typer app or a command function
    lazy_commands: ClassVar[Mapping[str, Callable[[], Any]]] = {}

    # Typed loosely: typer 0.29 vendors click under a private module name.
    def list_commands(self, ctx: Any) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: Any, name: str) -> Any:
        if name not in self.commands and name in self.lazy_commands:
            self.add_command(_as_click_command(name, self.lazy_commands[name]()), name)
        return super().get_command(ctx, name)


def _as_click_command(name: str, target: Any) -> Any:
    if isinstance(target, typer.Typer):
        command: Any = typer.main.get_group(target)
    else:
        # Shell completion is the root's business: no --install-completion on each command.
        single = typer.Typer(add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    plain_help(command)
    return command


def plain_help(command: Any) -> None:
    """Give ``command`` and every command under it click's plain help layout.

    Typer's rich layout shows each flag with a type (``--json <bool>``) and squeezes the
    descriptions into a narrow fourth column at 80 columns; click's plain layout shows
    flags as flags and wraps text to the terminal. Applied here, at the one place every
    command passes through, so plugin commands (the TUI, the audit) get it too.
    """
    command.rich_markup_mode = None
    for child in getattr(command, "commands", {}).values():
        plain_help(child)


def from_module(reference: str) -> Callable[[], Any]:
    """A loader for ``"package.module:attribute"``."""
    module_name, _, attribute = reference.partition(":")

    def load() -> Any:
        return getattr(importlib.import_module(module_name), attribute)

    return load


def plugin_commands() -> dict[str, Callable[[], Any]]:
    """Faces outside the core (the TUI, the audit) register commands through entry points,
    so `roleplay` never imports them directly and dependencies keep pointing one way."""
    return {entry_point.name: entry_point.load for entry_point in entry_points(group=PLUGIN_GROUP)}
