"""A group scene's cast: who is present, muted or away, who speaks now and next.

Enter on a name (or a click) makes that character speak now, as the CLI's ``/as NAME``;
while a round is running it speaks next. The other keys change the scene (``CAST_KEYS``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui.backend import GroupView, MemberView
from tui.bars import shorten
from tui.group import ORDERS
from tui.keys import CAST_KEYS, bindings
from tui.widgets.message import TINTS

NAME_WIDTH = 21  # what fits beside the marker in the pane (app.tcss: #cast-pane)

ORDER_NOTES = {
    "natural": "whoever you name speaks first, then others by talkativeness",
    "round-robin": "each present character in turn",
    "manual": "nobody speaks until you choose",
}


def tint_style(index: int) -> str:
    return TINTS[index % len(TINTS)]


def member_content(
    member: MemberView, index: int, order: str, *, speaking: bool, upcoming: int | None
) -> Content:
    """Two lines: a marker and the name; then what the character is doing."""
    name = shorten(member.name, NAME_WIDTH)
    if not member.present:
        head = Content.assemble(("○ ", "dim"), (name, "dim strike"))
        return head + Content.styled("\n  away", "dim italic")
    colour = tint_style(index)
    if speaking:
        marker, state, style = "▶ ", "speaking…", "bold $accent"
    elif upcoming == 0:
        marker, state, style = "▶ ", "speaks next", "bold $primary"
    elif upcoming is not None:
        marker, state, style = "› ", f"then, #{upcoming + 1}", "$primary"
    elif member.muted:
        marker, state, style = "◌ ", "muted", "italic $text-warning"
    elif order == "natural":
        marker, state, style = "● ", f"talkative {member.talkativeness:.0%}", "dim"
    else:
        marker, state, style = "● ", "here", "dim"
    if member.muted and (speaking or upcoming is not None):
        state += " · muted"
    return Content.assemble(
        (marker, colour), (name, f"bold {colour}"), ("\n  ", ""), (state, style)
    )


class CastList(OptionList):
    """The members, one option each (id: the name)."""

    BINDINGS: ClassVar[list[BindingType]] = bindings(CAST_KEYS)

    class Command(Message):
        """The user asked for a scene change: ``command`` is a slash command's name."""

        def __init__(self, command: str, name: str) -> None:
            super().__init__()
            self.command, self.name = command, name

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.group: GroupView | None = None

    def show(self, group: GroupView, *, speaking: str | None, upcoming: Sequence[str]) -> None:
        self.group = group
        keep = self.highlighted
        self.clear_options()
        for index, member in enumerate(group.members):
            place = upcoming.index(member.name) if member.name in upcoming else None
            content = member_content(
                member, index, group.order, speaking=member.name == speaking, upcoming=place
            )
            self.add_option(Option(content, id=member.name))
        if group.members:
            self.highlighted = min(keep or 0, len(group.members) - 1)

    def highlighted_member(self) -> MemberView | None:
        if self.group is None or self.highlighted is None:
            return None
        members = self.group.members
        return members[self.highlighted] if self.highlighted < len(members) else None

    @on(OptionList.OptionSelected)
    def _speak(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option_id is not None:
            self.post_message(self.Command("as", event.option_id))

    def _command(self, command: str) -> None:
        member = self.highlighted_member()
        if member is not None:
            self.post_message(self.Command(command, member.name))

    def action_mute(self) -> None:
        member = self.highlighted_member()
        if member is not None:
            self._command("unmute" if member.muted else "mute")

    def action_leave(self) -> None:
        self._command("leave")

    def action_join(self) -> None:
        self._command("join")

    def action_order(self) -> None:
        if self.group is not None:
            following = ORDERS[(ORDERS.index(self.group.order) + 1) % len(ORDERS)]
            self.post_message(self.Command("order", following))

    def action_add(self) -> None:
        self.post_message(self.Command("add", ""))


class CastPane(Vertical):
    """The cast list over a note on the speaker order."""

    def __init__(self, group: GroupView, id: str | None = None) -> None:
        super().__init__(id=id)
        self._first = group

    def compose(self) -> ComposeResult:
        yield CastList(id="cast")
        yield Static(id="cast-hint")

    def on_mount(self) -> None:
        self.border_title = "Cast"
        self.show(self._first)

    @property
    def cast(self) -> CastList:
        return self.query_one(CastList)

    def show(
        self, group: GroupView, *, speaking: str | None = None, upcoming: Sequence[str] = ()
    ) -> None:
        shown = list(upcoming)
        if not shown and speaking is None and group.next_up is not None:
            shown = [group.next_up]
        self.cast.show(group, speaking=speaking, upcoming=shown)
        self.border_subtitle = f"order: {group.order}"
        self.query_one("#cast-hint", Static).update(
            Content.assemble(
                (ORDER_NOTES.get(group.order, ""), "dim italic"),
                ("\n\nclick a name: it speaks\nF2: the cast's keys", "dim"),
            )
        )
