"""Screenshots of the main screens, compared with the accepted SVGs in __snapshots__/.

Update after an intended change with
`pytest tests/tui/test_snapshots.py --snapshot-update` and look at the report.
Everything shown is pinned: a scripted engine with fixed timings, fixed session ids and
clock, UTC, no blinking cursor, an empty ROLEPLAY_HOME (conftest) and no colour overrides
from the environment.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from textual.pilot import Pilot

import roleplay.sessions
from roleplay.application import open_store
from roleplay.pipeline import ChatPipeline
from tests.tui.helpers import (
    MIRA,
    SteadyEngine,
    cards_loaded,
    chat_ready,
    idle_with,
    scripted_app,
    send,
    wait_until,
)
from tui.app import LaunchOptions

SIZE = (100, 30)
FIXED_NOW = 1_735_732_800.0  # 2025-01-01 12:00 UTC

SnapCompare = Callable[..., bool]


@pytest.fixture(autouse=True)
def pinned_world(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        user_setting = name.startswith("TEXTUAL") and not name.startswith("TEXTUAL_SNAPSHOT")
        if user_setting or name in ("NO_COLOR", "FORCE_COLOR", "COLORTERM"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    ids = (f"{n:012x}" for n in itertools.count(0x5E55_1000_0001))
    monkeypatch.setattr(
        roleplay.sessions, "uuid", SimpleNamespace(uuid4=lambda: SimpleNamespace(hex=next(ids)))
    )
    monkeypatch.setattr(roleplay.sessions, "time", SimpleNamespace(time=lambda: FIXED_NOW))
    yield
    monkeypatch.undo()
    time.tzset()


def _ready(app: Any) -> Callable[[Pilot[Any]], Any]:
    async def wait(pilot: Pilot[Any]) -> None:
        await wait_until(
            pilot, lambda: app.model_status.model_state == "ready" and cards_loaded(app)
        )
        await pilot.pause()

    return wait


def test_picker(snap_compare: SnapCompare) -> None:
    store = open_store()
    conversation = ChatPipeline(SteadyEngine(["*He blinks.* Oh. Yes. The blue form."]), store)
    elias = conversation.start(MIRA.parent / "elias.yaml", user_name="Ann")
    elias.send("Do you have the archive key?").text()
    store.close()
    app = scripted_app()
    assert snap_compare(app, terminal_size=SIZE, run_before=_ready(app))


def test_chat_with_a_reply(snap_compare: SnapCompare) -> None:
    engine = SteadyEngine(
        ["*Mira glances at the plot.* Half a degree is **sensor drift**. Recalibrate, then report."]
    )
    app = scripted_app(engine, options=LaunchOptions(character="mira"), with_features=True)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: chat_ready(app))
        await send(pilot, "Why is our heading off?")
        await wait_until(pilot, idle_with(app, 3))
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_chat_at_80x24(snap_compare: SnapCompare) -> None:
    engine = SteadyEngine(["Noted. *She marks the log.* Carry on, navigator."])
    app = scripted_app(engine, options=LaunchOptions(character="mira"))

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: chat_ready(app))
        await send(pilot, "Drift logs checked, captain.")
        await wait_until(pilot, idle_with(app, 3))
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_help(snap_compare: SnapCompare) -> None:
    app = scripted_app()
    assert snap_compare(app, press=["f1"], terminal_size=SIZE, run_before=_ready(app))
