"""Every key the app answers to, in one table.

The same entries become the screens' bindings (and so the footer), the help screen's lists
and the command palette's entries, so the three can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen


@dataclass(frozen=True)
class Key:
    keys: str  # Textual key names, comma-separated for alternatives
    action: str
    description: str  # the footer label and the palette title
    help: str = ""  # a longer line for the help screen and the palette
    show: bool = True  # in the footer
    priority: bool = False  # before the focused widget's own bindings
    palette: bool = True  # offered in the command palette
    bind: bool = True  # False: only documented (the key is bound elsewhere)

    def binding(self) -> Binding:
        return Binding(
            self.keys,
            self.action,
            self.description,
            show=self.show,
            priority=self.priority,
            tooltip=self.help,
        )

    @property
    def label(self) -> str:
        """``ctrl+r`` -> ``^R``, ``left,h`` -> ``← / h`` (the help screen's spelling)."""
        return " / ".join(_key_name(key) for key in self.keys.split(","))


def _key_name(key: str) -> str:
    if key.startswith("ctrl+"):
        return "^" + key.removeprefix("ctrl+").upper()
    if key.startswith("alt+"):
        return "Alt+" + key.removeprefix("alt+")
    return _NAMES.get(key, key)


_NAMES = {
    "up": "↑",
    "down": "↓",
    "left": "←",
    "right": "→",
    "escape": "Esc",
    "enter": "Enter",
    "tab": "Tab",
    "pageup": "PgUp",
    "pagedown": "PgDn",
    "minus": "-",
    "plus": "+",
    "f1": "F1",
    "f2": "F2",
    "space": "Space",
    "delete": "Del",
}


def bindings(keys: tuple[Key, ...]) -> list[BindingType]:
    return [key.binding() for key in keys if key.bind]


def palette_commands(screen: Screen[Any], keys: tuple[Key, ...]) -> list[SystemCommand]:
    """Command palette entries running ``screen``'s actions, titled as in the footer."""
    return [
        SystemCommand(key.description, key.help, partial(screen.run_action, key.action))
        for key in keys
        if key.palette
    ]


APP_KEYS: tuple[Key, ...] = (
    Key("f1", "app.help", "Help", "all keys and panels", palette=False),
    # Textual binds ^P itself (and shows it in the footer); listed here for the help screen.
    Key(
        "ctrl+p",
        "app.command_palette",
        "Commands",
        "search every action",
        palette=False,
        bind=False,
    ),
    Key("ctrl+q", "app.quit", "Quit", "leave (everything is already saved)", palette=False),
)

PICKER_KEYS: tuple[Key, ...] = (
    Key("enter", "open", "Open", "start a chat, or resume the highlighted session", show=False),
    Key("n", "new_chat", "New chat", "a new chat with the highlighted character"),
    Key("tab", "switch_list", "Switch list", "move between characters and sessions"),
    Key("r", "reload", "Reload", "read the cards and sessions again"),
    Key("p", "personas", "Personas", "choose who you play (your saved personas)"),
    Key("m", "match", "Match", "characters that suit your persona (similar or complementary)"),
    Key("space", "mark", "Mark", "mark a character for a group chat (again: unmark)", show=False),
    Key("g", "group_chat", "Group chat", "a group scene with the marked characters", show=False),
)

CHAT_KEYS: tuple[Key, ...] = (
    Key("enter", "send", "Send", "send your message", show=False, palette=False),
    Key(
        "escape",
        "stop_or_back",
        "Stop",
        "stop the reply (what was written is kept), or back to typing",
        show=False,
        priority=True,
    ),
    Key("up", "select_messages", "Select", "select messages (from the input box)", show=False),
    Key("ctrl+r", "regenerate", "Regenerate", "a new reply; the old one is kept as a swipe"),
    Key("ctrl+s", "export", "Export", "save the conversation as Markdown (exports folder)"),
    Key("ctrl+t", "toggle_panel", "Panel", "show or hide the mood/memory/steering panel"),
    Key("ctrl+o", "characters", "Characters", "back to the characters and sessions"),
    Key(
        "ctrl+g",
        "personas",
        "Persona",
        "play as another saved persona from the next message",
        show=False,
    ),
    Key("ctrl+l", "profile", "Profile", "what this character knows about you", show=False),
)

GROUP_KEYS: tuple[Key, ...] = (
    Key("f2", "cast", "Cast", "the cast list: choose who speaks, mute, leave, join, order"),
    # Bound one by one below (speak(1) ... speak(8)); one line on the help screen.
    Key(
        "alt+1…8",
        "speak",
        "Speak",
        "the cast's 1st…8th character speaks now (next, while one is speaking)",
        bind=False,
        palette=False,
    ),
)
"""A group scene's keys in the chat (hidden in one-to-one chats)."""

# Before the input box's own keys (it would type the digit); only in a group scene.
SPEAK_KEYS: tuple[Key, ...] = tuple(
    Key(f"alt+{n}", f"speak({n})", f"Speak {n}", show=False, palette=False, priority=True)
    for n in range(1, 9)
)

CAST_KEYS: tuple[Key, ...] = (
    Key("enter", "select", "Speak", "the highlighted character speaks now (also a click)"),
    Key("m", "mute", "Mute", "mute or unmute: a muted character never speaks on its own"),
    Key("l", "leave", "Leave", "the character leaves (it knows nothing said while away)"),
    Key("j", "join", "Join", "a character who left comes back"),
    Key("a", "add", "Add", "a new character joins: type its name after /join"),
    Key("o", "order", "Order", "next speaker order: natural, round-robin, manual"),
)

MESSAGE_KEYS: tuple[Key, ...] = (
    Key(
        "up,k",
        "previous_message",
        "Previous",
        "select the message above",
        show=False,
        palette=False,
    ),
    Key(
        "down,j",
        "next_message",
        "Next",
        "select the message below (past the last: typing)",
        show=False,
        palette=False,
    ),
    Key("left", "swipe(-1)", "Prev swipe", "show the previous kept alternative of a reply"),
    Key("right", "swipe(1)", "Next swipe", "next alternative; past the last, write a new one"),
    Key("r", "regenerate", "Regenerate", "a new alternative for this reply", palette=False),
    Key("e", "edit", "Edit", "edit your message and regenerate from there"),
)

PANEL_KEYS: tuple[Key, ...] = (
    # VerticalScroll's own keys; listed for the help screen.
    Key(
        "tab",
        "app.focus_next",
        "Focus",
        "Tab reaches the side panel (then steering)",
        bind=False,
        palette=False,
    ),
    Key("up,down", "scroll", "Scroll", "scroll the side panel", bind=False, palette=False),
)

STEERING_KEYS: tuple[Key, ...] = (
    Key("up", "move(-1)", "Previous", "choose an attribute", palette=False, show=False),
    Key("down", "move(1)", "Next", "choose an attribute", palette=False, show=False),
    Key("left,minus", "nudge(-1)", "Weaker", "lower the attribute's strength", palette=False),
    Key("right,plus", "nudge(1)", "Stronger", "raise the attribute's strength", palette=False),
)

PERSONA_KEYS: tuple[Key, ...] = (
    Key(
        "enter",
        "choose",
        "Play as",
        "play as the highlighted persona (it becomes the active one)",
    ),
    Key("escape", "back", "Back", "leave without changing who you play", palette=False),
)

PROFILE_KEYS: tuple[Key, ...] = (
    Key("h", "toggle_history", "History", "show or hide superseded facts"),
    Key("e", "edit", "Edit", "correct the selected fact's value (the old one stays as history)"),
    Key("d,delete", "delete", "Delete", "delete the selected fact for good (asks first)"),
    Key("escape", "back", "Back", "back to the chat (or cancel the edit)", palette=False),
)

MATCH_KEYS: tuple[Key, ...] = (
    Key("enter", "open", "Open", "a new chat with the highlighted character", show=False),
    Key("m", "switch_mode", "Mode", "similar or complementary characters"),
    Key("escape", "back", "Back", "back to the characters and sessions", palette=False),
)

CONFIRM_KEYS: tuple[Key, ...] = (
    Key("y", "answer(True)", "Yes", "do it", palette=False),
    Key("n,escape", "answer(False)", "No", "leave it as it is", palette=False),
)

EDIT_KEYS: tuple[Key, ...] = (
    Key("ctrl+s", "save", "Save", "save the edit and regenerate from it"),
    Key("escape", "cancel", "Cancel", "leave the message as it was"),
)

HELP_SECTIONS: tuple[tuple[str, tuple[Key, ...]], ...] = (
    ("Anywhere", APP_KEYS),
    ("Characters & sessions", PICKER_KEYS),
    ("Chat", CHAT_KEYS),
    ("A selected message", MESSAGE_KEYS),
    ("Group chat", GROUP_KEYS),
    ("The cast (F2, in a group chat)", CAST_KEYS),
    ("Side panel", PANEL_KEYS),
    ("Steering (in the side panel)", STEERING_KEYS),
    ("Editing a message", EDIT_KEYS),
    ("Personas (p, ^G)", PERSONA_KEYS),
    ("Profile: what the character knows (^L)", PROFILE_KEYS),
    ("Match: characters for your persona (m)", MATCH_KEYS),
    ("Asked to confirm", CONFIRM_KEYS),
)
