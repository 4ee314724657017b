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

# Packages that only an optional part needs, and the extra that installs them.
OPTIONAL_PACKAGES = {"fastapi": "server", "uvicorn": "server", "sse_starlette": "server"}
MISSING_PACKAGE_EXIT_CODE = 1


def missing_package_message(error: ModuleNotFoundError) -> str | None:
    """One line naming a missing third-party package, or None for our own modules (a bug,
    which keeps its traceback)."""
    top = (error.name or "").partition(".")[0]
    if not top or top in {"roleplay", "bias_audit", "tui"}:
        return None
    extra = OPTIONAL_PACKAGES.get(top)
    if extra is not None:
        return f"the package {top!r} is not installed: pip install 'roleplay[{extra}]'"
    return f"the package {top!r} is not installed: reinstall roleplay (pip install roleplay)"


def report_error(message: str) -> None:
    error_console.print(f"error: {escape(message)}")


def report_warning(message: str) -> None:
    error_console.print(f"warning: {escape(message)}")


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
        except ModuleNotFoundError as error:  # a stripped install or a missing extra
            message = missing_package_message(error)
            if message is None:
                raise
            report_error(message)
            raise typer.Exit(MISSING_PACKAGE_EXIT_CODE) from error
