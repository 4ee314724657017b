"""Fixtures for running benchmark scripts end to end in a test."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def bench_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch ``benchmarks/out`` (returned) and ``ROLEPLAY_HOME`` for one script run.

    Scripts swap in a scratch home of their own; setting both variables here makes sure
    they are put back afterwards, and the converted models stay shared."""
    from benchmarks import common
    from roleplay import paths

    monkeypatch.setattr(common, "OUT_DIR", tmp_path)
    monkeypatch.setenv("ROLEPLAY_MODELS_DIR", str(paths.models_dir()))
    monkeypatch.setenv("ROLEPLAY_HOME", str(tmp_path / "home"))
    return tmp_path
