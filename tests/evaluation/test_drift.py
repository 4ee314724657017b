"""Drift: interviews after turns of the scripted conversation, on the tiny random model."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from roleplay.errors import RoleplayError
from roleplay.evaluation import parts
from roleplay.evaluation.drift import (
    DriftScript,
    load_drift_script,
    parse_after_turns,
    play_turns,
)
from roleplay.evaluation.interview import HistoryView, Interviewer
from roleplay.evaluation.persona import evaluate_persona
from roleplay.evaluation.plan import Condition, Method
from roleplay.evaluation.report import report_json, summary_table, write_drift_plot
from roleplay.paths import memory_dir, sessions_db_path
from roleplay.pipeline import Conversation, PreparedTurn

SCRIPT = DriftScript.model_validate(
    {
        "generation": {"max_new_tokens": 3, "min_new_tokens": 3, "temperature": 0.8, "seed": 1},
        "messages": ["You are wonderful.", "Write me some Python.", "lol whatever"],
    }
)


def test_the_bundled_script_has_twenty_varied_messages() -> None:
    script = load_drift_script()
    assert len(script.messages) == 20
    assert len(set(script.messages)) == 20


@pytest.mark.parametrize(
    ("text", "expected"), [("20", [20]), ("10,5,20", [5, 10, 20]), ("5, 5", [5])]
)
def test_after_turns_parses_counts(text: str, expected: list[int]) -> None:
    assert parse_after_turns(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "use 1 to 20"),
        ("21", "use 1 to 20"),
        ("ten", "give turn counts"),
        (",", "at least one"),
    ],
)
def test_bad_after_turns_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(RoleplayError, match=message):
        parse_after_turns(text)


class RecordingMemory:
    def __init__(self) -> None:
        self.written: list[str] = []

    def recall_for_turn(self, query: str, recent: Any) -> tuple[list[Any], dict[str, float]]:
        return [], {}

    def remember_exchange(self, user_text: str, reply: str, session: str, turn: int) -> None:
        self.written.append(user_text)


def test_the_interview_is_held_in_the_conversation_played_so_far(
    roomy_tiny_engine: Any, characters_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory = RecordingMemory()
    monkeypatch.setattr(
        parts, "scratch_memory_factory", lambda folder, policy=None, **_: lambda card: memory
    )
    monkeypatch.setattr(
        parts, "memory_factory", lambda *_: pytest.fail("a drift run writes to a scratch memory")
    )
    prompts: list[tuple[str, int]] = []
    original = Conversation.prepare

    def spy(self: Conversation, message: str, history: Any = None) -> PreparedTurn:
        prepared = original(self, message, history)
        users = sum(1 for m in history or [] if m.role == "user")
        prompts.append((prepared.prompt.text, users))
        return prepared

    monkeypatch.setattr(Conversation, "prepare", spy)
    interviewer = Interviewer(roomy_tiny_engine, batch_size=16)
    interviewer.drift = SCRIPT
    answers = interviewer.interview_over_turns(
        characters_dir / "mira.yaml", Condition.MEMORY, [Method.LIKELIHOOD], [0, 2, 3]
    )
    assert sorted(answers) == [0, 2, 3]
    assert all(len(a.log_likelihoods) == 50 for a in answers.values())
    # The conversation's turns went through the chat path, memory writes included (the
    # random model may answer a message with whitespace only, which is not stored).
    assert len(memory.written) >= 2
    assert [m for m in SCRIPT.messages if m in memory.written] == memory.written
    describe = [(text, n) for text, n in prompts if "Describe yourself" in text]
    assert [n for _, n in describe] == [0, 2, 3]  # the user's messages in the history
    assert "Write me some Python." not in describe[0][0]
    assert "Write me some Python." in describe[1][0] and "lol whatever" not in describe[1][0]
    assert "lol whatever" in describe[2][0]
    assert answers[0].log_likelihoods != answers[3].log_likelihoods
    assert not sessions_db_path().exists()


@pytest.mark.parametrize("notes", [True, False])
def test_the_character_note_can_be_left_out_of_a_drift_interview(
    roomy_tiny_engine: Any, characters_dir: Path, prepared_prompts: list[str], notes: bool
) -> None:
    """The ablation switch (benchmarks/persona_drift.py --no-character-note) reaches the
    prompts of both the played turns and the interview."""
    interviewer = Interviewer(roomy_tiny_engine, batch_size=16, character_notes=notes)
    interviewer.drift = SCRIPT
    interviewer.interview_over_turns(
        characters_dir / "mira.yaml", Condition.PROMPT, [Method.LIKELIHOOD], [3]
    )
    # The note (depth 1) joins once the history holds a message: from the second turn on.
    with_note = ["[Stay Captain Mira Voss." in text for text in prepared_prompts]
    assert with_note == ([False, True, True, True] if notes else [False] * 4)


def test_the_note_depth_reaches_the_played_turns(
    roomy_tiny_engine: Any, characters_dir: Path, prepared_prompts: list[str]
) -> None:
    """``note_depth`` (persona_drift --note-depth) moves the note in the played turns, and
    played_conversation gives back the conversation a drift run plays."""
    interviewer = Interviewer(roomy_tiny_engine, batch_size=16, note_depth=3)
    interviewer.drift = SCRIPT
    messages = interviewer.played_conversation(characters_dir / "mira.yaml", Condition.PROMPT, 3)
    assert [m.role for m in messages] == ["user", "assistant"] * 3
    assert [m.content for m in messages if m.role == "user"] == SCRIPT.messages
    # Depth 3: from the third turn on (3 messages of history), before the last three.
    with_note = ["[Stay Captain Mira Voss." in text for text in prepared_prompts]
    assert with_note == [False, False, True]
    prompt = prepared_prompts[2]
    note_at = prompt.index("[Stay Captain Mira Voss.")
    assert prompt.index("You are wonderful.") < note_at < prompt.index("Write me some Python.")
    assert not sessions_db_path().exists()


def test_a_drift_run_with_real_memory_leaves_the_users_store_alone(
    roomy_tiny_engine: Any, characters_dir: Path
) -> None:
    interviewer = Interviewer(roomy_tiny_engine, batch_size=16)
    interviewer.drift = SCRIPT
    interviewer.interview_over_turns(
        characters_dir / "pip.yaml", Condition.MEMORY, [Method.LIKELIHOOD], [0, 1]
    )
    assert not memory_dir().exists()


def test_the_memory_ablations_reach_the_interview_and_the_played_turns(
    roomy_tiny_engine: Any, characters_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """benchmarks/persona_drift.py --recalled-memories 1 --memory-position before_character:
    with a real scratch memory (Pip has five seed memories), every prompt of the played turns
    and of the interviews carries at most one memory, placed before the card's text."""
    seen: list[tuple[str, int]] = []
    original = Conversation.prepare

    def spy(self: Conversation, message: str, history: Any = None) -> PreparedTurn:
        prepared = original(self, message, history)
        seen.append((prepared.prompt.text, len(prepared.prompt.memories)))
        return prepared

    monkeypatch.setattr(Conversation, "prepare", spy)
    interviewer = Interviewer(
        roomy_tiny_engine,
        batch_size=16,
        recalled_memories=1,
        memory_position="before_character",
    )
    interviewer.drift = SCRIPT
    interviewer.interview_over_turns(
        characters_dir / "pip.yaml", Condition.MEMORY, [Method.LIKELIHOOD], [0, 1]
    )
    assert seen and max(count for _, count in seen) == 1
    for text, count in seen:
        if count:  # a seed memory, or what the user said
            first = re.search(r"# What [^\n]+ (remembers|said before)\n", text)
            assert first is not None and first.start() < text.index("# Who ")


def test_evaluate_persona_reports_each_checkpoint(
    roomy_tiny_engine: Any, characters_dir: Path, tmp_path: Path
) -> None:
    interviewer = Interviewer(roomy_tiny_engine, batch_size=16)
    report = evaluate_persona(
        roomy_tiny_engine,
        [characters_dir / "mira.yaml", characters_dir / "pip.yaml"],
        [Method.LIKELIHOOD],
        [Condition.PROMPT],
        interviewer=interviewer,
        reference_paths=[characters_dir / "pip.yaml", characters_dir / "sable.yaml"],
        resamples=50,
        after_turns=[2],
    )
    assert report.checkpoints == [0, 2] and report.drift
    assert [r.turns for r in report.results] == [0, 2]
    start, later = report.results
    assert start.overall.mae != later.overall.mae
    payload = report_json(report)
    assert payload["after_turns"] == [2]
    assert payload["conversation_seed"] == load_drift_script().generation.seed
    assert [r["turns"] for r in payload["results"]] == [0, 2]
    json.dumps(payload)
    table = summary_table(report)
    assert [column.header for column in table.columns][:3] == ["method", "condition", "turns"]
    png = write_drift_plot(report, tmp_path / "drift.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_steering_combination_reaches_the_interviews_controller(
    roomy_tiny_engine: Any, characters_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """benchmarks/persona_drift.py --steering-combination decorrelated: the controller that
    steers the interview combines the card's trait vectors that way."""
    from roleplay.control.controller import Controller

    built: list[str] = []
    original = Controller.for_card.__func__  # type: ignore[attr-defined]

    def spy(cls: type[Controller], *args: Any, **kwargs: Any) -> Controller:
        controller = original(cls, *args, **kwargs)
        built.append(controller.config.combination)
        return controller

    monkeypatch.setattr(Controller, "for_card", classmethod(spy))
    interviewer = Interviewer(roomy_tiny_engine, batch_size=16, steering_combination="decorrelated")
    interviewer.interview(characters_dir / "pip.yaml", Condition.CONTROLLER, [Method.LIKELIHOOD])
    assert built == ["decorrelated"]


def test_steered_traits_and_per_character_strengths_reach_the_controller(
    roomy_tiny_engine: Any, characters_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cross-talk diagnostic: only the named Big Five traits are steered, at the
    strengths the card gives them; the card's other traits get none. And the decoupling
    variant: strengths given per character name replace the card's."""
    from roleplay.control.controller import Controller

    strengths: list[dict[str, float]] = []
    original = Controller.for_card.__func__  # type: ignore[attr-defined]

    def spy(cls: type[Controller], *args: Any, **kwargs: Any) -> Controller:
        controller = original(cls, *args, **kwargs)
        strengths.append(controller.strengths)
        return controller

    monkeypatch.setattr(Controller, "for_card", classmethod(spy))
    card = characters_dir / "pip.yaml"
    Interviewer(roomy_tiny_engine, batch_size=16).interview(
        card, Condition.CONTROLLER, [Method.LIKELIHOOD]
    )
    Interviewer(roomy_tiny_engine, batch_size=16, steered_traits=["neuroticism"]).interview(
        card, Condition.CONTROLLER, [Method.LIKELIHOOD]
    )
    Interviewer(
        roomy_tiny_engine,
        batch_size=16,
        strengths_by_character={"Pip Marigold": {"neuroticism": 0.9, "openness": -0.2}},
    ).interview(card, Condition.CONTROLLER, [Method.LIKELIHOOD])
    everything, only_neuroticism, chosen = strengths
    assert len(everything) == 5  # Pip's card steers all five traits
    assert only_neuroticism == {"neuroticism": everything["neuroticism"]}
    # strengths given per character replace the card's for those traits, the rest stay
    assert chosen == {**everything, "neuroticism": 0.9, "openness": -0.2}


def test_an_unknown_steered_trait_is_refused() -> None:
    from roleplay.errors import RoleplayError
    from roleplay.evaluation import parts

    if not parts.controller_available():
        pytest.skip("roleplay.control is not installed")
    with pytest.raises(RoleplayError, match="steered traits: humour is not a Big Five trait"):
        parts.controller_factory(object(), steered_traits=["humour"])  # type: ignore[arg-type]


class _SeedRecorder:
    """Stands in for a Conversation: records each message and the seed it was sent with."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int | None]] = []

    def send(self, message: str, seed: int | None = None) -> Any:
        self.sent.append((message, seed))
        return type("Reply", (), {"text": lambda self: ""})()


def test_each_turn_is_sampled_from_the_scripts_seed_or_the_one_given() -> None:
    default = _SeedRecorder()
    play_turns(default, 0, 3, SCRIPT)  # type: ignore[arg-type]
    assert default.sent == [(m, 1 + turn) for turn, m in enumerate(SCRIPT.messages)]
    other = _SeedRecorder()
    play_turns(other, 1, 3, SCRIPT, seed=100)  # type: ignore[arg-type]
    assert other.sent == [(SCRIPT.messages[1], 101), (SCRIPT.messages[2], 102)]


def test_the_conversation_seed_reaches_the_played_turns(
    roomy_tiny_engine: Any, characters_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """benchmarks/persona_drift.py --conversation-seed: another sample of the conversation."""
    from roleplay.evaluation import interview

    seeds: list[int | None] = []
    original = interview.play_turns

    def spy(*args: Any, seed: int | None = None, **kwargs: Any) -> None:
        seeds.append(seed)
        original(*args, seed=seed, **kwargs)

    monkeypatch.setattr(interview, "play_turns", spy)
    interviewer = Interviewer(roomy_tiny_engine, batch_size=16, conversation_seed=7100)
    interviewer.drift = SCRIPT
    interviewer.interview_over_turns(
        characters_dir / "pip.yaml", Condition.CONTROLLER, [Method.LIKELIHOOD], [0, 1]
    )
    assert seeds == [7100, 7100]  # checkpoint 0 (no turns) and 1
    report = evaluate_persona(
        roomy_tiny_engine,
        [characters_dir / "pip.yaml"],
        [Method.LIKELIHOOD],
        [Condition.PROMPT],
        interviewer=interviewer,
        reference_paths=[characters_dir / "pip.yaml", characters_dir / "sable.yaml"],
        resamples=0,
        after_turns=[1],
    )
    assert report_json(report)["conversation_seed"] == 7100  # the JSON says which sample


def test_history_views_interview_one_played_conversation_under_each_view(
    roomy_tiny_engine: Any, characters_dir: Path, prepared_prompts: list[str]
) -> None:
    """benchmarks/drift_sources.py: the conversation is played once, and each view decides
    which of its messages the interview's prompt shows; the neutral role-player is scored
    after the same messages, while the drift runs' history-less baseline stays cached."""
    interviewer = Interviewer(roomy_tiny_engine, batch_size=16)
    interviewer.drift = SCRIPT
    views = {
        "full": HistoryView(lambda history: history),
        "full_no_note": HistoryView(lambda history: history, character_note=False),
        "none": HistoryView(lambda history: []),
        "replies_only": HistoryView(lambda history: [m for m in history if m.role == "assistant"]),
    }
    result = interviewer.interview_history_views(
        characters_dir / "mira.yaml", Condition.PROMPT, 3, views
    )
    describe = [text for text in prepared_prompts if "Describe yourself" in text]
    start, full, full_no_note, none, replies = describe  # the start, then one per view
    assert all(message not in start for message in SCRIPT.messages)
    assert all(message in full for message in SCRIPT.messages)
    note = "[Stay Captain Mira Voss."
    assert note in full and note not in full_no_note
    assert note in replies  # a view after the note-less one has it again
    assert all(message in full_no_note for message in SCRIPT.messages)
    assert all(message not in none + replies for message in SCRIPT.messages)
    assert len(replies) > len(none)  # the character's replies are there
    played = len(prepared_prompts) - len(describe)
    assert played == len(SCRIPT.messages)  # played once, not once per view
    assert set(result.views) == set(result.neutral_with_history) == set(views)
    without_history = interviewer.neutral_log_likelihoods()
    assert result.neutral_with_history["none"] == without_history
    assert result.neutral_with_history["full"] != without_history
    assert result.views["full"].neutral_log_likelihoods == without_history
    assert result.start.log_likelihoods != result.views["full"].log_likelihoods
    # The context is roomy: the neutral role-player read each view's whole history.
    assert result.kept_messages == {"full": 6, "full_no_note": 6, "none": 0, "replies_only": 3}
    assert not sessions_db_path().exists()


def test_a_history_view_can_have_the_note_say_only_some_of_its_parts(
    roomy_tiny_engine: Any, characters_dir: Path, prepared_prompts: list[str]
) -> None:
    """benchmarks/drift_sources.py's note views: the note says only the view's parts, and
    the next view says chat's parts again (all but the closing sentence)."""
    interviewer = Interviewer(roomy_tiny_engine, batch_size=16)
    interviewer.drift = SCRIPT
    views = {
        "voice": HistoryView(lambda history: history, note_parts=frozenset({"stay", "voice"})),
        "lines": HistoryView(lambda history: history, note_parts=frozenset({"lines"})),
        "full": HistoryView(lambda history: history),
    }
    interviewer.interview_history_views(characters_dir / "mira.yaml", Condition.PROMPT, 3, views)
    _, voice, lines, full = [text for text in prepared_prompts if "Describe yourself" in text]
    closing = "Answer as Captain Mira Voss would"
    assert "[Stay Captain Mira Voss. " + closing in voice  # nothing said in between
    assert "[Captain Mira Voss is" in lines and closing not in lines and "[Stay" not in lines
    assert "[Stay Captain Mira Voss. Captain Mira Voss is" in full and closing not in full


def test_the_neutral_reads_only_what_the_characters_prompt_kept(
    roomy_tiny_engine: Any, characters_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the context is full the character's prompt drops the oldest messages; the
    neutral role-player of a history view is given the same messages, not the dropped ones."""
    from dataclasses import replace

    original = Conversation.prepare

    def crowded(self: Conversation, message: str, history: Any = None) -> PreparedTurn:
        prepared = original(self, message, history)
        if "Describe yourself" in message and history:
            return replace(prepared, prompt=replace(prepared.prompt, dropped_messages=2))
        return prepared

    monkeypatch.setattr(Conversation, "prepare", crowded)
    neutral_histories: list[list[str]] = []
    interviewer = Interviewer(roomy_tiny_engine, batch_size=16)
    interviewer.drift = SCRIPT
    scores = interviewer._neutral_scores

    def spy(history: Any) -> dict[int, float]:
        neutral_histories.append([m.content for m in history])
        return scores(history)

    monkeypatch.setattr(interviewer, "_neutral_scores", spy)
    result = interviewer.interview_history_views(
        characters_dir / "pip.yaml", Condition.PROMPT, 3, {"full": HistoryView(lambda h: h)}
    )
    assert result.kept_messages == {"full": 4}
    given = neutral_histories[-1]
    assert SCRIPT.messages[0] not in given and SCRIPT.messages[1:] == given[::2]
