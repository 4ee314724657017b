"""A missing optional package is named in one line with the extra that installs it."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from roleplay.cli.errors import missing_package_message
from roleplay.cli.main import app


def test_serve_without_the_server_extra_names_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # `import uvicorn` now fails
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines == [
        "error: the package 'uvicorn' is not installed: pip install 'roleplay[server]'"
    ]


def test_a_missing_core_package_asks_for_a_reinstall() -> None:
    message = missing_package_message(ModuleNotFoundError("no", name="chromadb.api"))
    assert message == (
        "the package 'chromadb' is not installed: reinstall roleplay (pip install roleplay)"
    )


def test_our_own_missing_module_is_a_bug_not_an_install_problem() -> None:
    assert missing_package_message(ModuleNotFoundError("no", name="roleplay.nowhere")) is None
