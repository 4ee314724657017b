"""Characters that suit your persona (``roleplay match``), similar or complementary.

The persona is the one the app plays (else the active one); every bundled and user card is
ranked by ``roleplay.personas.matching.match_characters`` in a worker (it parses every
card), each with its one-line reason. Enter opens a new chat with the highlighted character,
in place of this screen. Without a persona, or with one that has neither Big Five nor MBTI,
the screen says so in one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.console import Group
from rich.padding import Padding
from rich.text import Text
from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from tui.backend import ChatTarget, Identity, describe_error
from tui.bars import shorten
from tui.keys import MATCH_KEYS, bindings, palette_commands
from tui.widgets.status_line import StatusLine

if TYPE_CHECKING:
    from roleplay.personas.matching import Match, MatchReport
    from tui.app import RoleplayApp

MODES = ("similar", "complementary")
LIMIT = 10
NO_PERSONA = (
    "no persona: choose one with p (Personas) or `roleplay persona use NAME` "
    "(`roleplay persona add` adds one)"
)


def match_option(rank: int, match: Match) -> Option:
    header = Content.assemble(
        (f"{rank:>2}  ", "dim"),
        (shorten(match.card_name, 30), "bold"),
        (f"  {match.score:.2f}", "$accent"),
        (f"  {match.card_ref}", "dim"),
    )
    # The reason wraps under itself, indented below the name (a Rich group: Content has no
    # hanging indent).
    reason = Padding(Text(match.reason, style="dim"), (0, 0, 0, 4))
    return Option(Group(header, reason), id=match.card_ref)


class MatchScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = bindings(MATCH_KEYS)
    AUTO_FOCUS = "#matches"

    def __init__(self, mode: str = "similar") -> None:
        super().__init__()
        self.mode = mode
        self.report: MatchReport | None = None
        self.notice: str | None = None

    class Ranked(Message):
        def __init__(self, mode: str, report: MatchReport | None, error: str | None) -> None:
            super().__init__()
            self.mode, self.report, self.error = mode, report, error

    @property
    def roleplay(self) -> RoleplayApp:
        return cast("RoleplayApp", self.app)

    def compose(self) -> ComposeResult:
        with Vertical(id="match-body"):
            yield OptionList(id="matches")
            yield Static(id="match-notes", markup=False)
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(StatusLine).set(user=self.roleplay.user_name)
        self.rank()

    def rank(self) -> None:
        matches = self.query_one("#matches", OptionList)
        matches.border_title = f"Characters for you ({self.mode})"
        matches.clear_options()
        matches.add_option(Option(Content.styled("ranking the characters…", "dim"), disabled=True))
        self._rank_worker(self.roleplay.identity, self.mode)

    @work(thread=True, group="match", exclusive=True, exit_on_error=False)
    def _rank_worker(self, identity: Identity, mode: str) -> None:
        # Imported here: matching parses every card (pydantic, YAML).
        from roleplay.personas.matching import match_characters
        from roleplay.personas.store import resolve_persona

        try:
            persona = resolve_persona(identity.persona_id)
            if persona is None:
                self.post_message(self.Ranked(mode, None, NO_PERSONA))
                return
            report = match_characters(persona, mode=mode, limit=LIMIT)
        except Exception as error:  # no Big Five or MBTI, a broken persona file
            self.post_message(self.Ranked(mode, None, describe_error(error)))
        else:
            self.post_message(self.Ranked(mode, report, None))

    def on_match_screen_ranked(self, message: Ranked) -> None:
        if message.mode != self.mode:
            return  # an older ranking, overtaken by a mode switch
        try:
            matches = self.query_one("#matches", OptionList)
            notes = self.query_one("#match-notes", Static)
        except NoMatches:  # the screen closed while the cards were ranked
            return
        matches.clear_options()
        self.report = message.report
        self.notice = message.error
        if message.report is None:
            assert message.error is not None
            matches.add_option(Option(Content.styled(message.error, "$warning"), disabled=True))
            notes.update("")
            self.notify(message.error, title="No matches", severity="warning", markup=False)
            return
        report = message.report
        matches.border_title = f"Characters for {shorten(report.persona.name, 30)} ({self.mode})"
        matches.add_options(match_option(i + 1, m) for i, m in enumerate(report.matches))
        if report.matches:
            matches.highlighted = 0
        hint = "scores 0 to 1; numbers are the character's then yours · m switches the mode"
        notes.update("\n".join([hint, *report.notes]))

    def highlighted_match(self) -> Match | None:
        if self.report is None:
            return None
        index = self.query_one("#matches", OptionList).highlighted
        if index is None or not 0 <= index < len(self.report.matches):
            return None
        return self.report.matches[index]

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        match = self.highlighted_match()
        if match is None:
            return
        # As `roleplay chat -c REF`: the chat screen resolves the card (a user card first).
        target = ChatTarget(character=match.card_ref, label=match.card_name)
        self.roleplay.open_chat(target, replace=True)

    def action_switch_mode(self) -> None:
        self.mode = MODES[(MODES.index(self.mode) + 1) % len(MODES)]
        self.rank()

    def action_back(self) -> None:
        self.dismiss()

    def palette_commands(self) -> list[SystemCommand]:
        return palette_commands(self, MATCH_KEYS)
