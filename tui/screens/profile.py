"""What the chat's character knows about the user: the profile facts (docs/profile.md).

The facts of one (user, character) pair from ``<home>/profile.sqlite3``, as
``roleplay profile list`` shows them; ``h`` adds the superseded ones (history), ``e`` corrects
the selected fact's value (the old value stays as history), ``d`` deletes it for good after a
question. The store is thread-safe and its calls are short, so they run on the UI thread.
A store that cannot be opened is reported in one line and the chat stays as it was.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from tui.backend import describe_error
from tui.bars import shorten
from tui.keys import PROFILE_KEYS, bindings, palette_commands
from tui.screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from roleplay.profile.store import Fact, ProfileStore

ERROR_SECONDS = 10.0


def day(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d")


def superseded(fact: Fact) -> str:
    if fact.superseded_at is None:
        return ""
    by = f" by #{fact.superseded_by}" if fact.superseded_by is not None else " (retired)"
    return f"{day(fact.superseded_at)}{by}"


class ProfileScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = bindings(PROFILE_KEYS)
    AUTO_FOCUS = "#facts"

    def __init__(self, user: str, character: str) -> None:
        super().__init__()
        self.user = user
        self.character = character
        self.store: ProfileStore | None = None
        self.facts: list[Fact] = []  # in the table's order
        self.with_history = False
        self.editing: Fact | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="profile-body"):
            table: DataTable[str | Text] = DataTable(id="facts", cursor_type="row")
            yield table
            yield Input(id="fact-editor", placeholder="The corrected value")
            yield Static(id="profile-hint", markup=False)
        yield Footer()

    @property
    def table(self) -> DataTable[str | Text]:
        return self.query_one("#facts", DataTable)

    @property
    def editor(self) -> Input:
        return self.query_one("#fact-editor", Input)

    def on_mount(self) -> None:
        self.table.border_title = (
            f"What {shorten(self.character, 30)} knows about {shorten(self.user, 24)}"
        )
        self.editor.display = False
        # Imported here: the profile store reads its rules (YAML) on first use.
        from roleplay.profile.store import ProfileStore

        try:
            self.store = ProfileStore()
        except Exception as error:  # a damaged file: one line, back to the chat
            self._error(f"The profile could not be read: {describe_error(error)}")
            self.app.call_later(self.dismiss)
            return
        self.reload()

    def on_unmount(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None

    def _error(self, text: str) -> None:
        # Plain text: a path or an SQLite message may hold brackets that are not markup.
        self.app.notify(text, severity="error", timeout=ERROR_SECONDS, markup=False)

    def reload(self, keep: int | None = None) -> None:
        """Read the facts again; the cursor stays on row ``keep`` (or the nearest)."""
        if self.store is None:
            return
        try:
            facts = self.store.facts(
                user=self.user, character=self.character, include_history=self.with_history
            )
        except Exception as error:
            self._error(f"The profile could not be read: {describe_error(error)}")
            return
        # Current facts first (oldest first, as recalled), then the history.
        self.facts = [f for f in facts if f.current] + [f for f in facts if not f.current]
        table = self.table
        table.clear(columns=True)
        columns = ["slot", "value", "since"] + (["superseded"] if self.with_history else [])
        table.add_columns(*columns)
        for fact in self.facts:
            style = "" if fact.current else "dim"
            cells = [fact.slot, shorten(fact.value, 60), day(fact.created_at)]
            if self.with_history:
                cells.append(superseded(fact))
            table.add_row(*(Text(cell, style=style) for cell in cells), key=str(fact.id))
        if self.facts:
            table.move_cursor(row=min(keep or 0, len(self.facts) - 1))
        self._hint()

    def _hint(self) -> None:
        current = sum(1 for fact in self.facts if fact.current)
        if not self.facts:
            text = (
                f"{self.character} knows nothing about {self.user} yet: it learns what you "
                'tell it ("I\'m vegetarian", "my cat is called Miso").'
            )
        else:
            plural = "" if current == 1 else "s"
            text = f"{current} current fact{plural}"
            if self.with_history:
                text += f", {len(self.facts) - current} superseded (dimmed)"
            else:
                text += " (h shows the superseded ones)"
        self.query_one("#profile-hint", Static).update(text)

    def selected(self) -> Fact | None:
        row = self.table.cursor_row
        return self.facts[row] if self.facts and 0 <= row < len(self.facts) else None

    # Actions ----------------------------------------------------------------------------------

    def action_toggle_history(self) -> None:
        self.with_history = not self.with_history
        self.reload()

    def action_delete(self) -> None:
        fact = self.selected()
        if fact is None or self.editing is not None:
            return
        row = self.table.cursor_row

        def answered(yes: bool | None) -> None:
            if not yes or self.store is None:
                return
            try:
                self.store.delete(fact.id)
            except Exception as error:
                self._error(f"Deleting the fact failed: {describe_error(error)}")
            self.reload(keep=row)

        self.app.push_screen(
            ConfirmScreen(
                f"Delete what {self.character} knows as {fact.slot}: {fact.value!r}, for good?",
                title="Delete a fact",
            ),
            answered,
        )

    def action_edit(self) -> None:
        fact = self.selected()
        if fact is None:
            return
        if not fact.current:
            self.notify("That fact is history; edit a current one.")
            return
        self.editing = fact
        editor = self.editor
        editor.value = fact.value
        editor.border_title = f"New value for {fact.slot} (Enter saves, Esc cancels)"
        editor.display = True
        editor.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        fact, self.editing = self.editing, None
        self._close_editor()
        if fact is None or self.store is None:
            return
        row = self.table.cursor_row
        try:
            self.store.edit(fact.id, event.value)
        except Exception as error:  # an empty value, a fact superseded meanwhile
            self._error(f"Editing the fact failed: {describe_error(error)}")
        self.reload(keep=row)

    def _close_editor(self) -> None:
        self.editor.display = False
        self.table.focus()

    def action_back(self) -> None:
        if self.editing is not None:
            self.editing = None
            self._close_editor()
            return
        self.dismiss()

    def palette_commands(self) -> list[SystemCommand]:
        return palette_commands(self, PROFILE_KEYS)
