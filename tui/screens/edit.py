"""Edit one of the user's messages; saving branches the conversation from the new text."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, TextArea

from tui.keys import EDIT_KEYS, bindings


class EditScreen(ModalScreen[str | None]):
    """Dismisses with the new text, or None when cancelled or unchanged."""

    BINDINGS: ClassVar[list[BindingType]] = bindings(EDIT_KEYS)

    def __init__(self, text: str, *, cursor_blink: bool = True) -> None:
        super().__init__()
        self.original = text
        self.cursor_blink = cursor_blink

    def compose(self) -> ComposeResult:
        with Vertical(id="edit-box") as box:
            box.border_title = "Edit your message"
            box.border_subtitle = "^S save and regenerate · Esc cancel"
            editor = TextArea(self.original, id="editor", soft_wrap=True, show_line_numbers=False)
            editor.cursor_blink = self.cursor_blink
            yield editor
        yield Footer()

    def on_mount(self) -> None:
        editor = self.query_one(TextArea)
        editor.focus()
        editor.move_cursor(editor.document.end)

    def action_save(self) -> None:
        text = self.query_one(TextArea).text.strip()
        self.dismiss(text if text and text != self.original.strip() else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
