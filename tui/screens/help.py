"""Every key, grouped by where it works, and what the side panel shows."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.group import COMMAND_HELP
from tui.keys import HELP_SECTIONS

PANELS = (
    ("Character", "name, MBTI and Big Five bars (0 to 1)"),
    ("Mood", "the 8 emotions detected in your recent messages"),
    ("Recalled", "memories given to the model for this reply, with their scores"),
    ("Steering", "attribute strengths in force (-1 to 1); adjustable when available"),
    ("Reply", "tokens, speed, how it ended, and a toxicity verdict when scored"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,f1", "close", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box") as box:
            box.border_title = "Keys"
            box.border_subtitle = "Esc closes · ^P searches every action"
            for title, keys in HELP_SECTIONS:
                yield Static(title, classes="help-title", markup=False)
                # A grid, so a long explanation wraps inside its own column.
                with Grid(classes="help-keys"):
                    for key in keys:
                        yield Static(key.label, classes="help-key", markup=False)
                        yield Static(key.description, classes="help-name", markup=False)
                        yield Static(key.help, classes="help-text", markup=False)
            yield Static("Group chat: commands in the input box", classes="help-title")
            with Grid(classes="help-keys help-panels help-commands"):
                for command, text in COMMAND_HELP:
                    yield Static(command, classes="help-key", markup=False)
                    yield Static(text, classes="help-text", markup=False)
            yield Static("Side panel (^T)", classes="help-title")
            with Grid(classes="help-keys help-panels"):
                for name, text in PANELS:
                    yield Static(name, classes="help-key", markup=False)
                    yield Static(text, classes="help-text", markup=False)

    def action_close(self) -> None:
        self.dismiss()
