"""Once end to end with a real (tiny, random-weight) transformers model instead of a script."""

from __future__ import annotations

from pathlib import Path

import pytest

from roleplay.application import open_store
from roleplay.engine.base import GenerationSettings
from roleplay.pipeline import ChatPipeline
from tests.tui.helpers import chat, chat_ready, idle_with, send, wait_until
from tui.app import LaunchOptions, RoleplayApp
from tui.backend import ChatTarget
from tui.screens.picker import PickerScreen

pytestmark = pytest.mark.anyio  # every test here is a coroutine driving the app


async def test_chat_regenerate_swipe_and_resume_with_a_tiny_model(tiny_model_dir: Path) -> None:
    def build() -> ChatPipeline:
        # Loaded by the app's loader, on its pipeline thread, like the real model.
        from roleplay.engine.transformers_engine import TransformersEngine

        engine = TransformersEngine.load(str(tiny_model_dir), context_window=2048)
        settings = GenerationSettings(max_new_tokens=12, min_new_tokens=4, seed=7)
        return ChatPipeline(engine, open_store(), settings=settings)

    app = RoleplayApp(LaunchOptions(character="sable"), pipeline_factory=build, cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: chat_ready(app), timeout=30)
        screen = chat(app)
        await send(pilot, "Who sent you?")
        await wait_until(pilot, idle_with(app, 3), timeout=30)
        first = screen.view.messages[-1]
        assert first.role == "assistant" and first.content
        assert first.metadata["tokens"] >= 4
        assert "tok/s" in str(screen.status.render())

        await pilot.press("ctrl+r")
        await wait_until(
            pilot, lambda: idle_with(app, 3)() and screen.view.messages[-1].swipe_count == 2
        )
        await pilot.press("up", "left")
        await wait_until(pilot, lambda: screen.view.messages[-1].id == first.id)

        session_id = screen.view.session_id
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, PickerScreen))
        app.open_chat(ChatTarget(session_id=session_id))
        await wait_until(pilot, lambda: chat_ready(app))
        resumed = chat(app)
        assert [m.id for m in resumed.view.messages] == [m.id for m in screen.view.messages]
