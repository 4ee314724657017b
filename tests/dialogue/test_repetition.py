"""Repetition across speakers: the measures, the scene prompt and the echo guard."""

from __future__ import annotations

from pathlib import Path

from roleplay.dialogue.repetition import (
    echo_overlap,
    mentions_topic,
    scene_echo_rate,
    topic_words,
)
from roleplay.dialogue.scene import LineRetried, SceneRunner, SceneSpec, UtteranceDone
from roleplay.engine.base import ChatMessage
from tests.helpers.scripted_engine import ScriptedEngine

COPY = "We should search the hold for the stowaway tonight."


def test_echo_overlap_counts_shared_word_ngrams() -> None:
    assert echo_overlap(COPY, [COPY]) == 1.0
    assert echo_overlap("Search the hold, you say? Not tonight.", [COPY]) == 0.0
    assert echo_overlap("Too short.", [COPY]) == 0.0
    half = "We should search the hold and then sleep until dawn comes."
    assert 0.2 < echo_overlap(half, [COPY]) < 0.5


def test_scene_echo_rate_ignores_a_speaker_repeating_itself() -> None:
    assert scene_echo_rate([("A", COPY), ("A", COPY)]) == 0.0
    assert scene_echo_rate([("A", COPY), ("B", COPY)]) == 0.5  # half of all n-grams
    assert scene_echo_rate([]) == 0.0


def test_topic_mentions_use_content_words_and_plurals() -> None:
    assert topic_words("A stowaway on the ship") == ["stowaway", "ship"]
    assert mentions_topic("Two stowaways, captain!", "A stowaway")
    assert not mentions_topic("The engines hum.", "A stowaway")


def _spec(characters_dir: Path, turns: int) -> SceneSpec:
    paths = (characters_dir / "mira.yaml", characters_dir / "sable.yaml")
    return SceneSpec("scene-00000", paths, "A stowaway", turns, seed=5)


def test_the_scene_prompt_names_the_others_and_the_topic(characters_dir: Path) -> None:
    engine = ScriptedEngine(["Who goes there?"])
    list(SceneRunner(engine, _spec(characters_dir, 1)).run())
    assert "in a scene with Sable. The scene is about: A stowaway." in engine.prompts[0]
    assert "never repeat" in engine.prompts[0]
    plain = ScriptedEngine(["Who goes there?"])
    list(SceneRunner(plain, _spec(characters_dir, 1), scene_prompt=False).run())
    assert "The scene is about" not in plain.prompts[0]


def test_an_echoed_line_is_generated_again_and_the_fresh_one_kept(characters_dir: Path) -> None:
    # Mira speaks; Sable copies her twice, then finds her own words.
    engine = ScriptedEngine([COPY, COPY, COPY, "Not my ship, not my problem."])
    events = list(SceneRunner(engine, _spec(characters_dir, 2)).run())
    retried = [e for e in events if isinstance(e, LineRetried)]
    assert [(e.speaker, e.overlap) for e in retried] == [("Sable", 1.0), ("Sable", 1.0)]
    lines = [e.utterance.text for e in events if isinstance(e, UtteranceDone)]
    assert lines == [COPY, "Not my ship, not my problem."]
    assert engine.calls == 4  # one generation per try


def test_without_the_guard_the_echo_stays(characters_dir: Path) -> None:
    engine = ScriptedEngine([COPY, COPY])
    events = list(SceneRunner(engine, _spec(characters_dir, 2), echo_guard=False).run())
    assert not [e for e in events if isinstance(e, LineRetried)]
    assert [e.utterance.text for e in events if isinstance(e, UtteranceDone)] == [COPY, COPY]


def test_a_retry_within_the_threshold_ends_the_retries(characters_dir: Path) -> None:
    partly = "We should search the hold for rats, not people."
    engine = ScriptedEngine([COPY, COPY, partly, COPY])
    events = list(SceneRunner(engine, _spec(characters_dir, 2)).run())
    assert echo_overlap(partly, [COPY]) == 0.5  # at the threshold: accepted
    assert [e.utterance.text for e in events if isinstance(e, UtteranceDone)][-1] == partly
    assert engine.calls == 3


def test_the_topic_is_said_again_before_each_line_once_the_scene_has_begun(
    characters_dir: Path,
) -> None:
    engine = ScriptedEngine(["Who goes there?", "A rat, maybe.", "Or a stowaway."])
    list(SceneRunner(engine, _spec(characters_dir, 3)).run())
    note = "[The scene is about: A stowaway. Say something about it.]"
    # A character's first line answers the opening line, which names the topic itself; from
    # its second line on (Mira's, the third prompt) the note comes right before it writes.
    assert note not in engine.prompts[0] and note not in engine.prompts[1]
    assert engine.messages[2][-1] == ChatMessage("system", note)
    plain = ScriptedEngine(["Who goes there?", "A rat, maybe.", "Or a stowaway."])
    list(SceneRunner(plain, _spec(characters_dir, 3), scene_prompt=False).run())
    assert not any(note in prompt for prompt in plain.prompts)


def test_a_line_that_says_the_topic_note_back_is_generated_again(characters_dir: Path) -> None:
    parrot = "The scene is about: A stowaway. Say something about it."
    engine = ScriptedEngine(["Who goes there?", parrot, "Check the cargo hold, quietly."])
    events = list(SceneRunner(engine, _spec(characters_dir, 2)).run())
    assert [e.speaker for e in events if isinstance(e, LineRetried)] == ["Sable"]
    lines = [e.utterance.text for e in events if isinstance(e, UtteranceDone)]
    assert lines == ["Who goes there?", "Check the cargo hold, quietly."]
