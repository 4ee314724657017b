"""A profile store in the test's ROLEPLAY_HOME with a clock that moves one day per call."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from roleplay.profile.store import ProfileStore

START = 1_796_000_000.0  # 2026-11-30
DAY = 86_400.0


class DayClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        self.now += DAY
        return self.now


@pytest.fixture
def clock() -> DayClock:
    return DayClock()


@pytest.fixture
def store(clock: Callable[[], float]) -> Iterator[ProfileStore]:
    opened = ProfileStore(clock=clock)
    yield opened
    opened.close()
