"""SillyTavern's per-entry lorebook settings in the scanner: placement, per-entry scan depth,
probability, inclusion groups and the recursion flags (roleplay/prompting/lorebook.py)."""

from __future__ import annotations

from typing import Any

import pytest

from roleplay.cards.model import Lorebook
from roleplay.engine.base import ChatMessage
from roleplay.prompting.builder import DEFAULT_LORE_DEPTH, LoreSnippet
from roleplay.prompting.lorebook import LorebookScanner, combine_lorebooks


def book(*entries: dict[str, Any], **options: Any) -> Lorebook:
    return Lorebook.model_validate({"entries": list(entries), **options})


def chat(*texts: str) -> list[ChatMessage]:
    """Alternating user/assistant messages; the last one is the new user message."""
    roles: list[Any] = ["user", "assistant"] * len(texts)
    return [ChatMessage(role, text) for role, text in zip(roles[-len(texts) :], texts, strict=True)]


def scan(lorebook: Lorebook, *texts: str) -> tuple[dict[str, str], list[str]]:
    """(comment -> reason of the entries kept, the scanner's notes)."""
    scanner = LorebookScanner(lorebook)
    kept = scanner.scan(chat(*texts))
    return {snippet.name.strip("'"): snippet.reason for snippet in kept}, scanner.notes


def entry(comment: str, *keys: str, **settings: Any) -> dict[str, Any]:
    return {"keys": list(keys), "content": f"{comment} lore.", "comment": comment, **settings}


# --- placement ------------------------------------------------------------------------------


def test_each_snippet_carries_its_entry_placement() -> None:
    lorebook = book(
        entry("Plain", "ship"),
        entry("Before", "ship", position="before_char"),
        entry("Deep", "ship", position="at_depth", depth=0, role="assistant"),
        entry("Note", "ship", position="at_depth", role="user"),
    )
    snippets = {s.name.strip("'"): s for s in LorebookScanner(lorebook).scan(chat("the ship"))}
    placed = {name: (s.position, s.depth, s.role) for name, s in snippets.items()}
    assert placed == {
        "Plain": ("after_char", DEFAULT_LORE_DEPTH, "system"),
        "Before": ("before_char", DEFAULT_LORE_DEPTH, "system"),
        "Deep": ("at_depth", 0, "assistant"),
        "Note": ("at_depth", DEFAULT_LORE_DEPTH, "user"),
    }
    assert LoreSnippet("x").position == "after_char"  # the builder's defaults agree


# --- per-entry scan depth ---------------------------------------------------------------------


def test_an_entry_scan_depth_overrides_the_book() -> None:
    lorebook = book(
        entry("Deep", "kestrel", scan_depth=4),
        entry("Shallow", "kestrel"),
        entry("Newest only", "aye", scan_depth=1),
    )
    kept, _ = scan(lorebook, "The Kestrel?", "Aye.", "And now?")
    assert kept == {"Deep": "key 'kestrel' in message -3"}
    kept, _ = scan(lorebook, "Tell me.", "Aye, the Kestrel.", "aye")
    assert set(kept) == {"Deep", "Shallow", "Newest only"}


def test_scan_depth_zero_never_matches_keys_but_constants_still_fire() -> None:
    lorebook = book(
        entry("Blind", "ship", scan_depth=0),
        {"content": "Always.", "comment": "Always", "constant": True, "scan_depth": 0},
    )
    kept, _ = scan(lorebook, "ship ship ship")
    assert kept == {"Always": "constant"}


# --- probability ------------------------------------------------------------------------------


def test_probability_zero_never_fires_and_says_so() -> None:
    kept, notes = scan(book(entry("Ghost", "ghost", probability=0)), "a ghost!")
    assert kept == {}
    assert notes == ["lore entry 'Ghost' left out: probability 0% roll failed"]


def test_probability_100_or_use_probability_off_always_fires() -> None:
    lorebook = book(
        entry("Sure", "ghost", probability=100),
        entry("Unrolled", "ghost", probability=0, use_probability=False),
    )
    kept, notes = scan(lorebook, "a ghost!")
    assert kept == {"Sure": "key 'ghost' in message -1", "Unrolled": "key 'ghost' in message -1"}
    assert notes == []


def test_probability_rolls_are_the_same_for_the_same_chat_and_about_right_overall() -> None:
    lorebook = book(entry("Ghost", "ghost", probability=30))
    chats = [(f"Turn {n}.", f"Is that a ghost, number {n}?") for n in range(300)]
    first = [bool(scan(lorebook, *texts)[0]) for texts in chats]
    again = [bool(scan(lorebook, *texts)[0]) for texts in chats]
    assert first == again  # reproducible: `roleplay prompt` shows what the chat gets
    assert 0.2 < sum(first) / len(first) < 0.4
    passed = next(texts for texts, fired in zip(chats, first, strict=True) if fired)
    assert scan(lorebook, *passed)[0] == {"Ghost": "key 'ghost' in message -1; 30% roll passed"}
    failed = next(texts for texts, fired in zip(chats, first, strict=True) if not fired)
    assert scan(lorebook, *failed)[1] == [
        "lore entry 'Ghost' left out: probability 30% roll failed"
    ]


# --- inclusion groups -------------------------------------------------------------------------


def test_group_override_wins_by_highest_insertion_order() -> None:
    lorebook = book(
        entry("Rain", "weather", group="weather", group_override=True, insertion_order=100),
        entry("Fog", "weather", group="weather", group_override=True, insertion_order=200),
        entry("Sun", "weather", group="weather", insertion_order=900),
        entry("Port", "weather"),
    )
    kept, notes = scan(lorebook, "How is the weather?")
    assert kept == {
        "Fog": "key 'weather' in message -1; won inclusion group 'weather' (override)",
        "Port": "key 'weather' in message -1",
    }
    assert notes == [
        "lore entry 'Sun' left out: lost inclusion group 'weather' to 'Fog'",
        "lore entry 'Rain' left out: lost inclusion group 'weather' to 'Fog'",
    ]


def test_a_group_keeps_one_entry_by_weighted_draw_the_same_for_the_same_chat() -> None:
    lorebook = book(
        entry("Rain", "weather", group="weather"),
        entry("Fog", "weather", group="weather", group_weight=300),
    )
    winners = []
    for n in range(200):
        kept, notes = scan(lorebook, f"Day {n}: the weather?")
        assert len(kept) == 1 and len(notes) == 1
        [(winner, reason)] = kept.items()
        assert reason.endswith("; won inclusion group 'weather' (draw among 2)")
        loser = "Rain" if winner == "Fog" else "Fog"
        assert notes == [
            f"lore entry {loser!r} left out: lost inclusion group 'weather' to {winner!r}"
        ]
        assert scan(lorebook, f"Day {n}: the weather?")[0] == kept
        winners.append(winner)
    assert 0.65 < winners.count("Fog") / len(winners) < 0.85  # weights 300 : 100


def test_a_weight_of_zero_loses_to_any_weight() -> None:
    lorebook = book(
        entry("Never", "weather", group="weather", group_weight=0),
        entry("Always", "weather", group="weather", group_weight=1),
    )
    assert all(set(scan(lorebook, f"weather {n}")[0]) == {"Always"} for n in range(50))


def test_a_lone_member_of_a_group_is_simply_kept() -> None:
    lorebook = book(entry("Rain", "rain", group="weather"), entry("Fog", "fog", group="weather"))
    assert scan(lorebook, "rain again") == ({"Rain": "key 'rain' in message -1"}, [])


def test_an_entry_in_several_groups_must_win_each() -> None:
    lorebook = book(
        entry("Storm", "storm", group="weather, alarms", group_override=True),
        entry("Drizzle", "storm", group="weather"),
        entry("Bell", "storm", group="alarms"),
        entry("Siren", "storm", group="alarms", group_override=True, insertion_order=500),
    )
    kept, notes = scan(lorebook, "A storm!")
    assert set(kept) == {"Siren"}  # Storm won 'weather' but lost 'alarms' to Siren
    assert "lore entry 'Drizzle' left out: lost inclusion group 'weather' to 'Storm'" in notes
    assert "lore entry 'Storm' left out: lost inclusion group 'alarms' to 'Siren'" in notes


def test_constant_entries_take_part_in_groups_as_in_sillytavern() -> None:
    lorebook = book(
        {"content": "Calm.", "comment": "Calm", "constant": True, "group": "sea"},
        entry("Gale", "gale", group="sea", group_override=True),
    )
    assert set(scan(lorebook, "no wind")[0]) == {"Calm"}
    kept, notes = scan(lorebook, "a gale")
    assert set(kept) == {"Gale"}
    assert notes == ["lore entry 'Calm' left out: lost inclusion group 'sea' to 'Gale'"]


def test_groups_are_decided_before_the_probability_roll() -> None:
    lorebook = book(
        entry("Rain", "weather", group="weather", group_override=True, probability=0),
        entry("Fog", "weather", group="weather"),
    )
    kept, notes = scan(lorebook, "weather")
    assert kept == {}  # as in SillyTavern: the winner's failed roll leaves the group empty
    assert notes == [
        "lore entry 'Fog' left out: lost inclusion group 'weather' to 'Rain'",
        "lore entry 'Rain' left out: probability 0% roll failed",
    ]


def test_a_group_filled_in_an_earlier_round_takes_no_more() -> None:
    lorebook = book(
        entry("Harbour", "harbour", group="place"),
        {"keys": ["Harbour lore"], "content": "Docks.", "comment": "Docks", "group": "place"},
        recursive_scanning=True,
    )
    kept, notes = scan(lorebook, "the harbour")
    assert set(kept) == {"Harbour"}
    assert notes == ["lore entry 'Docks' left out: lost inclusion group 'place' to 'Harbour'"]


def test_groups_work_across_combined_books() -> None:
    own = book(entry("Rain", "weather", group="weather", group_override=True))
    attached = book(entry("Fog", "weather", group="weather"), name="Coast")
    combined = combine_lorebooks(own, [attached])
    assert combined is not None
    kept, notes = scan(combined, "weather")
    assert set(kept) == {"Rain"}
    assert notes == ["lore entry 'Coast/Fog' left out: lost inclusion group 'weather' to 'Rain'"]


# --- recursion flags --------------------------------------------------------------------------


SHIP = entry("Ship", "ship")  # content "Ship lore." names nothing else
CAPTAIN_KEY = {"keys": ["ship"], "content": "The ship's captain is Mira.", "comment": "Ship"}


def test_exclude_recursion_fires_from_the_chat_but_not_from_lore() -> None:
    mira = entry("Mira", "Mira", exclude_recursion=True)
    lorebook = book(CAPTAIN_KEY, mira, recursive_scanning=True)
    assert set(scan(lorebook, "the ship")[0]) == {"Ship"}
    assert scan(lorebook, "Mira on the ship")[0]["Mira"] == "key 'Mira' in message -1"
    plain = book(CAPTAIN_KEY, entry("Mira", "Mira"), recursive_scanning=True)
    assert scan(plain, "the ship")[0]["Mira"] == "key 'Mira' in lore entry 'Ship'"


def test_prevent_recursion_content_triggers_nothing() -> None:
    lorebook = book(
        {**CAPTAIN_KEY, "prevent_recursion": True}, entry("Mira", "Mira"), recursive_scanning=True
    )
    assert set(scan(lorebook, "the ship")[0]) == {"Ship"}


def test_delay_until_recursion_waits_for_a_recursion_round() -> None:
    cove = entry("Cove", "cove", delay_until_recursion=True)
    lorebook = book(CAPTAIN_KEY, cove, recursive_scanning=True)
    # The key is in the chat, but only a recursion round may fire the entry: none without
    # other lore firing first, and none at all with recursion off (as in SillyTavern).
    assert scan(lorebook, "the cove")[0] == {}
    assert scan(lorebook, "the ship in the cove")[0] == {
        "Ship": "key 'ship' in message -1",
        "Cove": "key 'cove' in message -1",
    }
    off = book(CAPTAIN_KEY, cove)
    assert set(scan(off, "the ship in the cove")[0]) == {"Ship"}


def test_delay_levels_open_one_after_the_other() -> None:
    lorebook = book(
        CAPTAIN_KEY,
        entry("First", "cove", delay_until_recursion=1),
        {"keys": ["First lore"], "content": "x", "comment": "Second", "delay_until_recursion": 2},
        entry("Late", "cove", delay_until_recursion=2),
        recursive_scanning=True,
    )
    kept, _ = scan(lorebook, "the ship in the cove")
    assert kept == {
        "Ship": "key 'ship' in message -1",
        "First": "key 'cove' in message -1",
        "Second": "key 'First lore' in lore entry 'First'",
        "Late": "key 'cove' in message -1",
    }


@pytest.mark.parametrize("recursive", [True, False])
def test_delay_levels_beyond_the_first_run_even_without_recursion(recursive: bool) -> None:
    # SillyTavern's quirk, kept: when a scan ends with delay levels still closed, it opens the
    # next one and scans again (a level-1 entry is then open too).
    lorebook = book(
        entry("Level 1", "cove", delay_until_recursion=True),
        entry("Level 2", "cove", delay_until_recursion=2),
        recursive_scanning=recursive,
    )
    assert set(scan(lorebook, "the cove")[0]) == {"Level 1", "Level 2"}


def test_settings_without_effect_leave_reasons_and_notes_as_before() -> None:
    lorebook = book(
        entry(
            "Ship",
            "ship",
            probability=100,
            use_probability=True,
            group="solo",
            group_weight=5,
            exclude_recursion=False,
            prevent_recursion=False,
            delay_until_recursion=False,
        )
    )
    assert scan(lorebook, "the ship") == ({"Ship": "key 'ship' in message -1"}, [])
