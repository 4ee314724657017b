from __future__ import annotations

from collections.abc import Sequence

import pytest

from roleplay.dialogue.turns import (
    Line,
    Policy,
    addressed,
    longest_waiting,
    name_aliases,
    next_speaker,
    parse_policy,
)
from roleplay.errors import RoleplayError

CAST = ["Captain Mira Voss", "Sable", "Pip Marigold"]


def test_round_robin_cycles_in_the_given_order() -> None:
    speakers = [next_speaker(Policy.ROUND_ROBIN, CAST, [], turn) for turn in range(5)]
    assert speakers == [*CAST, *CAST[:2]]


def test_aliases_skip_titles_and_shared_words() -> None:
    aliases = name_aliases(["Captain Mira Voss", "Mira Quill", "Sable"])
    assert aliases["Captain Mira Voss"] == ["Captain Mira Voss", "Voss"]
    assert aliases["Mira Quill"] == ["Mira Quill", "Quill"]
    assert aliases["Sable"] == ["Sable"]


def test_addressed_finds_names_in_order_of_mention() -> None:
    line = Line("Sable", "Pip, stop. Mira knows the way; Voss always does.")
    assert addressed(line, CAST) == ["Pip Marigold", "Captain Mira Voss"]
    # Whole words only, and never the speaker.
    assert addressed(Line("Sable", "Pipes and Sable's cloak."), CAST) == []


def test_next_speaker_prefers_who_was_addressed() -> None:
    lines = [Line("Narrator", "A storm."), Line("Sable", "What do you say, Pip?")]
    assert next_speaker(Policy.NEXT_SPEAKER, CAST, lines, 1) == "Pip Marigold"


def test_next_speaker_never_repeats_the_last_speaker() -> None:
    lines = [Line("Narrator", "A storm."), Line("Sable", "I, Sable, will answer myself.")]

    def loves_sable(history: Sequence[Line], candidates: Sequence[str]) -> dict[str, float]:
        assert "Sable" not in candidates
        return {name: 0.0 for name in candidates}

    assert next_speaker(Policy.NEXT_SPEAKER, CAST, lines, 1, scorer=loves_sable) != "Sable"


def test_next_speaker_asks_the_model_when_nobody_was_addressed() -> None:
    lines = [Line("Narrator", "A storm."), Line("Sable", "Hm.")]

    def scorer(history: Sequence[Line], candidates: Sequence[str]) -> dict[str, float]:
        return {"Captain Mira Voss": -3.0, "Pip Marigold": -1.5}

    assert next_speaker(Policy.NEXT_SPEAKER, CAST, lines, 1, scorer=scorer) == "Pip Marigold"


def test_without_a_model_the_longest_waiting_speaks() -> None:
    lines = [
        Line("Narrator", "A storm."),
        Line("Captain Mira Voss", "Hold."),
        Line("Pip Marigold", "Yay."),
        Line("Sable", "No."),
    ]
    assert next_speaker(Policy.NEXT_SPEAKER, CAST, lines, 3) == "Captain Mira Voss"
    # Nobody has spoken: the first in the given order.
    assert longest_waiting([Line("Narrator", "x")], CAST) == "Captain Mira Voss"


def test_policy_names_and_cast_size_are_checked() -> None:
    assert parse_policy("Next-Speaker") is Policy.NEXT_SPEAKER
    with pytest.raises(RoleplayError, match="unknown turn-taking policy"):
        parse_policy("random")
    with pytest.raises(RoleplayError, match="at least two"):
        next_speaker(Policy.ROUND_ROBIN, ["Sable"], [], 0)


def test_nobody_is_left_out_for_more_than_two_rounds() -> None:
    def prefers_short_names(history: Sequence[Line], candidates: Sequence[str]) -> dict[str, float]:
        return {name: -float(len(name)) for name in candidates}

    lines = [Line("Narrator", "A storm.")]
    speakers = []
    for turn in range(10):
        speaker = next_speaker(Policy.NEXT_SPEAKER, CAST, lines, turn, scorer=prefers_short_names)
        speakers.append(speaker)
        lines.append(Line(speaker, "Hm."))
    # Sable and Pip would alternate forever; Mira gets a turn after four lines without her.
    round_ = ["Sable", "Pip Marigold", "Sable", "Pip Marigold", "Captain Mira Voss"]
    assert speakers == round_ * 2
