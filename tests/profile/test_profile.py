"""UserProfile as the pipeline's ProfilePort: sentences, relevance order, standing facts."""

from __future__ import annotations

from datetime import datetime

from roleplay.pipeline import ProfilePort
from roleplay.profile.profile import UserProfile
from roleplay.profile.store import ProfileStore
from tests.profile.conftest import DAY, START


def _day(days: int) -> str:
    return datetime.fromtimestamp(START + days * DAY).date().isoformat()


def _profile(store: ProfileStore, *messages: str, k: int = 6) -> UserProfile:
    profile = UserProfile(store, "Lena", "Mira", k=k)
    for number, text in enumerate(messages, start=1):
        profile.observe_user_message(text, session_id="s1", message_id=number)
    return profile


def test_it_is_a_profile_port(store: ProfileStore) -> None:
    port: ProfilePort = UserProfile(store, "Lena", "Mira")
    assert port.facts_for_turn("hello") == []


def test_facts_read_as_sentences_about_the_user_with_their_date(store: ProfileStore) -> None:
    profile = _profile(store, "I live in Bergen", "I moved to Oslo", "I work as an engineer")
    assert profile.facts_for_turn("Where do you live?") == [f"Lena lives in Oslo (since {_day(2)})"]
    assert profile.facts_for_turn("How is work?") == [
        f"Lena works as an engineer (since {_day(3)})"
    ]


def test_relevant_facts_come_first_then_the_standing_ones(store: ProfileStore) -> None:
    profile = _profile(
        store,
        "My name is Lena.",
        "I'm vegetarian.",
        "I love jazz.",
        "I hate mornings.",
        "I live in Oslo.",
    )
    facts = profile.facts_for_turn("What about dinner after the jazz concert?")
    # "jazz" names a value and "dinner" a diet keyword (one word each): the newer first;
    # then the standing name.
    assert facts == [
        f"Lena likes jazz (since {_day(3)})",
        f"Lena is vegetarian (since {_day(2)})",
        f"Lena's name is Lena (since {_day(1)})",
    ]


def test_nothing_relevant_still_gives_the_standing_facts(store: ProfileStore) -> None:
    profile = _profile(store, "I'm vegetarian.", "I love jazz.", "My name is Lena.")
    assert profile.facts_for_turn("Hello there.") == [
        f"Lena's name is Lena (since {_day(3)})",
        f"Lena is vegetarian (since {_day(1)})",
    ]


def test_at_most_k_facts(store: ProfileStore) -> None:
    profile = _profile(store, "I love jazz, blues, rock, folk and metal", k=3)
    facts = profile.facts_for_turn("What music do you like?")
    assert len(facts) == 3
    assert facts[0].startswith("Lena likes metal")  # equally relevant: newest first


def test_superseded_facts_are_never_recalled(store: ProfileStore) -> None:
    profile = _profile(store, "I live in Bergen.", "I moved to Oslo.", "I'm vegetarian.")
    profile.observe_user_message("I'm not vegetarian anymore", session_id="s1", message_id=9)
    text = " ".join(profile.facts_for_turn("Where do you live, and what do you eat?"))
    assert "Oslo" in text and "Bergen" not in text and "vegetarian" not in text


def test_the_same_store_and_query_give_the_same_answer(store: ProfileStore) -> None:
    profile = _profile(store, "I love jazz and I hate mornings", "my cat is called Miso")
    assert profile.facts_for_turn("jazz in the morning?") == profile.facts_for_turn(
        "jazz in the morning?"
    )
