"""Text bars for scores: Big Five traits, the eight emotions, steering strengths.

Pure functions returning plain strings, so they are trivially testable and render the same
in any widget. Eighth-block characters give 8 steps per cell, which keeps small bars (8-12
cells, what fits beside a chat at 80 columns) readable.
"""

from __future__ import annotations

import math

_EIGHTHS = " ▏▎▍▌▋▊▉"
FULL = "█"
TRACK = "·"


def _clamp(value: float, low: float, high: float) -> float:
    if math.isnan(value):
        return low
    return max(low, min(high, value))


def bar(value: float, width: int = 10) -> str:
    """``value`` in [0, 1] as a left-aligned bar exactly ``width`` cells wide."""
    if width <= 0:
        return ""
    eighths = round(_clamp(value, 0.0, 1.0) * width * 8)
    full, rest = divmod(eighths, 8)
    text = FULL * full + (_EIGHTHS[rest] if rest else "")
    return text + TRACK * (width - len(text))


def filled_cells(value: float, width: int) -> int:
    """How many of ``width`` cells a value in [0, 1] fills (for bars drawn as backgrounds)."""
    return round(_clamp(value, 0.0, 1.0) * max(width, 0))


def signed_bar(value: float, width: int = 11, limit: float = 1.0) -> str:
    """``value`` in [-limit, limit] as a bar growing left or right of a centre mark.

    Steering strengths are signed (toward or away from a trait), so a one-sided bar would
    hide the direction.
    """
    if width < 3:
        return ""
    limit = limit if limit > 0 else 1.0
    half = (width - 1) // 2
    cells = round(_clamp(abs(value) / limit, 0.0, 1.0) * half)
    left = TRACK * half
    right = TRACK * (width - 1 - half)
    if value < 0:
        left = TRACK * (half - cells) + FULL * cells
    elif value > 0:
        right = FULL * cells + TRACK * (width - 1 - half - cells)
    return left + "│" + right


def shorten(text: str, width: int) -> str:
    """One line of at most ``width`` characters, with an ellipsis when cut."""
    line = " ".join(text.split())
    if len(line) <= width:
        return line
    return line[: max(width - 1, 0)].rstrip() + "…"
