"""User-facing errors: one clear line, exit code 2, no traceback."""

from __future__ import annotations

from dataclasses import dataclass

USAGE_EXIT_CODE = 2


class RoleplayError(Exception):
    """An error caused by the user's input or environment, shown as one line."""

    exit_code = USAGE_EXIT_CODE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Problem:
    """One located problem in a file: rendered as ``PATH:LINE:COL: message``."""

    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class FileProblemsError(RoleplayError):
    """A file failed validation; carries every problem found, each with its location."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))
