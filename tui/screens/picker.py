"""Pick a character (bundled and user cards) or resume a saved session."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, cast

from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, OptionList
from textual.widgets.option_list import Option

from roleplay.errors import RoleplayError
from tui.backend import ChatTarget, Identity, describe_error
from tui.bars import shorten
from tui.keys import PICKER_KEYS, bindings, palette_commands
from tui.widgets.card_view import CardView
from tui.widgets.status_line import StatusLine

if TYPE_CHECKING:
    from roleplay.cards.registry import CardEntry
    from roleplay.sessions import Session
    from tui.app import RoleplayApp

NEW_CHAT = "new"
# A preview line reads better without Markdown emphasis marks.
_MARKUP = re.compile(r"[*_`]+")
MAX_SESSIONS = 50


def when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def character_option(index: int, entry: CardEntry, *, marked: bool = False) -> Option:
    """One card; ``marked``: chosen for a group chat (``space``)."""
    if entry.card is None:
        prompt = Content.assemble(("⚠ ", "$error"), (entry.path.name, "dim strike"))
    else:
        mbti = entry.card.personality.mbti or ""
        prompt = Content.assemble(
            ("✓ " if marked else "", "bold $accent"),
            (shorten(entry.name, 20 if marked else 22), "bold"),
            (f" {mbti}", "$accent"),
            (" ·you" if entry.source == "user" else "", "dim"),
        )
    return Option(prompt, id=str(index))


def session_option(session: Session, messages: int, last_line: str) -> Option:
    """Two lines: when, how long, which; then how it ended (as far as fits). A group scene
    says so, with its cast, on a line of its own."""
    plural = "" if messages == 1 else "s"
    members = group_members(session)
    cast = ("\n  group: " + shorten(", ".join(members), 46), "$accent") if members else ("", "")
    return Option(
        Content.assemble(
            (when(session.updated_at), "$secondary"),
            (f"  {messages} message{plural}  ", ""),
            (f"{session.id} · as {session.user_name}", "dim"),
            cast,
            ("\n  " + shorten(_MARKUP.sub("", last_line), 48), "dim italic"),
        ),
        id=session.id,
    )


def group_members(session: Session) -> list[str]:
    """A group scene's members by name (``roleplay.groups.scene``'s record); [] otherwise."""
    group = session.metadata.get("group")
    members = group.get("members") if isinstance(group, dict) else None
    if not isinstance(members, list):
        return []
    return [str(m["name"]) for m in members if isinstance(m, dict) and "name" in m]


def sessions_with(sessions: list[Session], name: str) -> list[Session]:
    """The sessions with the character ``name``: its own chats and the scenes it is in."""
    return [s for s in sessions if s.character == name or name in group_members(s)]


class PickerScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = bindings(PICKER_KEYS)
    AUTO_FOCUS = "#characters"

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[CardEntry] = []
        self.marked: list[int] = []  # entries chosen for a group chat, in the order marked

    @property
    def roleplay(self) -> RoleplayApp:
        return cast("RoleplayApp", self.app)

    def compose(self) -> ComposeResult:
        with Horizontal(id="picker-body"):
            with Vertical(id="characters-pane"):
                yield OptionList(id="characters")
            with Vertical(id="detail-pane"):
                yield CardView(id="card")
                yield OptionList(id="sessions")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#characters").border_title = "Characters"
        self.query_one("#sessions").border_title = "Sessions"
        self.watch(self.roleplay, "identity", self._identity_changed, init=True)
        self.action_reload()

    def _identity_changed(self, identity: Identity) -> None:
        self.query_one(StatusLine).set(user=identity.name)
        if self.entries:  # {{user}} in the card's text is the new name
            self._show_card()

    class CardsLoaded(Message):
        def __init__(self, entries: list[CardEntry], error: str | None = None) -> None:
            super().__init__()
            self.entries, self.error = entries, error

    def on_screen_resume(self) -> None:
        # Back from a chat: its session moved to the top of the list.
        self._show_sessions()

    def action_reload(self) -> None:
        # A line of text rather than a loading animation: the first frame shows the whole
        # layout, and an animation would compete for the CPU with the reading.
        characters = self.query_one("#characters", OptionList)
        characters.clear_options()
        characters.add_option(Option(Content.styled("reading the cards…", "dim"), disabled=True))
        self._cards_worker()

    @work(thread=True, group="cards", exclusive=True, exit_on_error=False)
    def _cards_worker(self) -> None:
        # Off the UI thread: card validation (pydantic) is the slowest part of starting up,
        # and the first frame should not wait for it.
        from roleplay.cards.registry import list_cards

        try:
            self.post_message(self.CardsLoaded(list_cards()))
        except Exception as error:  # an unreadable characters folder: say so, stay open
            self.post_message(self.CardsLoaded([], error=describe_error(error)))

    def on_picker_screen_cards_loaded(self, message: CardsLoaded) -> None:
        self.entries = message.entries
        self.marked = []
        characters = self.query_one("#characters", OptionList)
        self.roleplay.start_loading()  # now the model may have the CPU
        characters.clear_options()
        characters.add_options(character_option(i, e) for i, e in enumerate(self.entries))
        if message.error is not None:
            self.notify(
                message.error,
                title="The characters could not be read",
                severity="error",
                markup=False,
            )
        if self.entries:
            characters.highlighted = 0
        self._show_card()

    def highlighted_entry(self) -> CardEntry | None:
        index = self.query_one("#characters", OptionList).highlighted
        return self.entries[index] if index is not None and index < len(self.entries) else None

    def _show_card(self) -> None:
        entry = self.highlighted_entry()
        self.query_one(CardView).show(entry, self.roleplay.user_name)
        self.query_one("#card").border_title = entry.name if entry else "No character"
        self._show_sessions()

    def _show_sessions(self) -> None:
        entry = self.highlighted_entry()
        sessions_list = self.query_one("#sessions", OptionList)
        sessions_list.clear_options()
        if entry is None or entry.card is None:
            return
        sessions_list.add_option(
            Option(Content.styled(f"+ New chat with {entry.name}", "bold $primary"), id=NEW_CHAT)
        )
        try:
            store = self.roleplay.store
            sessions = sessions_with(store.list_sessions(), entry.name)[:MAX_SESSIONS]
            for session in sessions:
                branch = store.branch(session.id)
                last = branch[-1].content if branch else "(empty)"
                sessions_list.add_option(session_option(session, len(branch), last))
        except RoleplayError as error:
            self.notify(error.message, title="Sessions unavailable", severity="error", markup=False)
        sessions_list.border_title = f"Sessions with {shorten(entry.name, 30)}"
        sessions_list.highlighted = 0

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_list.id == "characters":
            self._show_card()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id == "characters" or event.option_id == NEW_CHAT:
            self.action_new_chat()
        elif event.option_id is not None:
            self.roleplay.open_chat(ChatTarget(session_id=event.option_id))

    def action_open(self) -> None:
        sessions_list = self.query_one("#sessions", OptionList)
        if sessions_list.has_focus and sessions_list.highlighted is not None:
            option = sessions_list.get_option_at_index(sessions_list.highlighted)
            if option.id and option.id != NEW_CHAT:
                self.roleplay.open_chat(ChatTarget(session_id=option.id))
                return
        self.action_new_chat()

    def action_new_chat(self) -> None:
        entry = self.highlighted_entry()
        if entry is None:
            return
        if entry.card is None:
            self.roleplay.show_error(
                f"{entry.path.name} cannot be opened",
                entry.error or "invalid card",
                hint="Fix the card (roleplay card validate PATH lists every problem).",
            )
            return
        card = entry.card.substituted(self.roleplay.user_name)
        self.roleplay.open_chat(ChatTarget(card_path=entry.path, label=entry.name, card=card))

    def action_mark(self) -> None:
        """Mark (or unmark) the highlighted character for a group chat."""
        index = self.query_one("#characters", OptionList).highlighted
        entry = self.highlighted_entry()
        if index is None or entry is None or entry.card is None:
            return
        if index in self.marked:
            self.marked.remove(index)
        else:
            self.marked.append(index)
        characters = self.query_one("#characters", OptionList)
        marked = index in self.marked
        characters.replace_option_prompt_at_index(
            index, character_option(index, entry, marked=marked).prompt
        )
        names = ", ".join(self.entries[i].name for i in self.marked)
        self.notify(
            f"Marked for a group chat: {names} · g starts it" if names else "Nothing marked.",
            timeout=4,
            markup=False,
        )

    def action_group_chat(self) -> None:
        """A group scene with the marked characters (two or more), in the order marked."""
        if len(self.marked) < 2:
            self.notify("Mark two or more characters with space, then press g.", timeout=5)
            return
        entries = [self.entries[i] for i in self.marked]
        characters = self.query_one("#characters", OptionList)
        for index in self.marked:
            characters.replace_option_prompt_at_index(
                index, character_option(index, self.entries[index]).prompt
            )
        self.marked = []
        self.roleplay.open_chat(
            ChatTarget(
                members=tuple(entry.path for entry in entries),
                group=True,
                label=", ".join(entry.name for entry in entries),
            )
        )

    def action_personas(self) -> None:
        self.roleplay.show_personas()

    def action_match(self) -> None:
        from tui.screens.match import MatchScreen

        self.app.push_screen(MatchScreen())

    def action_switch_list(self) -> None:
        characters = self.query_one("#characters", OptionList)
        target = "#sessions" if characters.has_focus else "#characters"
        self.query_one(target, OptionList).focus()

    def palette_commands(self) -> list[SystemCommand]:
        return palette_commands(self, PICKER_KEYS)
