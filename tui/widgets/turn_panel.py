"""The side panel: who the character is, and what shaped the reply in view.

Sections appear only when they have data: mood, recalled memories and steering come from
features that may be switched off (or not built yet), and the panel should not show empty
boxes for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

from tui.bars import bar, filled_cells, shorten, signed_bar
from tui.keys import STEERING_KEYS, bindings
from tui.turn_info import TurnInfo, decoding_summary, steering_method, steering_strengths

if TYPE_CHECKING:  # the card model (pydantic) is imported after the first frame
    from roleplay.cards.model import Card

# Plutchik's wheel colours, so a glance at the bars reads as a mood.
EMOTION_COLOURS = {
    "joy": "#f2c94c",
    "trust": "#7bc67e",
    "fear": "#5fa883",
    "surprise": "#56b4d3",
    "sadness": "#6c8ebf",
    "disgust": "#b07cc6",
    "anger": "#e06c75",
    "anticipation": "#e5a05b",
}
STEP = 0.05  # one key press of steering strength
# The text width inside a panel section: #panel (34) less its left border and padding (3),
# a section's border and padding (4) and the panel's scrollbar (1). See app.tcss.
PANEL_TEXT_WIDTH = 26
MIN_SIGNED_BAR = 5  # two cells a side and the centre: the least that still shows a direction


def big_five_lines(card: Card, width: int = 16) -> Content:
    """One line per OCEAN trait: ``openness          ██████████······ 0.60`` (the card view)."""
    return score_lines(card.personality.big_five.as_dict(), width)


def score_lines(scores: Mapping[str, float], width: int = 16) -> Content:
    """One line per score, named: the card view's and the persona screen's Big Five."""
    lines = []
    for trait, value in scores.items():
        name = f"{trait:<18}"
        lines.append(
            Content.assemble(
                (name, "dim"), (bar(value, width), "$secondary"), (f" {value:.2f}", "bold")
            )
        )
    return Content("\n").join(lines)


def meter_line(name: str, value: float, width: int = PANEL_TEXT_WIDTH) -> Content:
    """``name`` and ``value`` on one line whose background fills to ``value`` (in [0, 1]).

    The bar lies under the text instead of beside it, so the longest trait name
    ("conscientiousness", 17 cells) stays whole in the side panel's 26 columns.
    """
    number = f"{value:.2f}"
    text = f"{name}{' ' * max(width - len(name) - len(number), 1)}{number}"
    filled = filled_cells(value, len(text))
    return Content.assemble(
        (text[:filled], "$text on $secondary 45%"),
        (text[filled:], "$text-muted on $panel"),
    )


def big_five_meters(card: Card, width: int = PANEL_TEXT_WIDTH) -> Content:
    """One line per OCEAN trait, its full name over a bar of its value."""
    traits = card.personality.big_five.as_dict().items()
    return Content("\n").join(meter_line(trait, value, width) for trait, value in traits)


def character_content(card: Card) -> Content:
    mbti = f"  {card.personality.mbti}" if card.personality.mbti else ""
    head = Content.assemble((card.name, "bold"), (mbti, "$accent"))
    traits = ", ".join(card.personality.traits[:5])
    parts = [head, big_five_meters(card)]
    if traits:
        parts.append(Content.styled(shorten(traits, 60), "dim italic"))
    return Content("\n").join(parts)


def mood_content(mood: Mapping[str, float], width: int = 8) -> Content:
    from roleplay.cards.model import EMOTIONS  # loaded long before any mood exists

    names = [name for name in EMOTIONS if name in mood] + [n for n in mood if n not in EMOTIONS]
    lines = []
    for name in names:
        value = mood[name]
        colour = EMOTION_COLOURS.get(name, "$secondary")
        lines.append(
            Content.assemble(
                (f"{name:<13.13}", "dim"), (bar(value, width), colour), (f" {value:.2f}", "")
            )
        )
    return Content("\n").join(lines)


def memories_content(info: TurnInfo, width: int = 90) -> Content:
    # Wrapped, not cut to one line: which memory was recalled is the point of the section.
    lines = [
        Content.assemble((f"{memory.score:.2f} ", "$accent"), shorten(memory.text, width))
        for memory in info.memories
    ]
    return Content("\n").join(lines)


def reply_content(info: TurnInfo) -> Content:
    parts: list[Content] = []
    if info.tokens is not None:
        speed = f" · {info.tokens_per_second:.1f} tok/s" if info.tokens_per_second else ""
        parts.append(Content(f"{info.tokens} tokens{speed}"))
    if info.stop_reason:
        if info.interrupted:
            stop = "stopped by you" if info.stop_reason == "cancelled" else "interrupted"
        else:
            stop = f"ended: {info.stop_reason}"
        parts.append(Content.styled(stop, "dim"))
    if info.toxicity is not None:
        verdict = "flagged" if info.toxicity.flagged else "ok"
        style = "bold $text-error" if info.toxicity.flagged else "$text-success"
        parts.append(
            Content.assemble(
                "toxicity ",
                (f"{info.toxicity.score:.2f} {verdict}", style),
                (f" ({info.toxicity.scorer})" if info.toxicity.scorer else "", "dim"),
            )
        )
    return Content("\n").join(parts)


def steering_lines(
    strengths: Mapping[str, float],
    limit: float,
    selected: int | None = None,
    width: int = PANEL_TEXT_WIDTH,
) -> list[Content]:
    """Each strength as ``▸ name  ···│██·· +0.40``, its name whole.

    The name column is as wide as the longest name; the bar takes what is left. When that
    leaves too little for a bar ("conscientiousness"), every attribute takes two lines: the
    name and its value, then the bar under them.
    """
    room = width - len("▸") - len(" +0.00")  # for the name and the bar
    longest = min(max((len(name) for name in strengths), default=0), room)
    bar_width = room - longest - 1  # a space between the name and the bar
    if bar_width % 2 == 0:  # odd: as many cells on either side of the centre mark
        bar_width -= 1
    one_line = bar_width >= MIN_SIGNED_BAR
    name_width = room - bar_width if one_line else room
    under_width = width - 1 if (width - 1) % 2 else width - 2  # a bar on a line of its own
    lines: list[Content] = []
    for index, (name, value) in enumerate(strengths.items()):
        chosen = index == selected
        marker = ("▸" if chosen else " ", "$accent")
        shown = shorten(name, name_width - 1 if one_line else name_width)
        label = (f"{shown:<{name_width}}", "bold" if chosen else "")
        number = f" {value:+.2f}"
        if one_line:
            bar_text = signed_bar(value, bar_width, limit)
            lines.append(Content.assemble(marker, label, (bar_text, "$secondary"), number))
        else:
            lines.append(Content.assemble(marker, label, number))
            bar_text = signed_bar(value, under_width, limit)
            lines.append(Content.assemble(" ", (bar_text, "$secondary")))
    return lines


class SteeringControl(Static, can_focus=True):
    """Steering strengths as signed bars; adjustable with keys when the app allows it."""

    BINDINGS = bindings(STEERING_KEYS)

    selected: reactive[int] = reactive(0)

    class Changed(Message):
        """The user moved a strength; ``strengths`` is the complete new set."""

        def __init__(self, strengths: dict[str, float]) -> None:
            super().__init__()
            self.strengths = strengths

    def __init__(
        self, *, adjustable: bool, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.adjustable = adjustable
        self.can_focus = adjustable
        self.strengths: dict[str, float] = {}
        self.limit = 1.0
        self.method = ""  # how the strengths reach the model, when the controls say
        self.pending = False  # changed since the last reply: applies to the next one

    def set_controls(self, controls: Mapping[str, object]) -> None:
        self.strengths, self.limit = steering_strengths(controls)  # type: ignore[arg-type]
        self.method = steering_method(controls)  # type: ignore[arg-type]
        self.pending = False
        self.selected = min(self.selected, max(len(self.strengths) - 1, 0))
        self._render_lines()

    def watch_selected(self) -> None:
        self._render_lines()

    def on_focus(self) -> None:
        self._render_lines()

    def on_blur(self) -> None:
        self._render_lines()

    def _render_lines(self) -> None:
        selected = self.selected if self.has_focus else None
        lines = steering_lines(self.strengths, self.limit, selected)
        if self.method and self.strengths:
            lines.append(Content.styled(self.method, "dim"))
        if self.pending:
            lines.append(Content.styled("applies from the next reply", "dim italic"))
        elif self.adjustable and self.strengths and not self.has_focus:
            lines.append(Content.styled("tab here, then ←/→ to adjust", "dim italic"))
        self.update(Content("\n").join(lines))

    def action_move(self, step: int) -> None:
        if self.strengths:
            self.selected = (self.selected + step) % len(self.strengths)

    def action_nudge(self, direction: int) -> None:
        if not self.adjustable or not self.strengths:
            return
        name = list(self.strengths)[self.selected]
        value = round(self.strengths[name] + direction * STEP, 4)
        self.strengths[name] = max(-self.limit, min(self.limit, value))
        self.pending = True
        self._render_lines()
        self.post_message(self.Changed(dict(self.strengths)))


class TurnPanel(VerticalScroll, can_focus=True):
    """Character, then mood, memories, steering and reply details for the reply in view.

    Focusable (Tab), so its lower sections can be scrolled into view from the keyboard.
    """

    def __init__(self, *, adjustable_steering: bool, id: str | None = None) -> None:
        super().__init__(id=id)
        self._adjustable = adjustable_steering

    def compose(self) -> ComposeResult:
        yield Static(id="panel-character", classes="panel-section")
        yield Static(id="panel-mood", classes="panel-section")
        yield Static(id="panel-memories", classes="panel-section")
        yield SteeringControl(
            adjustable=self._adjustable, id="panel-steering", classes="panel-section"
        )
        yield Static(id="panel-reply", classes="panel-section")
        yield Static(id="panel-hint", classes="panel-section")

    def on_mount(self) -> None:
        self.query_one("#panel-character").border_title = "Character"
        self.query_one("#panel-mood").border_title = "Mood"
        self.query_one("#panel-memories").border_title = "Recalled"
        self.query_one("#panel-steering").border_title = "Steering"
        self.query_one("#panel-reply").border_title = "Reply"
        self.show_turn(TurnInfo(), {})

    def show_card(self, card: Card) -> None:
        self.query_one("#panel-character", Static).update(character_content(card))

    def show_turn(self, info: TurnInfo, controls: Mapping[str, object]) -> None:
        """Fill the sections for one reply; ``controls`` is what is in force now."""
        self._section("#panel-mood", mood_content(info.mood) if info.mood else None)
        self._section("#panel-memories", memories_content(info) if info.memories else None)
        in_force = info.controls or controls
        steering = self.query_one(SteeringControl)
        steering.set_controls(in_force)
        decoding = decoding_summary(in_force)
        steering.display = bool(steering.strengths) or bool(decoding)
        if decoding:
            steering.border_subtitle = shorten("; ".join(decoding), PANEL_TEXT_WIDTH)
        reply = reply_content(info)
        self._section("#panel-reply", reply if reply.plain else None)
        # When none of the turn's features produced data, say why the panel is short.
        quiet = not (info.mood or info.memories or steering.display)
        self._section(
            "#panel-hint",
            Content.styled(
                "Mood, recalled memories and steering appear here when the character's "
                "memory and controller are on.",
                "dim italic",
            )
            if quiet
            else None,
        )

    def _section(self, selector: str, content: Content | None) -> None:
        section = self.query_one(selector, Static)
        section.display = content is not None
        if content is not None:
            section.update(content)
