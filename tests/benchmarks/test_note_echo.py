"""benchmarks/note_echo.py: what counts as a reply copying the character's note."""

from __future__ import annotations

from benchmarks.note_echo import echoes

NOTE = "[Stay Mira. Mira is blunt, sceptical and competitive. Answer as Mira would.]"


def test_a_reply_copies_the_note_by_its_bracket_or_a_run_of_its_words() -> None:
    assert echoes("[Stay Mira.] Fine, what now?", NOTE, 6)
    assert echoes("Well. Mira is blunt, sceptical and competitive, you know.", NOTE, 6)
    assert not echoes("I'm blunt and sceptical. What do you want?", NOTE, 6)
    assert not echoes("Mira is blunt, sceptical and", NOTE, 6)  # five words in a row
