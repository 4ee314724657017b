from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_detoxify(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from tests.safety.tiny_detoxify import build_tiny_detoxify

    return build_tiny_detoxify(tmp_path_factory.mktemp("tiny-detoxify"))
