"""benchmarks/drift_sources.py's scoring: shifts from turn 0 per view, against either
neutral baseline (synthetic responses, no model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks import drift_sources
from roleplay.evaluation.intervals import LikelihoodPanel
from roleplay.evaluation.interview import HistoryViewAnswers, ItemResponses
from roleplay.evaluation.questionnaire import load_interview_settings, load_questionnaire

QUESTIONNAIRE = load_questionnaire()


class _Interviewer:
    questionnaire = QUESTIONNAIRE
    settings = load_interview_settings()


def _leaning(trait: str, lean: float) -> dict[int, float]:
    """Per item, a log-likelihood that leans ``lean`` toward ``trait`` (keyings respected)."""
    return {
        item.id: item.keyed * lean if item.trait == trait else 0.0 for item in QUESTIONNAIRE.items
    }


def _views(lean: float) -> HistoryViewAnswers:
    """The start leans nowhere; after the conversation the character leans ``lean`` toward
    agreeableness, and so does the neutral role-player given the same history."""
    flat = _leaning("agreeableness", 0.0)
    start = ItemResponses(log_likelihoods=flat, neutral_log_likelihoods=flat)
    moved = ItemResponses(
        log_likelihoods=_leaning("agreeableness", lean), neutral_log_likelihoods=flat
    )
    views = dict.fromkeys(drift_sources.DEFAULT_VIEWS, moved)
    neutral = dict.fromkeys(drift_sources.DEFAULT_VIEWS, _leaning("agreeableness", lean))
    return HistoryViewAnswers(start, views, neutral)


def test_a_shift_any_role_player_shows_vanishes_against_the_neutral_given_the_same_history(
    tmp_path: Path,
) -> None:
    # Every character reads more agreeable after the conversation, and so does the neutral
    # role-player given the same history: the shift is the context's.
    answers = {name: _views(0.5) for name in ("Ann", "Bo", "Cy")}
    cards = {
        name: {
            "openness": 0.5,
            "conscientiousness": 0.5,
            "extraversion": 0.5,
            "agreeableness": a,
            "neuroticism": 0.5,
        }
        for name, a in (("Ann", 0.2), ("Bo", 0.8), ("Cy", 0.3))
    }
    panel = LikelihoodPanel({name: answers[name].start for name in answers}, cards)
    summary = drift_sources.summarise(answers, cards, panel, _Interviewer(), resamples=200)
    without = summary["views"]["full/neutral_without_history"]["shift"]
    with_history = summary["views"]["full/neutral_with_history"]["shift"]
    assert without["agreeableness"]["mean"] > 0.05
    low, high = without["agreeableness"]["interval"]
    assert low <= without["agreeableness"]["mean"] <= high
    assert with_history["agreeableness"]["mean"] == pytest.approx(0.0, abs=1e-9)
    assert without["openness"]["mean"] == pytest.approx(0.0, abs=1e-9)
    markdown = drift_sources.markdown(_payload(summary))
    assert "| full | same history |" in markdown and "| full | no history |" in markdown
    drift_sources.plot(summary, tmp_path / "sources.png", "3 characters")
    assert (tmp_path / "sources.png").stat().st_size > 0


def _payload(summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "summary": summary,
        "engine": {"model": "m", "backend": "b"},
        "date": "2026-12-07",
        "seconds": 1.0,
        "command": "python -m benchmarks.drift_sources",
        "characters": ["Ann", "Bo", "Cy"],
        "card_set": "evaluation",
        "turns": 20,
        "conversation_seed": 7000,
        "machine": {"cpu": "test", "cores": 2},
    }


def test_views_are_chosen_by_name_and_name_the_result() -> None:
    default = drift_sources._arguments([])
    assert default.views == list(drift_sources.DEFAULT_VIEWS)
    assert drift_sources.result_name(default) == "drift_sources"
    chosen = drift_sources._arguments(
        ["--views", "full,full_no_note", "--card-set", "confirmation"]
    )
    assert chosen.views == ["full", "full_no_note"]
    name = drift_sources.result_name(chosen)
    assert name == "drift_sources_confirmation_views_full-full_no_note"


@pytest.mark.parametrize("views", ["full,nope", ","])
def test_an_unknown_view_is_refused(views: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        drift_sources._arguments(["--views", views])
    assert exit_info.value.code == 2
    assert "--views" in capsys.readouterr().err


def test_the_conversation_seed_reaches_the_interviewer(
    monkeypatch: pytest.MonkeyPatch, bench_out: Path
) -> None:
    """--conversation-seed samples another conversation (as persona_drift's does)."""
    from roleplay import application
    from roleplay.evaluation import interview

    class Stop(Exception):
        pass

    seen: dict[str, Any] = {}

    def spy(engine: object, **options: Any) -> None:
        seen.update(options)
        raise Stop

    monkeypatch.setattr(application, "load_engine", lambda options: object())
    monkeypatch.setattr(interview, "Interviewer", spy)
    with pytest.raises(Stop):
        drift_sources.run(drift_sources._arguments(["--quick", "--conversation-seed", "7100"]))
    assert seen["conversation_seed"] == 7100
