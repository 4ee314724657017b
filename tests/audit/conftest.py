from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def tiny_detoxify(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from tests.safety.tiny_detoxify import build_tiny_detoxify

    return build_tiny_detoxify(tmp_path_factory.mktemp("tiny-detoxify"))


@pytest.fixture(scope="session")
def results_schema() -> dict[str, Any]:
    from bias_audit.datafiles import data_path

    return json.loads(data_path("results.schema.json").read_text("utf-8"))
