"""The side panel (mood, memories, steering, reply), the toxicity badge and the palette."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from roleplay.application import open_store
from roleplay.pipeline import ChatPipeline
from tests.tui.helpers import (
    MIRA,
    FakeController,
    SteadyEngine,
    apply_strengths,
    chat,
    chat_ready,
    idle_with,
    open_chat_with_first_character,
    scripted_app,
    send,
    wait_until,
)
from tui.app import LaunchOptions
from tui.widgets.turn_panel import SteeringControl

pytestmark = pytest.mark.anyio  # every test here is a coroutine driving the app


def _text(screen: object, selector: str) -> str:
    widget = screen.query_one(selector, Static)  # type: ignore[attr-defined]
    return str(widget.render()) if widget.display else ""


async def test_without_memory_or_controller_the_panel_only_explains() -> None:
    app = scripted_app(SteadyEngine(["Plain."]))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        await send(pilot, "Hi")
        await wait_until(pilot, idle_with(app, 3))
        assert _text(screen, "#panel-mood") == ""
        assert _text(screen, "#panel-memories") == ""
        assert not screen.query_one(SteeringControl).display
        assert "appear here" in _text(screen, "#panel-hint")
        assert "tokens" in _text(screen, "#panel-reply")
        assert "conscientiousness"[:5] in _text(screen, "#panel-character")


async def test_mood_memories_and_steering_appear_when_present() -> None:
    app = scripted_app(SteadyEngine(["Noted."]), with_features=True)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        await send(pilot, "Do you remember the Perihelion?")
        await wait_until(pilot, idle_with(app, 3))
        mood = _text(screen, "#panel-mood")
        assert "fear" in mood and "0.70" in mood and "█" in mood
        memories = _text(screen, "#panel-memories")
        assert "0.83" in memories and "Perihelion" in memories
        steering = screen.query_one(SteeringControl)
        assert steering.display and steering.strengths == {"warmth": 0.4, "formality": -0.2}
        assert "│" in str(steering.render())
        assert _text(screen, "#panel-hint") == ""
        # A stored reply keeps mood and memory scores: selecting it shows them again.
        await pilot.press("up")
        assert "0.83" in _text(screen, "#panel-memories")


async def test_steering_is_adjusted_with_keys_through_the_adjuster() -> None:
    controllers: list[FakeController] = []
    calls: list[dict[str, float]] = []

    def adjuster(conversation, strengths):  # type: ignore[no-untyped-def]
        calls.append(dict(strengths))
        controllers.append(conversation.controller)
        apply_strengths(conversation, strengths)

    app = scripted_app(SteadyEngine(["Warmer now."]), with_features=True, steering=adjuster)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        steering = screen.query_one(SteeringControl)
        assert steering.display  # controls are shown from the start, before any reply
        steering.focus()
        await pilot.press("right", "right")
        await wait_until(pilot, lambda: len(calls) == 2)
        assert calls[-1] == {"warmth": 0.5, "formality": -0.2}
        await pilot.press("down", "left")
        await wait_until(pilot, lambda: len(calls) == 3)
        assert calls[-1] == {"warmth": 0.5, "formality": -0.25}
        assert "next reply" in str(steering.render())
        assert controllers[-1].strengths == {"warmth": 0.5, "formality": -0.25}
        await send(pilot, "Hello")
        await wait_until(pilot, idle_with(app, 3))
        reply = screen.view.messages[-1]
        assert reply.metadata["controls"]["steering"]["strengths"]["warmth"] == 0.5


async def test_steering_is_read_only_without_an_adjuster() -> None:
    app = scripted_app(SteadyEngine(["Ok."]), with_features=True)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        steering = screen.query_one(SteeringControl)
        assert steering.display and not steering.can_focus


async def test_flagged_replies_carry_a_toxicity_badge() -> None:
    store = open_store()
    conversation = ChatPipeline(SteadyEngine(["x"]), store).start(MIRA)
    conversation.send("Say something rude").text()
    reply = conversation.messages()[-1]
    flagged = store.append_message(
        conversation.session.id,
        "assistant",
        "Something rude.",
        parent_id=reply.parent_id,
        metadata={"toxicity": {"score": 0.91, "flagged": True, "scorer": "detoxify"}},
    )
    session_id = conversation.session.id
    store.close()

    app = scripted_app(options=LaunchOptions(session=session_id))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: chat_ready(app))
        screen = chat(app)
        last = screen.log_view.boxes()[-1]
        assert last.message_id == flagged.id
        header = str(last.query_one(".message-header").render())
        assert "⚠ toxic 0.91" in header and "2/2" in header
        assert "0.91 flagged" in _text(screen, "#panel-reply")
        await pilot.press("up", "left")  # the earlier alternative was not scored
        await wait_until(pilot, lambda: screen.view.messages[-1].swipe_index == 1)
        assert "toxic" not in str(screen.log_view.boxes()[-1].query_one(".message-header").render())


async def test_every_action_is_in_the_command_palette() -> None:
    app = scripted_app(SteadyEngine(["Ok."]))
    async with app.run_test(size=(100, 30)) as pilot:
        picker_titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Help", "New chat", "Reload", "Switch list", "Quit"} <= picker_titles
        await open_chat_with_first_character(pilot, app)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {
            "Help",
            "Stop",
            "Regenerate",
            "Export",
            "Export to the current folder",
            "Panel",
            "Characters",
            "Prev swipe",
            "Next swipe",
            "Edit",
        } <= titles


async def test_the_palette_runs_an_action() -> None:
    app = scripted_app(SteadyEngine(["One.", "Two."]))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        await send(pilot, "Hi")
        await wait_until(pilot, idle_with(app, 3))
        await pilot.press("ctrl+p")
        await pilot.press(*"Regenerate")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: idle_with(app, 3)() and screen.view.messages[-1].content == "Two."
        )
