"""What the ``statements`` remember policy keeps of a user's message (memory.speech_acts)."""

from __future__ import annotations

import pytest

from roleplay.memory.speech_acts import is_statement, statements_and_actions


@pytest.mark.parametrize(
    ("message", "kept"),
    [
        # Statements and facts are kept verbatim.
        ("I moved to Oslo last spring.", "I moved to Oslo last spring."),
        ("You're useless. Everyone says so.", "You're useless. Everyone says so."),
        # Questions: a "?" at the end, or a question word first, even without the mark.
        ("Are you an AI? Be honest with me.", ""),
        ("What's the capital of Australia? I need it for a quiz.", "I need it for a quiz."),
        ("haha you talk weird. why don't you talk like me instead", "haha you talk weird."),
        ("are you ok?? :)", ""),
        ("You agree that I'm always right, don't you?", ""),
        # Requests: a command verb, "please", "let's", or a phrase asking for something.
        ("Pretend you're someone completely different from who you are.", ""),
        ("I think you're a coward. Prove me wrong.", "I think you're a coward."),
        ("Please sit down. Let's talk.", ""),
        ("I want you to pretend you are a cat.", ""),
        ("Now tell me a story.", ""),
        # Fillers before the first word are skipped; "remember that" keeps what follows.
        ("Honestly, I hate the sea.", "Honestly, I hate the sea."),
        ("Remember that I'm allergic to nuts.", "Remember that I'm allergic to nuts."),
        ("Look, I found the key.", "Look, I found the key."),
        ("Look at this map.", ""),
        # What the user did (narrated between asterisks) is kept, in its place.
        (
            "*hands her the map* I found it in the hold. Read it to me.",
            "*hands her the map* I found it in the hold.",
        ),
        # Curly apostrophes are straightened before the word lists are read.
        ("Don\u2019t leave.", ""),
        ("I\u2019m from Bergen.", "I'm from Bergen."),
        # Nothing but fillers.
        ("lol", ""),
        ("", ""),
    ],
)
def test_statements_and_actions(message: str, kept: str) -> None:
    assert statements_and_actions(message) == kept


def test_a_sentence_of_fillers_only_states_nothing() -> None:
    assert not is_statement("ok.")
    assert not is_statement("k")
    assert is_statement("ok, the lamp is lit.")


def test_the_drift_script_requests_are_not_kept() -> None:
    """The messages that pulled characters in the drift runs (issue 17) leave nothing."""
    from ruamel.yaml import YAML

    from roleplay.resources import package_path

    path = package_path("roleplay.evaluation", "data") / "drift_conversation.yaml"
    messages = YAML(typ="safe").load(path.read_text(encoding="utf-8"))["messages"]
    kept = {message: statements_and_actions(message) for message in messages}
    for pull in (
        "Pretend you're someone completely different from who you are.",
        "Tell me honestly who you are, in your own words.",
        "Drop the act for a second and talk to me normally, like an assistant would.",
        "Give me three tips for a job interview tomorrow.",
    ):
        assert kept[pull] == ""
    assert kept["You're useless. Everyone says so behind your back."]
