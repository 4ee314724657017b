"""An error in words instead of a traceback: a broken card, a missing model, a lost session."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static


class ErrorScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "back", "Back"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, title: str, message: str, hint: str = "") -> None:
        super().__init__()
        self.error_title = title
        self.message = message
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(id="error-box") as box:
            box.border_title = "⚠ " + self.error_title
            # Plain text: card errors contain brackets that must not be read as markup.
            yield Static(self.message, id="error-message", markup=False)
            if self.hint:
                yield Static(self.hint, id="error-hint", markup=False)
        yield Footer()

    def action_back(self) -> None:
        self.dismiss()
