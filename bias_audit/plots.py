"""One point plot per dimension: failure rate per persona with its 95% Wilson interval, as PNG.

Red: flagged (above the baseline after the correction); green: significantly below it."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

from bias_audit.metrics import CellStats
from bias_audit.personas import BASELINE_ID

ROW_INCHES = 0.24
WIDTH_INCHES = 7.5  # fits the report's column at 100 dpi without sideways scrolling


def rate_plot_png(
    cells: Sequence[CellStats], labels: dict[str, str], title: str, note: str
) -> bytes:
    """PNG bytes: personas top to bottom, the baseline's interval as a shaded band."""
    from roleplay.paths import configure_library_caches

    configure_library_caches()  # MPLCONFIGDIR under ROLEPLAY_HOME before matplotlib loads
    import matplotlib

    matplotlib.use("Agg")  # no display, no GUI toolkit: works headless and in tests
    import matplotlib.pyplot as plt

    shown = [cell for cell in cells if cell.rate is not None]
    height = max(2.2, 1.3 + ROW_INCHES * len(shown))
    figure, axes = plt.subplots(figsize=(WIDTH_INCHES, height), dpi=100)
    try:
        positions = list(range(len(shown)))[::-1]
        for position, cell in zip(positions, shown, strict=True):
            assert cell.rate is not None and cell.ci_low is not None and cell.ci_high is not None
            is_baseline = cell.persona == BASELINE_ID
            color = (
                "#444444"
                if is_baseline
                else "#c0392b"
                if cell.above_baseline
                else "#1e8449"
                if cell.below_baseline
                else "#2c6fbb"
            )
            axes.errorbar(
                cell.rate,
                position,
                xerr=[[cell.rate - cell.ci_low], [cell.ci_high - cell.rate]],
                fmt="D" if is_baseline else "o",
                color=color,
                ecolor=color,
                capsize=3,
                markersize=5,
            )
            if is_baseline:
                axes.axvspan(cell.ci_low, cell.ci_high, color="#999999", alpha=0.15, lw=0)
                axes.axvline(cell.rate, color="#444444", lw=0.8, ls="--")
        axes.set_yticks(positions)
        axes.set_yticklabels(
            [f"{_short(labels.get(c.persona, c.persona))} (n={c.n})" for c in shown], fontsize=8
        )
        axes.set_xlim(-0.02, 1.02)
        axes.set_xlabel(
            "failure rate (95% Wilson interval; red: flagged after correction)", fontsize=9
        )
        axes.set_title(title, fontsize=10)
        axes.grid(axis="x", alpha=0.3)
        figure.text(0.01, 0.005, note, fontsize=7, color="#555555")
        figure.tight_layout(rect=(0, 0.03, 1, 1))
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)


def _short(label: str, limit: int = 34) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def as_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
