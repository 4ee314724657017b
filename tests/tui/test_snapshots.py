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
    FailingEngine,
    StallingEngine,
    SteadyEngine,
    cards_loaded,
    chat,
    chat_ready,
    idle_with,
    live_text,
    scripted_app,
    send,
    toast_regions,
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


def test_reply_failed_notification(snap_compare: SnapCompare) -> None:
    # The model fails before its first word: an error notification, above the input box;
    # the message is kept, no reply is stored, and the box is ready for the next one.
    engine = FailingEngine(RuntimeError("CUDA out of memory [device 0]"), ["Unused."], after=0)
    app = scripted_app(engine, options=LaunchOptions(character="mira"))

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: chat_ready(app))
        await send(pilot, "Why is our heading off?")
        await wait_until(pilot, lambda: idle_with(app, 2)() and bool(toast_regions(app)))
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_stopped_at_80x24(snap_compare: SnapCompare) -> None:
    # Esc after five words: the notice is on the status line, the input box stays clear.
    engine = StallingEngine([" ".join(f"word{i}" for i in range(40))], after=5)
    app = scripted_app(engine, options=LaunchOptions(character="mira"))

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: chat_ready(app))
        await send(pilot, "Report, navigator.")
        await wait_until(pilot, lambda: engine.stalled.is_set() and "word4" in live_text(chat(app)))
        await pilot.press("escape")
        await wait_until(pilot, idle_with(app, 3))
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_panel_at_80x24(snap_compare: SnapCompare) -> None:
    # The side panel shown at 80 columns: trait and steering names whole.
    strengths = {"conscientiousness": 0.35, "agreeableness": -0.2, "neuroticism": -0.45}
    app = scripted_app(
        options=LaunchOptions(character="mira"), with_features=True, strengths=strengths
    )

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: chat_ready(app))
        await pilot.press("ctrl+t")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def _personas() -> None:
    from tests.tui.test_personas import add_personas

    add_personas()  # Alex (Big Five, INFP) and Captain (ESTJ only, active)


def test_personas(snap_compare: SnapCompare) -> None:
    _personas()
    app = scripted_app()
    assert snap_compare(app, press=["p", "up"], terminal_size=SIZE, run_before=_ready(app))


def test_profile_panel(snap_compare: SnapCompare) -> None:
    from roleplay.profile.store import ProfileStore
    from tui.screens.profile import ProfileScreen

    days = itertools.count(FIXED_NOW, 86_400.0)
    store = ProfileStore(clock=lambda: next(days))
    for slot, value in [
        ("diet", "vegetarian"),
        ("home", "Bergen"),
        ("home", "Oslo"),
        ("pet:cat", "Miso"),
        ("likes", "jazz"),
    ]:
        store.record("User", "Captain Mira Voss", slot, value, source="added")
    store.close()
    app = scripted_app(options=LaunchOptions(character="mira"))

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: chat_ready(app))
        await pilot.press("ctrl+l", "h")
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, ProfileScreen) and len(app.screen.facts) == 5,
        )
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_match(snap_compare: SnapCompare) -> None:
    _personas()
    options = LaunchOptions(user_name="Alex", persona_id="Alex", persona_description="Maps.")
    app = scripted_app(options=options)

    async def run_before(pilot: Pilot[Any]) -> None:
        await _ready(app)(pilot)
        await pilot.press("m")
        await wait_until(pilot, lambda: getattr(app.screen, "report", None) is not None)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_group_view(snap_compare: SnapCompare) -> None:
    # Three characters: Sable muted, Pip gone; lines from each; the user switched persona
    # (Ann, then Kes) and the old line keeps Ann's name.
    from roleplay.groups.scene import start_group
    from tui.backend import Identity
    from tui.group import GroupSession

    store = open_store()
    engine = SteadyEngine(
        [
            "Quiet on the long-range scopes. *Sable doesn't look up.*",
            "*Pip waves a wrench.* Engines purring, captain!",
            "Welcome to the helm, Kes. Hold this heading.",
        ]
    )
    cards = [MIRA, MIRA.parent / "sable.yaml", MIRA.parent / "pip.yaml"]
    scene = start_group(ChatPipeline(engine, store), cards, user_name="Ann")
    group = GroupSession(scene)
    group.send("Status report, everyone.")
    scene.reply("sable").text()
    scene.reply("pip").text()
    scene.mute("sable")
    scene.leave("pip")
    group.use_persona(Identity("Kes"))
    group.send("Kes here, taking the helm.")
    scene.reply("mira").text()
    session_id = scene.session.id
    store.close()
    app = scripted_app(options=LaunchOptions(session=session_id))

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: chat_ready(app))
        await wait_until(pilot, idle_with(app, 7))
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_group_round_at_80x24(snap_compare: SnapCompare) -> None:
    # Manual order: Sable was chosen and is speaking; Pip, chosen meanwhile, speaks next.
    engine = StallingEngine([" ".join(f"word{i}" for i in range(40))], after=5)
    options = LaunchOptions(character="mira,sable,pip", order="manual")
    app = scripted_app(engine, options=options)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: chat_ready(app))
        await send(pilot, "Who has the watch?")
        await wait_until(pilot, idle_with(app, 2))
        await pilot.press("alt+2")
        await wait_until(pilot, lambda: engine.stalled.is_set() and "word4" in live_text(chat(app)))
        await pilot.press("alt+3")
        await wait_until(pilot, lambda: "speaks next" in chat(app).status.status.note)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
