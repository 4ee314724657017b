"""CharacterMemory against a real Chroma, local folder and server alike (``chroma_url``)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest

from roleplay.cards.model import EMOTIONS
from roleplay.errors import RoleplayError
from roleplay.memory import CharacterMemory
from roleplay.memory.settings import RememberSettings, default_settings
from roleplay.memory.store import collection_names
from tests.memory.conftest import LIGHTHOUSE_MEMORIES, make_card

QUERY = "Do you remember the lighthouse?"


@pytest.fixture
def memory(chroma_url: str | None, character_name: str) -> CharacterMemory:
    memory = CharacterMemory(make_card(character_name, LIGHTHOUSE_MEMORIES), chroma_url=chroma_url)
    assert memory.ensure_seed_memories() == 4
    return memory


@pytest.mark.parametrize(
    ("mood", "expected"),
    [
        ("Someone is trying to break into my flat, I'm so scared.", "terrified"),
        ("My cat died this morning and I can't stop crying.", "cried"),
        ("I just got engaged, I'm so happy!", "laughed"),
        ("My boss stole my work and I'm livid!", "furious"),
    ],
)
def test_recall_follows_the_mood(memory: CharacterMemory, mood: str, expected: str) -> None:
    best = memory.recall(QUERY, [mood], k=1)
    assert len(best) == 1
    assert expected in best[0].text


def test_semantic_strategy_ignores_the_mood(memory: CharacterMemory) -> None:
    scared = memory.recall(QUERY, ["I'm so scared."], k=4, strategy="semantic")
    happy = memory.recall(QUERY, ["I'm so happy!"], k=4, strategy="semantic")
    assert [m.id for m in scared] == [m.id for m in happy]
    assert [m.score for m in scared] == sorted((m.score for m in scared), reverse=True)


@pytest.mark.parametrize("strategy", ["semantic", "c-a", "c-m", "s-c", "s-s"])
def test_every_strategy_recalls(memory: CharacterMemory, strategy: str) -> None:
    results = memory.recall(QUERY, ["I am terrified"], k=2, strategy=strategy)
    assert len(results) == 2
    for result in results:
        assert set(result.emotion) == set(EMOTIONS)
        assert -1.0 <= result.semantic <= 1.0
        assert 0.0 <= result.emotional <= 1.0
    assert results[0].score >= results[1].score


def test_emotion_override_sets_the_mood(memory: CharacterMemory) -> None:
    best = memory.recall(QUERY, ["I'm so happy!"], k=1, emotion_override={"sadness": 1.0})
    assert "cried" in best[0].text


def test_combined_score_is_semantic_plus_weighted_emotion(memory: CharacterMemory) -> None:
    weight = memory.settings.weights.emotion_weight
    for result in memory.recall(QUERY, [], k=4, strategy="c-a", emotion_override={"fear": 1}):
        expected = result.semantic + weight * result.emotional
        assert result.score == pytest.approx(expected, abs=1e-5)


def test_current_mood_weighs_recent_turns(memory: CharacterMemory) -> None:
    mood = memory.current_mood(["I'm so happy today!", "Wait, what was that noise? I'm scared."])
    assert list(mood) == list(EMOTIONS)
    assert max(mood, key=lambda name: mood[name]) == "fear"
    assert mood["joy"] > 0.05  # the earlier turn still counts
    assert memory.current_mood([]) == dict.fromkeys(EMOTIONS, 0.0)


def test_seed_memories_load_once(memory: CharacterMemory, chroma_url: str | None) -> None:
    assert memory.ensure_seed_memories() == 0
    reopened = CharacterMemory(memory.card, chroma_url=chroma_url)
    assert reopened.ensure_seed_memories() == 0
    assert len(reopened.memories()) == 4
    assert {record.metadata["kind"] for record in reopened.memories()} == {"seed"}


def test_card_emotions_are_kept(chroma_url: str | None, character_name: str) -> None:
    card = make_card(character_name, [("The lamp went out.", {"fear": 0.7, "sadness": 0.2})])
    memory = CharacterMemory(card, chroma_url=chroma_url)
    memory.ensure_seed_memories()
    (record,) = memory.memories()
    assert record.emotion == {**dict.fromkeys(EMOTIONS, 0.0), "fear": 0.7, "sadness": 0.2}


def test_remember_exchange_keeps_both_sides_under_the_exchange_policy(
    chroma_url: str | None, character_name: str
) -> None:
    settings = replace(default_settings(), remember=RememberSettings(policy="exchange"))
    card = make_card(character_name, LIGHTHOUSE_MEMORIES)
    memory = CharacterMemory(card, chroma_url=chroma_url, settings=settings)
    memory.ensure_seed_memories()
    first = memory.remember_exchange("Tell me a story.", "Once, a storm...", "session-1", 3)
    again = memory.remember_exchange("Tell me a story.", "Let me think.", "session-1", 3)
    other = memory.remember_exchange("And then?", "The lamp held.", "session-1", 4)
    assert first == again != other
    records = {record.id: record for record in memory.memories()}
    assert len(records) == 6
    replaced = records[str(first)]
    assert replaced.text.endswith(f"{memory.card.name}: Let me think.")
    assert replaced.metadata["session_id"] == "session-1"
    assert replaced.metadata["turn_index"] == 3
    assert replaced.metadata["kind"] == "exchange"
    assert replaced.metadata["speaker"] == "user+character"
    assert isinstance(replaced.metadata["timestamp"], float)
    # The scorer's raw scores are kept (for a later recalibration) and shown with the record.
    assert len(json.loads(str(replaced.metadata["emo_raw"]))) == 8


def test_the_user_policy_keeps_what_the_user_said_not_the_reply(
    chroma_url: str | None, character_name: str
) -> None:
    settings = replace(default_settings(), remember=RememberSettings(policy="user"))
    memory = CharacterMemory(
        make_card(character_name, LIGHTHOUSE_MEMORIES), chroma_url=chroma_url, settings=settings
    )
    memory.ensure_seed_memories()
    assert memory.remember_exchange("Tell me about the storm.", "It came at night.", "s", 9)
    first = memory.remember_exchange(
        "I moved to Oslo last spring.", "Oslo! The crew of the Gannet...", "session-1", 3
    )
    again = memory.remember_exchange(
        "I moved to Oslo last spring.", "Then you know the cold.", "session-1", 3
    )
    assert first == again is not None
    # Too short to be worth a memory: nothing is stored.
    assert memory.remember_exchange("ok", "Right.", "session-1", 4) is None
    records = {record.id: record for record in memory.memories()}
    assert len(records) == 6
    # The whole message, the request included.
    assert "Tell me about the storm." in {record.text for record in records.values()}
    kept = records[first]
    assert kept.text == "I moved to Oslo last spring."
    assert kept.metadata["kind"] == "user_said"
    assert kept.metadata["speaker"] == "user"
    assert kept.metadata["turn_index"] == 3
    assert not any("Gannet" in record.text or "cold" in record.text for record in records.values())
    # An edit too short to keep removes the memory of the longer message it replaced.
    assert memory.remember_exchange("ok then", "Fine.", "session-1", 3) is None
    assert first not in {record.id for record in memory.memories()}


def test_the_default_policy_keeps_the_user_statements_not_their_questions_and_requests(
    memory: CharacterMemory,
) -> None:
    assert default_settings().remember.policy == "statements"
    memory_id = memory.remember_exchange(
        "Are you an AI? *sits down* I moved to Oslo last spring. Tell me a story.",
        "A story, then.",
        "session-1",
        2,
    )
    assert memory_id is not None
    (kept,) = [record for record in memory.memories() if record.id == memory_id]
    assert kept.text == "*sits down* I moved to Oslo last spring."
    assert kept.metadata["kind"] == "user_said"
    assert kept.metadata["speaker"] == "user"
    # Only a request: nothing is worth keeping, and an earlier version of the turn goes.
    assert memory.remember_exchange("Pretend you're a cat.", "Meow.", "session-1", 2) is None
    assert memory.remember_exchange("Give me three tips.", "One...", "session-1", 3) is None
    assert not any("Oslo" in record.text for record in memory.memories())
    assert len(memory.memories()) == 4  # the card's seed memories only


LIGHTHOUSE_TALK = [
    "I saw the lighthouse from the ferry this morning.",
    "The lighthouse lamp was dark last night, I checked.",
    "My grandfather kept a lighthouse on the north coast.",
    "I painted the lighthouse for my sister's birthday.",
    "The lighthouse stairs have two hundred steps, I counted.",
]


@pytest.mark.parametrize("strategy", ["c-a", "s-s"])
def test_recall_pools_keep_the_user_words_and_the_character_memories_apart(
    memory: CharacterMemory, strategy: str
) -> None:
    for turn, text in enumerate(LIGHTHOUSE_TALK):
        memory.remember_exchange(text, "Aye.", "s", turn)
    mood = ["I am terrified"]
    every = memory.recall(QUERY, mood, k=4, strategy=strategy)
    own = memory.recall(QUERY, mood, k=4, strategy=strategy, pool="character")
    said = memory.recall(QUERY, mood, k=4, strategy=strategy, pool="user")
    assert len(own) == len(said) == 4
    assert all(m.metadata["kind"] == "seed" for m in own)
    assert all(m.metadata["kind"] == "user_said" for m in said)
    assert {m.text for m in said} <= set(LIGHTHOUSE_TALK)
    # Each pool ranks its memories as the shared pool does.
    shared_ids = [m.id for m in every]
    assert [m.id for m in own if m.id in shared_ids] == [
        i for i in shared_ids if i in {m.id for m in own}
    ]


def test_an_unknown_recall_pool_is_refused(memory: CharacterMemory) -> None:
    with pytest.raises(RoleplayError, match="unknown memory pool 'friends'"):
        memory.recall(QUERY, [], k=1, pool="friends")  # type: ignore[arg-type]


def test_scene_memories_leave_out_the_character_own_lines(memory: CharacterMemory) -> None:
    name = memory.card.name
    memory_id = memory.remember_scene(
        [("Lena", "Who let the stowaway in?"), (name, "I did, and I'd do it again.")], "s", "m1"
    )
    (record,) = [record for record in memory.memories() if record.id == memory_id]
    assert record.text == "Lena: Who let the stowaway in?"
    assert memory.remember_scene([(name, "Only me talking.")], "s", "m2") is None


def test_forget(memory: CharacterMemory) -> None:
    ids = [record.id for record in memory.memories()]
    memory.forget(ids[:1])
    assert [record.id for record in memory.memories()] == ids[1:]
    with pytest.raises(RoleplayError, match="no memory with id nope"):
        memory.forget([ids[1], "nope"])
    assert len(memory.memories()) == 3  # nothing was deleted
    memory.forget_all()
    assert memory.memories() == []
    assert memory.recall(QUERY, ["sad"], k=3) == []


def test_characters_never_share_memories(chroma_url: str | None, character_name: str) -> None:
    first = CharacterMemory(make_card(character_name + " Mira"), chroma_url=chroma_url)
    second = CharacterMemory(make_card(character_name + " Mïra"), chroma_url=chroma_url)
    first.add_memory("The harbour at dawn.")
    second.add_memory("The market at noon.")
    assert [r.text for r in first.memories()] == ["The harbour at dawn."]
    assert [r.text for r in second.memories()] == ["The market at noon."]
    second.forget_all()
    assert len(first.memories()) == 1


def test_collection_names_are_valid_and_distinct() -> None:
    names = ["Mira", "Mïra", "MIRA", "李明", "王芳", "🙂", "a", "..", "x" * 500, "Ayşe Demir"]
    valid = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
    collections = [name for character in names for name in collection_names(character)]
    assert all(valid.match(name) for name in collections), collections
    assert len(set(collections)) == len(collections)


def test_card_extension_chooses_the_strategy(character_name: str) -> None:
    card = make_card(character_name, extensions={"roleplay": {"memory_strategy": "s-s"}})
    assert CharacterMemory(card).strategy == "s-s"
    assert CharacterMemory(card, strategy="c-m").strategy == "c-m"
    assert CharacterMemory(make_card(character_name)).strategy == "c-a"
    bad = make_card(character_name, extensions={"roleplay": {"memory_strategy": "best"}})
    with pytest.raises(RoleplayError, match="unknown memory strategy 'best'"):
        CharacterMemory(bad)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.recall("", []), "the query is empty"),
        (lambda m: m.recall("x" * 1_000_000, []), "too long"),
        (lambda m: m.recall(QUERY, [], k=0), "1..100"),
        (lambda m: m.recall(QUERY, [], strategy="best"), "unknown memory strategy"),
        (lambda m: m.recall(QUERY, [], emotion_override={"glee": 1}), "unknown emotion"),
        (lambda m: m.recall(QUERY, [], emotion_override={"joy": 3}), "between 0 and 1"),
        (lambda m: m.add_memory("   "), "memory text is empty"),
        (lambda m: m.add_memory("x" * 1_000_000), "too long"),
        (lambda m: m.add_memory("ok", {"joy": -1}), "between 0 and 1"),
        (lambda m: m.remember_exchange("", "reply", "s", 0), "empty"),
    ],
)
def test_bad_input_changes_nothing(memory: CharacterMemory, call: object, message: str) -> None:
    before = memory.memories()
    with pytest.raises(RoleplayError, match=message):
        call(memory)  # type: ignore[operator]
    assert memory.memories() == before


class FearScorer:
    def score(self, texts: Sequence[str]) -> np.ndarray:
        return np.tile(np.eye(8, dtype=np.float32)[EMOTIONS.index("fear")], (len(texts), 1))


def test_a_plugged_in_scorer_is_used(character_name: str) -> None:
    memory = CharacterMemory(make_card(character_name), scorer=FearScorer())
    memory.add_memory("The lighthouse at night.")
    (record,) = memory.memories()
    assert record.emotion["fear"] == 1.0
    assert memory.current_mood(["anything"])["fear"] == 1.0
