"""The real default model, briefly: an interview and a two-line scene (slow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from roleplay.dialogue.scene import SceneRunner, SceneSpec, UtteranceDone
from roleplay.dialogue.settings import load_dialogue_settings
from roleplay.evaluation.persona import evaluate_persona
from roleplay.evaluation.plan import Condition, Method

pytestmark = pytest.mark.slow


def test_interview_and_scene_on_the_default_model(
    default_engine: Any, characters_dir: Path
) -> None:
    pip, elias = characters_dir / "pip.yaml", characters_dir / "elias.yaml"
    report = evaluate_persona(default_engine, [pip, elias], [Method.LIKELIHOOD], [Condition.PROMPT])
    [result] = report.results
    estimates = {c.character: c.traits for c in result.characters}
    # The measured signal of the likelihood method (docs/evaluation.md): the exuberant
    # festival planner comes out more extraverted than the timid archive clerk.
    assert (
        estimates["Pip Marigold"]["extraversion"].estimate
        > estimates["Elias Thorne"]["extraversion"].estimate
    )

    spec = SceneSpec("scene-00000", (pip, elias), "The archive floods.", turns=2, seed=1)
    generation = load_dialogue_settings().generation_settings(max_new_tokens=24)
    lines = [
        event.utterance
        for event in SceneRunner(default_engine, spec, generation=generation).run()
        if isinstance(event, UtteranceDone)
    ]
    assert [line.speaker for line in lines] == ["Pip Marigold", "Elias Thorne"]
    assert all(line.text for line in lines)
