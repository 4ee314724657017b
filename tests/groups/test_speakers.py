"""Who speaks next: names first, then talkativeness; round-robin; manual."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from roleplay.cards.loader import load_card
from roleplay.errors import RoleplayError
from roleplay.groups.speakers import (
    SceneSeat,
    check_order,
    mentioned,
    name_aliases,
    next_speakers,
    talkativeness,
)

SEATS = [
    SceneSeat("Captain Mira Voss", 0.4, name_aliases("Captain Mira Voss")),
    SceneSeat("Sable", 0.3, name_aliases("Sable")),
    SceneSeat("Pip Marigold", 0.9, name_aliases("Pip Marigold")),
]


def test_titles_are_not_names() -> None:
    assert name_aliases("Captain Mira Voss") == ("Mira", "Voss")
    assert mentioned(SEATS, "Well, captain?") == []


def test_named_characters_come_first_in_the_order_named() -> None:
    assert mentioned(SEATS, "pip, then MIRA, then sable.") == [
        "Pip Marigold",
        "Captain Mira Voss",
        "Sable",
    ]
    assert mentioned(SEATS, "Pipkin and Sables") == []  # whole words only


def test_natural_order_never_lets_the_last_speaker_answer_itself() -> None:
    for seed in range(50):
        chosen = next_speakers(
            SEATS,
            "natural",
            last_text="Sable, say that again.",
            last_speaker="Sable",
            rng=random.Random(seed),
        )
        assert chosen and "Sable" not in chosen
        assert len(chosen) == len(set(chosen))


def test_talkative_characters_speak_more_often() -> None:
    counts = {seat.name: 0 for seat in SEATS}
    rng = random.Random(0)
    for _ in range(2000):
        for name in next_speakers(SEATS, "natural", last_text="", last_speaker=None, rng=rng):
            counts[name] += 1
    assert counts["Pip Marigold"] > counts["Captain Mira Voss"] > counts["Sable"]
    assert 0.85 < counts["Pip Marigold"] / 2000 <= 1.0


def test_muted_characters_are_skipped_but_someone_always_answers() -> None:
    muted = [SceneSeat(s.name, 0.0, s.aliases, muted=s.name != "Sable") for s in SEATS]
    for seed in range(20):
        chosen = next_speakers(
            muted, "natural", last_text="Pip?", last_speaker=None, rng=random.Random(seed)
        )
        assert chosen == ["Sable"]


def test_round_robin_and_manual() -> None:
    rng = random.Random(0)
    assert next_speakers(SEATS, "round-robin", last_text="", last_speaker=None, rng=rng) == [
        "Captain Mira Voss"
    ]
    assert next_speakers(
        SEATS, "round-robin", last_text="", last_speaker="Pip Marigold", rng=rng
    ) == ["Captain Mira Voss"]
    assert next_speakers(SEATS, "manual", last_text="Pip?", last_speaker=None, rng=rng) == []
    with pytest.raises(RoleplayError, match="use one of natural, round-robin, manual"):
        check_order("random")


def test_talkativeness_follows_the_card(characters_dir: Path) -> None:
    pip = load_card(characters_dir / "pip.yaml")
    sable = load_card(characters_dir / "sable.yaml")
    assert talkativeness(pip) > talkativeness(sable)
    written = pip.model_copy(update={"extensions": {"talkativeness": "0.05"}})
    assert talkativeness(written) == pytest.approx(0.05)  # SillyTavern's own field wins
    broken = pip.model_copy(update={"extensions": {"talkativeness": "loud"}})
    assert talkativeness(broken) == talkativeness(pip)
