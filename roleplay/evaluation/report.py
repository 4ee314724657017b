"""Persona-fidelity output: JSON, rich tables and a small PNG plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich import box
from rich.table import Table

from roleplay.cards.model import BIG_FIVE_TRAITS
from roleplay.evaluation.intervals import Bounds, FidelityIntervals
from roleplay.evaluation.metrics import CharacterFidelity
from roleplay.evaluation.persona import MethodResult, PersonaReport
from roleplay.evaluation.plan import (
    CONDITION_LABELS,
    CONDITION_SHORT,
    METHOD_DESCRIPTIONS,
    Method,
)
from roleplay.evaluation.questionnaire import load_interview_settings
from roleplay.evaluation.verdict import confounded, trait_signals, unmeasurable, verdict_lines

JSON_NAME = "persona_fidelity.json"
PLOT_NAME = "persona_fidelity.png"
DRIFT_PLOT_NAME = "persona_drift.png"


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def character_json(fidelity: CharacterFidelity) -> dict[str, Any]:
    return {
        "name": fidelity.character,
        "mae": _round(fidelity.mae),
        "acc_dim": _round(fidelity.acc_dim),
        "full": fidelity.full,
        "traits": {
            trait: {
                "card": comparison.card,
                "estimate": _round(comparison.estimate),
                "abs_error": _round(comparison.abs_error),
                "counted": comparison.counted,
                "correct": comparison.correct,
            }
            for trait, comparison in fidelity.traits.items()
        },
    }


def _bounds(bounds: Bounds | None) -> list[float] | None:
    return None if bounds is None else [round(bounds[0], 4), round(bounds[1], 4)]


def _intervals_json(intervals: FidelityIntervals | None) -> dict[str, Any] | None:
    if intervals is None:
        return None
    return {
        "method": "percentile bootstrap over characters and items",
        "confidence": intervals.confidence,
        "resamples": intervals.resamples,
        "characters": intervals.characters,
        "items": intervals.items,
        "acc_dim": _bounds(intervals.acc_dim),
        "mae": _bounds(intervals.mae),
        "trait_acc": {trait: _bounds(b) for trait, b in intervals.trait_acc.items()},
        "holds": {
            name: {trait: round(share, 4) for trait, share in traits.items()}
            for name, traits in intervals.holds.items()
        },
    }


def _result_json(result: MethodResult) -> dict[str, Any]:
    overall = result.overall
    return {
        "method": result.method.value,
        "condition": result.condition.value,
        "turns": result.turns,
        "mae": _round(overall.mae),
        "acc_dim": _round(overall.acc_dim),
        "acc_full": _round(overall.acc_full),
        "counted_dims": overall.counted_dims,
        "trait_mae": {trait: _round(value) for trait, value in overall.trait_mae.items()},
        "trait_acc": {trait: _round(value) for trait, value in overall.trait_acc.items()},
        "intervals": _intervals_json(result.intervals),
        "trait_signal": {
            trait: {
                "status": signal.status,
                "spread": round(signal.spread, 4),
                "correlation": _round(signal.correlation),
                "follows": (
                    {"trait": signal.follows, "correlation": _round(signal.follows_correlation)}
                    if signal.follows
                    else None
                ),
            }
            for trait, signal in trait_signals(result).items()
        },
        "unmeasurable": unmeasurable(result),
        "confounded": confounded(result),
        "verdict": verdict_lines(result),
        "notes": result.notes,
        "characters": [character_json(fidelity) for fidelity in result.characters],
    }


def report_json(report: PersonaReport) -> dict[str, Any]:
    settings = load_interview_settings()
    return {
        "model": report.model_id,
        "questionnaire": "IPIP-50 Big-Five factor markers",
        "seconds": round(report.seconds, 2),
        "accuracy": {
            "midpoint": settings.accuracy.midpoint,
            "exclusion_margin": settings.accuracy.exclusion_margin,
            "rule": "cards with |score - midpoint| < margin are left out of Acc(Dim)/Acc(Full)",
        },
        "likelihood_scale": settings.likelihood.scale,
        "methods": {method.value: METHOD_DESCRIPTIONS[method] for method in report.methods},
        "conditions": {c.value: CONDITION_LABELS[c] for c in report.conditions},
        "characters": [
            {"name": c.name, "card": str(c.path), "big_five": c.card_traits}
            for c in report.characters
        ],
        "likelihood_reference": [c.name for c in report.reference],
        "after_turns": [turns for turns in report.checkpoints if turns],
        "conversation_seed": report.conversation_seed,
        "results": [_result_json(result) for result in report.results],
        "controls": report.controls,
    }


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def with_interval(
    value: float | None, bounds: Bounds | None, digits: int = 2, *, bounds_digits: int = 2
) -> str:
    """``0.73 [0.55, 0.86]`` (the value alone when there is no interval)."""
    if value is None:
        return "-"
    if bounds is None:
        return f"{value:.{digits}f}"
    low, high = bounds
    return f"{value:.{digits}f} [{low:.{bounds_digits}f}, {high:.{bounds_digits}f}]"


def headline_result(report: PersonaReport) -> MethodResult:
    """The result a verdict is given for: likelihood if it ran (the method with signal on
    small models), else the first method; under the last condition (the most parts)."""
    method = Method.LIKELIHOOD if Method.LIKELIHOOD in report.methods else report.methods[0]
    return report.result(method, report.conditions[-1])


def summary_table(report: PersonaReport) -> Table:
    """One row per method x condition: MAE, Acc(Dim), Acc(Full)."""
    table = Table(
        title=f"Persona fidelity ({len(report.characters)} characters, IPIP-50)",
        box=box.SIMPLE,
        pad_edge=False,
    )
    table.add_column("method", no_wrap=True)
    table.add_column("condition", no_wrap=True)
    if report.drift:
        table.add_column("turns", justify="right", no_wrap=True)
    for column in ("MAE", "Acc(Dim)", "Full", "dims"):
        table.add_column(column, justify="right", no_wrap=True)
    for result in report.results:
        overall, intervals = result.overall, result.intervals
        table.add_row(
            result.method.value,
            CONDITION_SHORT[result.condition],
            *([str(result.turns)] if report.drift else []),
            with_interval(overall.mae, intervals.mae if intervals else None, 3, bounds_digits=2),
            with_interval(overall.acc_dim, intervals.acc_dim if intervals else None),
            _number(overall.acc_full),
            str(overall.counted_dims),
        )
    table.caption = (
        "conditions add up: prompt, +ctrl (steering), +mem (recalled memories); Full = "
        "Acc(Full); dims = (character, trait) pairs counted: card scores within 0.1 of 0.5 "
        "are not; [ ] = 95% bootstrap interval over characters and items"
    )
    return table


def trait_table(report: PersonaReport) -> Table:
    """Acc(Dim) per trait for each method x condition."""
    table = Table(title="Acc(Dim) per trait", box=box.SIMPLE)
    table.add_column("method")
    table.add_column("condition")
    if report.drift:
        table.add_column("turns", justify="right")
    for trait in BIG_FIVE_TRAITS:
        table.add_column(trait[0].upper(), justify="right")
    for result in report.results:
        intervals = result.intervals
        table.add_row(
            result.method.value,
            CONDITION_SHORT[result.condition],
            *([str(result.turns)] if report.drift else []),
            # The interval goes under the value: five traits side by side must fit 80 columns.
            *(
                with_interval(
                    result.overall.trait_acc[trait],
                    intervals.trait_acc[trait] if intervals else None,
                ).replace(" [", "\n[")
                for trait in BIG_FIVE_TRAITS
            ),
        )
    return table


def character_table(result: MethodResult) -> Table:
    """Estimate vs card per trait for each character (a mark when the side is wrong)."""
    table = Table(
        title=f"{result.method.value} - {CONDITION_LABELS[result.condition]}: estimate (card)",
        box=box.SIMPLE,
    )
    table.add_column("character")
    for trait in BIG_FIVE_TRAITS:
        table.add_column(trait[0].upper(), justify="right")
    table.add_column("MAE", justify="right")
    for fidelity in result.characters:
        cells = []
        for trait in BIG_FIVE_TRAITS:
            comparison = fidelity.traits[trait]
            mark = {True: "", False: " ✗", None: " ·"}[comparison.correct]
            cells.append(f"{comparison.estimate:.2f} ({comparison.card:.2f}){mark}")
        table.add_row(fidelity.character, *cells, f"{fidelity.mae:.3f}")
    table.caption = "✗ wrong side of 0.5; · card too close to 0.5 to count"
    return table


def _error_bars(values: list[float], bounds: list[Bounds | None]) -> list[list[float]] | None:
    """Matplotlib's asymmetric ``yerr`` from intervals (None when any is missing)."""
    if any(b is None for b in bounds):
        return None
    below = [max(v - b[0], 0.0) for v, b in zip(values, bounds, strict=True) if b]
    above = [max(b[1] - v, 0.0) for v, b in zip(values, bounds, strict=True) if b]
    return [below, above]


def write_plot(report: PersonaReport, path: Path) -> Path:
    """Grouped bars: Acc(Dim) and MAE per method, one bar per condition."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = report.methods
    conditions = report.conditions
    width = 0.8 / max(len(conditions), 1)
    # At the start of the conversation; drift has its own plot (write_drift_plot).
    figure, (accuracy_axis, error_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for offset, condition in enumerate(conditions):
        positions = [m + (offset - (len(conditions) - 1) / 2) * width for m in range(len(methods))]
        chosen = [report.result(method, condition) for method in methods]
        label = CONDITION_LABELS[condition]
        accuracies = [r.overall.acc_dim or 0.0 for r in chosen]
        errors = [r.overall.mae for r in chosen]
        accuracy_axis.bar(
            positions,
            accuracies,
            width=width,
            label=label,
            yerr=_error_bars(
                accuracies, [r.intervals.acc_dim if r.intervals else None for r in chosen]
            ),
        )
        error_axis.bar(
            positions,
            errors,
            width=width,
            label=label,
            yerr=_error_bars(errors, [r.intervals.mae if r.intervals else None for r in chosen]),
        )
    for axis, title in ((accuracy_axis, "Acc(Dim) (higher is better)"), (error_axis, "MAE")):
        axis.set_xticks(range(len(methods)), [method.value for method in methods])
        axis.set_title(title)
    accuracy_axis.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="chance")
    accuracy_axis.set_ylim(0, 1)
    handles, labels = accuracy_axis.get_legend_handles_labels()
    # Below the plots: inside an axis the legend hides bars whatever corner it takes.
    figure.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8)
    figure.suptitle(f"Persona fidelity on {report.model_id} ({len(report.characters)} characters)")
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def write_drift_plot(report: PersonaReport, path: Path) -> Path:
    """Acc(Dim) and MAE against turns played, one line per condition (headline method)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    method = headline_result(report).method
    turns = report.checkpoints
    figure, (accuracy_axis, error_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for condition in report.conditions:
        chosen = [report.result(method, condition, t) for t in turns]
        accuracies = [r.overall.acc_dim or 0.0 for r in chosen]
        errors = [r.overall.mae for r in chosen]
        label = CONDITION_LABELS[condition]
        accuracy_axis.errorbar(
            turns,
            accuracies,
            yerr=_error_bars(
                accuracies, [r.intervals.acc_dim if r.intervals else None for r in chosen]
            ),
            marker="o",
            capsize=3,
            label=label,
        )
        error_axis.errorbar(
            turns,
            errors,
            yerr=_error_bars(errors, [r.intervals.mae if r.intervals else None for r in chosen]),
            marker="o",
            capsize=3,
            label=label,
        )
    for axis, title in ((accuracy_axis, "Acc(Dim) (higher is better)"), (error_axis, "MAE")):
        axis.set_xticks(turns)
        axis.set_xlabel("turns of the scripted conversation before the interview")
        axis.set_title(title)
    accuracy_axis.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="chance")
    accuracy_axis.set_ylim(0, 1)
    handles, labels = accuracy_axis.get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8)
    figure.suptitle(
        f"Drift on {report.model_id} ({len(report.characters)} characters, {method.value})"
    )
    figure.tight_layout(rect=(0, 0.09, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
