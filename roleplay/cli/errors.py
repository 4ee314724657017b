"""Turn user-facing errors into one line and exit code 2, for every command and sub-command."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from roleplay.engine.base import BackendError
from roleplay.errors import USAGE_EXIT_CODE, RoleplayError

error_console = Console(stderr=True, highlight=False, soft_wrap=True)


def report_error(message: str) -> None:
    error_console.print(f"error: {escape(message)}")


class RoleplayGroup(TyperGroup):
    """The root command group: a RoleplayError from any (sub)command becomes ``error: ...``."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except RoleplayError as error:
            report_error(error.message)
            raise typer.Exit(USAGE_EXIT_CODE) from error
        except BackendError as error:  # the model's side failed (a server, a lost stream)
            report_error(error.message)
            raise typer.Exit(error.exit_code) from error
