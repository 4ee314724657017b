"""The controller's input error: a one-line ``RoleplayError`` that is also a ``ValueError``.

Being a ``RoleplayError`` makes the CLI print it on one line and exit 2; being a
``ValueError`` lets library callers catch it the way they catch transformers' own
validation errors.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from roleplay.errors import RoleplayError


class ControlError(RoleplayError, ValueError):
    """Bad controller input: unknown attribute, non-numeric strength, bad grammar..."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, else the list of choices."""
    options = sorted(choices)
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (known: {', '.join(options)})" if options else ""
