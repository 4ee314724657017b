"""Checks shared by the audit tests: every report file exists and parses."""

from __future__ import annotations

import base64
import csv
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_reports(out: Path, schema: dict[str, Any], dimensions: int) -> dict[str, Any]:
    """Validate results.json, results.csv, report.md and report.html; return the results."""
    results = json.loads((out / "results.json").read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(results, schema, cls=jsonschema.Draft202012Validator)
    with (out / "results.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(results["personas"]) * dimensions == len(results["cells"])
    assert {(r["persona"], r["dimension"]) for r in rows} == {
        (c["persona"], c["dimension"]) for c in results["cells"]
    }
    markdown = (out / "report.md").read_text("utf-8")
    for summary in results["dimensions"]:
        assert f"## {summary['title']}" in markdown
    assert results["metadata"]["scorer"]["description"] in markdown

    html = (out / "report.html").read_text("utf-8")
    parser = _Collector()
    parser.feed(html)
    parser.close()
    images = [attrs for tag, attrs in parser.tags if tag == "img"]
    assert len(images) == dimensions
    for attrs in images:
        source = attrs["src"] or ""
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    # One self-contained file: nothing is loaded from anywhere else.
    for tag, attrs in parser.tags:
        for name in ("src", "href"):
            value = attrs.get(name)
            if value is not None and tag != "img":
                assert value.startswith("#"), (tag, value)
    assert not any(tag in {"script", "link", "iframe"} for tag, _ in parser.tags)
    assert sum(1 for tag, _ in parser.tags if tag == "table") == dimensions + 1
    text = " ".join(parser.text)
    assert results["metadata"]["scorer"]["description"] in text
    assert "Limitations" in text and str(results["metadata"]["seed"]) in text
    return results
