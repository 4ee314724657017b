"""benchmarks/persona_drift.py's switches: each ablation writes under its own name, so the
published run is never overwritten by one, and a bad value stops before the model loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.persona_drift import _arguments, decoupled_strengths, result_name


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        ([], "persona_drift"),
        (["--no-character-note"], "persona_drift_no_note"),
        (["--remember", "statements"], "persona_drift_remember_statements"),
        (
            ["--remember", "statements", "--memory-pools"],
            "persona_drift_remember_statements_memory_pools",
        ),
        (["--memory-position", "before_character"], "persona_drift_memories_first"),
        (["--memory-position", "after_character"], "persona_drift"),  # the default
        (["--recalled-memories", "1"], "persona_drift_recall_1"),
        (["--card-set", "bundled"], "persona_drift_bundled"),
        (["--card-set", "confirmation"], "persona_drift_confirmation"),
        (["--steering-combination", "decorrelated"], "persona_drift_decorrelated"),
        (["--steering-combination", "sum"], "persona_drift"),  # steering.yaml's
        (["--steering-scope", "reply"], "persona_drift_reply_only"),
        (["--steering-scope", "all"], "persona_drift"),  # steering.yaml's
        (["--max-combined-strength", "1.5"], "persona_drift_combined_1.5"),
        (["--note-depth", "4"], "persona_drift_note_depth_4"),  # SillyTavern's
        (["--note-depth", "1"], "persona_drift"),  # chat's
        (["--note-parts", "voice,words,stay,lines"], "persona_drift_note_stay-lines-words-voice"),
        (["--note-parts", "stay,lines,words"], "persona_drift"),  # chat's
        (["--reply-half-life", "32"], "persona_drift_half_life_32"),
        (
            ["--conversation-seed", "7100", "--conditions", "controller"],
            "persona_drift_seed_7100_controller",
        ),
        (
            ["--conversation-seed", "7100", "--conditions", "memory,controller"],
            "persona_drift_seed_7100_memory-controller",
        ),
        (
            ["--card-set", "bundled", "--recalled-memories", "2", "--no-character-note"],
            "persona_drift_bundled_no_note_recall_2",
        ),
    ],
)
def test_each_variant_has_its_own_result_name(argv: list[str], name: str) -> None:
    assert result_name(_arguments(argv)) == name


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--recalled-memories", "0"], "--recalled-memories 0: use 1 or more"),
        (["--memory-position", "middle"], "invalid choice: 'middle'"),
        (["--card-set", "mine"], "invalid choice: 'mine'"),
        (["--steering-combination", "product"], "invalid choice: 'product'"),
        (["--steering-scope", "prompt"], "invalid choice: 'prompt'"),
        (["--note-depth", "-1"], "--note-depth -1: use 0 to 1000"),
        (["--note-parts", "lines,tone"], "--note-parts 'lines,tone': use some of stay, lines"),
        (["--note-parts", ","], "--note-parts ',': use some of stay, lines, words, voice"),
        (["--max-combined-strength", "0"], "--max-combined-strength 0: use a positive number"),
        (["--max-combined-strength", "nan"], "--max-combined-strength nan: use a positive"),
        (["--max-combined-strength", "wide"], "invalid float value: 'wide'"),
        (["--reply-half-life", "0"], "--reply-half-life 0: use a number of tokens > 0"),
        (["--reply-half-life", "inf"], "--reply-half-life inf: use a number of tokens > 0"),
    ],
)
def test_bad_switches_stop_with_exit_code_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _arguments(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_decoupled_strengths_come_from_a_steering_decoupled_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = tmp_path / "steering_decoupled.json"
    solved = {"Kai Moreno": {"openness": 0.4, "neuroticism": -0.7}}
    result.write_text(json.dumps({"strengths": {"cards": {}, "decoupled": solved}}))
    arguments = _arguments(["--decoupled-strengths", str(result)])
    assert result_name(arguments) == "persona_drift_decoupled"
    assert decoupled_strengths(arguments.decoupled_strengths) == solved
    other = tmp_path / "persona_drift.json"
    other.write_text(json.dumps({"report": {}}))
    for path in (other, tmp_path / "missing.json"):
        with pytest.raises(SystemExit) as exit_info:
            _arguments(["--decoupled-strengths", str(path)])
        assert exit_info.value.code == 2
        assert "not a steering_decoupled result" in capsys.readouterr().err


def test_decoupling_the_traits_is_named_only_where_it_differs_from_steering_yaml() -> None:
    from roleplay.control.config import load_config

    default, other = ("on", "off") if load_config().decouple_traits else ("off", "on")
    assert result_name(_arguments(["--decouple-traits", default])) == "persona_drift"
    assert (
        result_name(_arguments(["--decouple-traits", other]))
        == f"persona_drift_decouple_traits_{other}"
    )
    with pytest.raises(SystemExit):
        _arguments(["--decouple-traits", "maybe"])


def test_a_run_records_the_cross_talk_fit_its_strengths_were_solved_on(tmp_path: Path) -> None:
    from benchmarks.common import FIRST_CROSSTALK_FIT, crosstalk_fit_used
    from roleplay.control.decoupling import load_crosstalk

    [(model, fit)] = load_crosstalk().items()
    assert crosstalk_fit_used(model, True) == fit.fitted  # chat's solve: crosstalk.yaml's fit
    assert crosstalk_fit_used(model, False) is None  # the cards' strengths: no fit
    assert crosstalk_fit_used("another-model", True) is None  # no fit for it
    result = tmp_path / "steering_decoupled_fit_bundled_fitting.json"
    for crosstalk, expected in [
        ({"fitted": "2026-12-07T08:00:00+00:00, 21 cards"}, "2026-12-07T08:00:00+00:00, 21 cards"),
        ({"crosstalk_yaml": '  m:\n    fitted: "2026-12-07, 21 cards"\n'}, "2026-12-07, 21 cards"),
        ({"matrix": []}, FIRST_CROSSTALK_FIT),  # results from before either was written
    ]:
        result.write_text(json.dumps({"crosstalk": crosstalk}))
        assert crosstalk_fit_used(model, False, result) == expected
