"""Report files: results.json, results.csv, report.md and one self-contained report.html."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bias_audit.datafiles import bundled_yaml
from bias_audit.metrics import CellStats, DimensionSummary
from bias_audit.personas import BASELINE_ID, Persona
from bias_audit.plots import as_data_uri, rate_plot_png
from bias_audit.probes import DIMENSION_TITLES, ProbeItem
from bias_audit.scoring import Verdict

SCHEMA_ID = "roleplay-bias-audit/2"
EXAMPLES_PER_DIMENSION = 3
CSV_COLUMNS = (
    "persona",
    "persona_label",
    "kind",
    "axis",
    "dimension",
    "n",
    "failures",
    "excluded",
    "rate",
    "ci_low",
    "ci_high",
    "p_value",
    "q_value",
    "above_baseline",
    "below_baseline",
    "measured_by",
)


def limitations() -> list[str]:
    return [str(text) for text in bundled_yaml("limitations.yaml")]


def worst_examples(
    verdicts: Sequence[Verdict], items: dict[tuple[str, str], ProbeItem], labels: dict[str, str]
) -> list[dict[str, Any]]:
    """The failing replies with the highest toxicity, a few per dimension."""
    examples = []
    for dimension in dict.fromkeys(v.dimension for v in verdicts):
        failing = [v for v in verdicts if v.dimension == dimension and v.failed]
        failing.sort(key=lambda v: (-v.toxicity, v.key))
        for verdict in failing[:EXAMPLES_PER_DIMENSION]:
            examples.append(
                {
                    "dimension": dimension,
                    "persona": verdict.persona,
                    "persona_label": labels.get(verdict.persona, verdict.persona),
                    "item": verdict.item,
                    "prompt": items[(dimension, verdict.item)].text,
                    "reply": verdict.reply,
                    "toxicity": round(verdict.toxicity, 4),
                    "detail": verdict.detail,
                }
            )
    return examples


def build_results(
    *,
    metadata: dict[str, Any],
    personas: Sequence[Persona],
    cells: Sequence[CellStats],
    summaries: Sequence[DimensionSummary],
    macro: float | None,
    measured_by: dict[str, str],
    examples: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "schema": SCHEMA_ID,
        "metadata": metadata,
        "personas": [persona.as_dict() for persona in personas],
        "dimensions": [
            {
                **summary.as_dict(),
                "title": DIMENSION_TITLES[summary.dimension],
                "measured_by": measured_by[summary.dimension],
            }
            for summary in summaries
        ],
        "harmful_difference_macro": macro,
        "cells": [{**cell.as_dict(), "measured_by": measured_by[cell.dimension]} for cell in cells],
        "examples": examples,
        "limitations": limitations(),
    }


def write_json(results: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", "utf-8")


def write_csv(results: dict[str, Any], path: Path) -> None:
    personas = {p["id"]: p for p in results["personas"]}
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for cell in results["cells"]:
            persona = personas[cell["persona"]]
            writer.writerow(
                {
                    **{key: cell[key] for key in CSV_COLUMNS if key in cell},
                    "persona_label": persona["label"],
                    "kind": persona["kind"],
                    "axis": persona["axis"],
                }
            )


@cache
def _environment(autoescape: bool) -> Environment:
    environment = Environment(
        loader=PackageLoader("bias_audit", "templates"),
        # HTML: replies are model output and must never become markup.
        autoescape=select_autoescape(["html", "j2"]) if autoescape else False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["pct"] = _pct
    environment.filters["num"] = _num
    environment.filters["pval"] = _pval
    environment.filters["md_cell"] = _md_cell
    return environment


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _pval(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if value >= 0.001 else f"{value:.1e}"


def _md_cell(text: Any) -> str:
    """Markdown table cells: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _view(results: dict[str, Any]) -> dict[str, Any]:
    """What the templates show: per dimension, its summary and its rows (baseline first)."""
    personas = {p["id"]: p for p in results["personas"]}
    sections = []
    for summary in results["dimensions"]:
        rows = [cell for cell in results["cells"] if cell["dimension"] == summary["dimension"]]
        rows.sort(
            key=lambda c: (
                c["persona"] != BASELINE_ID,
                -(c["rate"] if c["rate"] is not None else -1),
            )
        )
        sections.append(
            {
                "summary": summary,
                "rows": [{**row, "persona_info": personas[row["persona"]]} for row in rows],
                "examples": [
                    e for e in results["examples"] if e["dimension"] == summary["dimension"]
                ],
                "gap_label": personas[summary["max_gap_persona"]]["label"]
                if summary["max_gap_persona"]
                else None,
                "flagged_labels": [personas[p]["label"] for p in summary["flagged"]],
                "lower_labels": [personas[p]["label"] for p in summary["lower"]],
            }
        )
    return {"results": results, "meta": results["metadata"], "sections": sections}


def write_markdown(results: dict[str, Any], path: Path) -> None:
    text = _environment(False).get_template("report.md.j2").render(**_view(results))
    path.write_text(text, "utf-8")


def write_html(results: dict[str, Any], cells: Sequence[CellStats], path: Path) -> None:
    labels = {p["id"]: p["label"] for p in results["personas"]}
    view = _view(results)
    for section in view["sections"]:
        dimension = section["summary"]["dimension"]
        in_dimension = [c for c in cells if c.dimension == dimension]
        order = {row["persona"]: index for index, row in enumerate(section["rows"])}
        in_dimension.sort(key=lambda c: order.get(c.persona, 0))
        png = rate_plot_png(
            in_dimension,
            labels,
            DIMENSION_TITLES[dimension],
            f"measured by: {section['summary']['measured_by']}",
        )
        section["plot"] = as_data_uri(png)
    text = _environment(True).get_template("report.html.j2").render(**view)
    path.write_text(text, "utf-8")
