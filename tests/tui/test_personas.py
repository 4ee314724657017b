"""Personas, the profile panel and character matches, driven like a user would."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from rich.console import Group
from rich.padding import Padding
from textual.pilot import Pilot
from textual.widgets import DataTable, OptionList, Static

from roleplay.application import open_store
from roleplay.personas.store import active_persona, add_persona, use_persona
from roleplay.profile.store import ProfileStore
from tests.tui.helpers import (
    SteadyEngine,
    cards_loaded,
    chat,
    chat_ready,
    idle_with,
    open_chat_with_first_character,
    record_notifications,
    scripted_app,
    send,
    wait_until,
)
from tui.app import LaunchOptions, RoleplayApp
from tui.screens.chat import ChatScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.match import MatchScreen
from tui.screens.personas import PersonaScreen
from tui.screens.picker import PickerScreen
from tui.screens.profile import ProfileScreen

pytestmark = pytest.mark.anyio  # every test here is a coroutine driving the app

MIRA_NAME = "Captain Mira Voss"


def add_personas() -> None:
    add_persona(
        "Alex",
        "A night-owl student who collects old maps.",
        big_five={
            "openness": 0.85,
            "conscientiousness": 0.3,
            "extraversion": 0.2,
            "agreeableness": 0.8,
            "neuroticism": 0.4,
        },
        mbti="INFP",
    )
    add_persona("Captain", "Commands a small trading ship.", mbti="ESTJ", use=True)


def plain(prompt: object) -> str:
    """An option's text: Content, a Rich Text, or a group of them (padded)."""
    if isinstance(prompt, Group):
        return "\n".join(plain(part) for part in prompt.renderables)
    if isinstance(prompt, Padding):
        return plain(prompt.renderable)
    return str(prompt)


def option_texts(option_list: OptionList) -> list[str]:
    count = option_list.option_count
    return [plain(option_list.get_option_at_index(i).prompt) for i in range(count)]


async def wait_for_picker(pilot: Pilot[Any], app: RoleplayApp) -> None:
    await wait_until(pilot, lambda: app.pipeline is not None and cards_loaded(app))


def status_text(app: RoleplayApp) -> str:
    return str(app.screen.query_one("#status", Static).render())


async def test_persona_screen_lists_marks_the_active_one_and_chooses() -> None:
    add_personas()
    app = scripted_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_picker(pilot, app)
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PersonaScreen))
        screen = app.screen
        assert isinstance(screen, PersonaScreen)
        texts = option_texts(screen.query_one("#personas", OptionList))
        assert texts == ["  Alex INFP", "● Captain ESTJ"]  # sorted; ● the active one
        detail = str(screen.query_one("#persona-detail", Static).render())
        assert "Captain" in detail and "Commands a small trading ship." in detail
        assert "derived from the MBTI type" in detail  # no Big Five of its own

        await pilot.press("up")  # Alex: Big Five bars, MBTI, description
        detail = str(screen.query_one("#persona-detail", Static).render())
        assert "INFP" in detail and "openness" in detail and "0.85" in detail
        assert "collects old maps" in detail

        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PickerScreen))
        assert app.identity.name == "Alex" and app.identity.persona_id == "Alex"
        active = active_persona()
        assert active is not None and active.name == "Alex"
        assert "as Alex" in status_text(app)

        # The next chat is Alex's, with the persona stored in the session.
        await pilot.press("enter")
        await wait_until(pilot, lambda: chat_ready(app))
        view = chat(app).view
        assert view is not None and view.user_name == "Alex"
        store = open_store()
        session = store.get_session(view.session_id)
        store.close()
        assert session.user_name == "Alex"
        assert session.metadata["persona"] == {
            "name": "Alex",
            "description": "A night-owl student who collects old maps.",
            "id": "Alex",
        }
        assert "as Alex" in status_text(app)


async def test_escape_leaves_the_persona_unchanged() -> None:
    add_personas()
    app = scripted_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_picker(pilot, app)
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PersonaScreen))
        await pilot.press("up", "escape")
        await wait_until(pilot, lambda: isinstance(app.screen, PickerScreen))
        assert app.identity.name == "User"
        active = active_persona()
        assert active is not None and active.name == "Captain"


async def test_no_personas_says_how_to_add_one() -> None:
    app = scripted_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_picker(pilot, app)
        await pilot.press("p", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PersonaScreen))
        detail = str(app.screen.query_one("#persona-detail", Static).render())
        assert "roleplay persona add" in detail
        assert isinstance(app.screen, PersonaScreen)  # Enter with nothing to choose stays


async def test_choosing_a_persona_inside_a_chat_switches_the_session() -> None:
    add_personas()
    engine = SteadyEngine(["Noted, Alex."])
    app = scripted_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        assert screen.view is not None and screen.view.user_name == "User"
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: isinstance(app.screen, PersonaScreen))
        await pilot.press("up", "enter")  # Alex
        await wait_until(
            pilot,
            lambda: (
                isinstance(app.screen, ChatScreen)
                and screen.view is not None
                and screen.view.user_name == "Alex"
            ),
        )
        assert "as Alex" in status_text(app)
        session_id = screen.view.session_id
        store = open_store()
        session = store.get_session(session_id)
        store.close()
        assert session.user_name == "Alex"
        assert session.metadata["persona"]["description"].startswith("A night-owl")

        await send(pilot, "Hello.")
        await wait_until(pilot, idle_with(app, 3))
        assert "collects old maps" in engine.prompts[-1]  # the character knows who you are


def _facts(user: str = "User") -> ProfileStore:
    days = itertools.count(1_735_732_800, 86_400)  # 2025-01-01, then a day later each time
    store = ProfileStore(clock=lambda: float(next(days)))
    store.record(user, MIRA_NAME, "diet", "vegetarian", source="added")
    store.record(user, MIRA_NAME, "home", "Bergen", source="added")
    store.record(user, MIRA_NAME, "home", "Oslo", source="added")  # Bergen becomes history
    store.record(user, MIRA_NAME, "likes", "jazz", source="added")
    store.record(user, "Sable", "diet", "vegan", source="added")  # another character's
    return store


def _table_values(screen: ProfileScreen) -> list[list[str]]:
    table = screen.query_one("#facts", DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def test_profile_panel_shows_toggles_deletes_and_edits() -> None:
    _facts().close()
    app = scripted_app(options=LaunchOptions(character="mira"))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: chat_ready(app))
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: isinstance(app.screen, ProfileScreen))
        screen = app.screen
        assert isinstance(screen, ProfileScreen)
        assert _table_values(screen) == [
            ["diet", "vegetarian", "2025-01-01"],
            ["home", "Oslo", "2025-01-03"],
            ["likes", "jazz", "2025-01-04"],
        ]
        await pilot.press("h")  # with the history
        rows = _table_values(screen)
        assert [row[:2] for row in rows] == [
            ["diet", "vegetarian"],
            ["home", "Oslo"],
            ["likes", "jazz"],
            ["home", "Bergen"],
        ]
        assert rows[3][3].startswith("2025-01-03 by #")
        await pilot.press("h")
        assert len(_table_values(screen)) == 3

        # Delete the diet (first row), after saying yes.
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")  # no: nothing changes
        await wait_until(pilot, lambda: app.screen is screen)
        assert len(_table_values(screen)) == 3
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: len(_table_values(screen)) == 2)
        store = ProfileStore()
        assert [f.slot for f in store.current("User", MIRA_NAME)] == ["home", "likes"]

        # Edit the home (now the first row).
        await pilot.press("e")
        editor = screen.editor
        assert editor.display and editor.has_focus and editor.value == "Oslo"
        editor.value = "Oslo, Norway"
        await pilot.press("enter")
        await wait_until(pilot, lambda: not editor.display)
        assert [f.value for f in store.current("User", MIRA_NAME)] == ["jazz", "Oslo, Norway"]
        assert [f.value for f in store.current("User", "Sable")] == ["vegan"]  # untouched
        store.close()

        # Esc cancels an edit, then goes back to the chat.
        await pilot.press("e", "x", "escape")
        assert not editor.display and isinstance(app.screen, ProfileScreen)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen))


async def test_a_damaged_profile_store_is_one_line(isolated_home: Path) -> None:
    isolated_home.mkdir(parents=True, exist_ok=True)
    (isolated_home / "profile.sqlite3").write_bytes(b"this is not a database\n" * 200)
    app = scripted_app(options=LaunchOptions(character="mira"))
    notes = record_notifications(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: chat_ready(app))
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: any(n.severity == "error" for n in notes))
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen))
        error = next(n for n in notes if n.severity == "error")
        assert "profile.sqlite3" in error.message and "\n" not in error.message


async def test_match_lists_reasons_switches_mode_and_opens_a_chat() -> None:
    add_personas()
    use_persona("Alex")
    # As `roleplay tui` starts with the active persona.
    alex = LaunchOptions(user_name="Alex", persona_description="Maps.", persona_id="Alex")
    app = scripted_app(options=alex)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_picker(pilot, app)
        await pilot.press("m")
        await wait_until(
            pilot, lambda: isinstance(app.screen, MatchScreen) and app.screen.report is not None
        )
        screen = app.screen
        assert isinstance(screen, MatchScreen) and screen.report is not None
        assert screen.report.persona.name == "Alex" and screen.report.mode == "similar"
        texts = option_texts(screen.query_one("#matches", OptionList))
        assert len(texts) == len(screen.report.matches) >= 3
        assert texts[0].startswith(" 1  Pip Marigold  0.80  pip")
        assert "both open (0.85, you 0.85)" in texts[0]

        await pilot.press("m")
        await wait_until(
            pilot, lambda: screen.report is not None and screen.report.mode == "complementary"
        )
        first = screen.report.matches[0]
        assert "complementary" in option_texts(screen.query_one("#matches", OptionList))[0]

        await pilot.press("enter")
        await wait_until(pilot, lambda: chat_ready(app))
        view = chat(app).view
        assert view is not None and view.character == first.card_name
        assert view.user_name == "Alex"
        # The match screen gave way to the chat: leaving the chat goes back to the picker.
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, PickerScreen))


@pytest.mark.parametrize(
    ("with_persona", "expected"),
    [(False, "no persona"), (True, "has no Big Five or MBTI")],
)
async def test_match_without_a_usable_persona_is_a_notice(
    with_persona: bool, expected: str
) -> None:
    if with_persona:
        add_persona("Plain", "No personality given.", use=True)
    app = scripted_app()
    notes = record_notifications(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_picker(pilot, app)
        await pilot.press("m")
        await wait_until(pilot, lambda: any(expected in n.message for n in notes))
        screen = app.screen
        assert isinstance(screen, MatchScreen)
        assert screen.notice is not None and "\n" not in screen.notice
        await pilot.press("enter")  # nothing to open: stays
        assert isinstance(app.screen, MatchScreen)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, PickerScreen))


async def test_the_palette_offers_the_new_screens() -> None:
    app = scripted_app(options=LaunchOptions(character="mira"))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: chat_ready(app))
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Persona", "Profile"} <= titles
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, PickerScreen))
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Personas", "Match"} <= titles
        picker_commands = {c.title: c for c in app.get_system_commands(app.screen)}
        await picker_commands["Match"].callback()  # run_action: a coroutine
        await wait_until(pilot, lambda: isinstance(app.screen, MatchScreen))
        await wait_until(pilot, lambda: getattr(app.screen, "notice", None) is not None)
