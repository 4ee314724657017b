"""The one check every bad-input CLI test makes: exit 2, one `error:` line, no traceback."""

from __future__ import annotations

from typing import Any


def assert_one_line_error(result: Any, *fragments: str) -> str:
    """``result`` (a CliRunner result) failed as bad input should; returns the line."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return str(lines[0])
