"""A character card at a glance, for the picker: name, MBTI, Big Five bars, description."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content
from textual.widgets import Static

from tui.bars import shorten
from tui.widgets.turn_panel import big_five_lines

if TYPE_CHECKING:
    from roleplay.cards.registry import CardEntry


def card_entry_content(entry: CardEntry, user_name: str) -> Content:
    if entry.card is None:
        return Content.assemble(
            (entry.path.name, "bold"),
            ("  cannot be opened\n\n", "$error"),
            (entry.error or "invalid card", "$text-error"),
        )
    card = entry.card.substituted(user_name)
    parts = [
        Content.assemble(
            (card.name, "bold"),
            (f"  {card.personality.mbti}" if card.personality.mbti else "", "bold $accent"),
            (f"  {entry.source} card", "dim"),
        ),
        big_five_lines(card, width=16),
    ]
    if card.personality.traits:
        parts.append(Content.styled(", ".join(card.personality.traits), "italic $secondary"))
    parts.append(Content(shorten(card.description, 400)))
    if card.scenario:
        parts.append(Content.styled(shorten(card.scenario, 300), "dim"))
    return Content("\n").join(parts[:2]) + Content("\n\n") + Content("\n\n").join(parts[2:])


class CardView(Static):
    def show(self, entry: CardEntry | None, user_name: str) -> None:
        if entry is None:
            self.update(Content.styled("No characters found.", "dim"))
        else:
            self.update(card_entry_content(entry, user_name))
