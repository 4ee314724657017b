"""The character picker, the sessions list, resuming, and the error screens."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from roleplay.application import open_store
from roleplay.errors import RoleplayError
from roleplay.pipeline import ChatPipeline
from tests.tui.helpers import (
    MIRA,
    SteadyEngine,
    cards_loaded,
    chat,
    chat_ready,
    idle_with,
    scripted_app,
    wait_until,
)
from tui.app import LaunchOptions, RoleplayApp
from tui.screens.error import ErrorScreen
from tui.screens.picker import PickerScreen
from tui.widgets.card_view import CardView

pytestmark = pytest.mark.anyio  # every test here is a coroutine driving the app


def _saved_session(*texts: str) -> str:
    """A session with Mira saved by another face (the CLI) before the app starts."""
    store = open_store()
    pipeline = ChatPipeline(SteadyEngine([f"Reply to {t}" for t in texts]), store)
    conversation = pipeline.start(MIRA, user_name="Ann")
    for text in texts:
        conversation.send(text).text()
    store.close()
    return conversation.session.id


def _user_cards(home: Path) -> None:
    folder = home / "characters"
    folder.mkdir(parents=True)
    text = MIRA.read_text().replace("name: Captain Mira Voss", "name: Mirabel the Second")
    (folder / "mirabel.yaml").write_text(text)
    (folder / "broken.yaml").write_text("name: Broken\npersonality: {big_five: {openness: 2}}\n")


async def test_picker_lists_user_and_bundled_cards_with_big_five(isolated_home: Path) -> None:
    _user_cards(isolated_home)
    app = scripted_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: cards_loaded(app))
        picker = app.screen
        assert isinstance(picker, PickerScreen)
        names = [entry.name for entry in picker.entries]
        assert names[:2] == ["broken", "Mirabel the Second"]  # user cards first
        assert "Captain Mira Voss" in names and "Sable" in names
        # The broken card is listed, highlighted first, and explains itself.
        card_text = str(picker.query_one(CardView).render())
        assert "cannot be opened" in card_text
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen))
        assert "broken.yaml" in app.screen.message
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, PickerScreen))

        await pilot.press("down")
        card_text = str(picker.query_one(CardView).render())
        assert "Mirabel the Second" in card_text and "ISTJ" in card_text
        assert "openness" in card_text and "█" in card_text and "user card" in card_text


async def test_resume_a_session_from_the_list() -> None:
    session_id = _saved_session("Status?", "Course?")
    app = scripted_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: cards_loaded(app))
        picker = app.screen
        assert isinstance(picker, PickerScreen)
        mira = next(i for i, e in enumerate(picker.entries) if e.name == "Captain Mira Voss")
        characters = picker.query_one("#characters")
        characters.highlighted = mira  # type: ignore[attr-defined]
        await pilot.pause()
        sessions = picker.query_one("#sessions")
        assert sessions.option_count == 2  # type: ignore[attr-defined]
        await pilot.press("tab", "down", "enter")
        await wait_until(pilot, lambda: chat_ready(app))
        screen = chat(app)
        assert screen.view.session_id == session_id
        assert [m.content for m in screen.view.messages][1:] == [
            "Status?",
            "Reply to Status?",
            "Course?",
            "Reply to Course?",
        ]
        assert screen.view.user_name == "Ann"
        assert app.last_session_id == session_id


async def test_session_option_opens_the_chat_directly() -> None:
    session_id = _saved_session("Hello")
    app = scripted_app(SteadyEngine(["Again."]), options=LaunchOptions(session=session_id))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: chat_ready(app))
        assert chat(app).view.session_id == session_id
        await pilot.press(*"more", "enter")
        await wait_until(pilot, idle_with(app, 5))


async def test_unknown_character_shows_an_error_screen() -> None:
    app = scripted_app(options=LaunchOptions(character="nobody-at-all"))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen))
        assert "unknown character 'nobody-at-all'" in app.screen.message
        await pilot.press("escape")
        assert isinstance(app.screen, PickerScreen)


async def test_broken_card_path_shows_its_problems(tmp_path: Path) -> None:
    card = tmp_path / "bad.yaml"
    shutil.copy(MIRA, card)
    card.write_text(card.read_text().replace("mbti: ISTJ", "mbti: XXXX"))
    app = scripted_app(options=LaunchOptions(character=str(card)))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen))
        assert "bad.yaml:" in app.screen.message and "MBTI" in app.screen.message


async def test_unknown_session_shows_an_error_screen() -> None:
    app = scripted_app(options=LaunchOptions(session="feedfacecafe"))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen))
        assert "unknown session 'feedfacecafe'" in app.screen.message


async def test_a_missing_model_shows_an_error_screen_not_a_traceback() -> None:
    def missing() -> ChatPipeline:
        raise RoleplayError("/nowhere/model: no such model folder or file")

    app = RoleplayApp(pipeline_factory=missing, cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen))
        assert app.screen.message == "/nowhere/model: no such model folder or file"
        assert app.model_status.model_state == "failed"
        await pilot.press("q")
    assert app.return_code == 0
