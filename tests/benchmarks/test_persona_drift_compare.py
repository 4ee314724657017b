"""Paired drift comparisons (benchmarks/persona_drift_compare.py) on hand-made results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks.persona_drift_compare import (
    between,
    markdown,
    paired_difference,
    pooled_memory_against_controller,
    standard_comparisons,
    variant_path,
    write_plot,
)
from tests.helpers.drift_results import drift_result


def _result(
    correct: dict[str, list[bool]],
    error: float = 0.2,
    condition: str = "controller",
    turns: int = 0,
) -> dict[str, Any]:
    # A card at the midpoint is not counted in Acc(Dim) (the last trait of character "c").
    return drift_result(
        condition, turns, correct, abs_error=error, uncounted={("c", "neuroticism")}
    )


def _payload(*results: dict[str, Any]) -> dict[str, Any]:
    return {"report": {"results": list(results)}}


BASE = {"a": [True] * 5, "b": [True, True, False, False, True], "c": [True] * 4 + [False]}


def test_the_difference_counts_gains_and_losses_over_counted_pairs() -> None:
    other = {"a": [True] * 4 + [False], "b": [True] * 5, "c": [True] * 4 + [True]}
    row = paired_difference(_result(BASE), _result(other, error=0.3), "x", resamples=500)
    # 14 counted pairs; base right on 12, other on 13 (c's neuroticism is not counted).
    assert row.pairs == 14
    assert row.base_acc == pytest.approx(12 / 14) and row.other_acc == pytest.approx(13 / 14)
    assert row.acc_difference == pytest.approx(1 / 14)
    assert (row.gained, row.lost) == (2, 1)
    assert row.mae_difference == pytest.approx(0.1)  # every trait, counted or not
    low, high = row.acc_interval
    assert low <= row.acc_difference <= high
    assert row.mae_interval == pytest.approx((0.1, 0.1))


def test_identical_results_differ_by_nothing() -> None:
    row = paired_difference(_result(BASE), _result(BASE), "same", resamples=200)
    assert row.acc_difference == 0 and row.acc_interval == (0.0, 0.0)
    assert (row.gained, row.lost) == (0, 0)


def test_results_of_different_characters_are_refused() -> None:
    with pytest.raises(ValueError, match="different characters"):
        paired_difference(_result(BASE), _result({"a": [True] * 5}), "x", resamples=10)


def test_standard_comparisons_pair_conditions_and_ablations() -> None:
    worse = {"a": [False] * 5, "b": BASE["b"], "c": BASE["c"]}
    published = _payload(
        _result(BASE, condition="controller", turns=20),
        _result(worse, condition="memory", turns=20),
    )
    ablation = _payload(_result(worse, condition="controller", turns=20))
    rows = standard_comparisons(published, {"persona_drift_no_note": ablation}, resamples=100)
    assert [row.label for row in rows] == [
        "memory - controller, turn 20",
        "controller: with note - without, turn 20",
    ]
    assert rows[0].acc_difference == pytest.approx(-5 / 14)
    assert rows[1].acc_difference == pytest.approx(5 / 14)
    table = markdown(rows)
    assert "| memory - controller, turn 20 | 14 | 0.86 -> 0.50 | -0.36 [" in table


def test_a_candidate_change_is_compared_with_the_published_run_and_its_controller() -> None:
    """A candidate (``--remember statements``) is the change under test: candidate -
    published, and its memory condition against the published controller."""

    worse = {"a": [False] * 5, "b": BASE["b"], "c": BASE["c"]}
    published = _payload(
        _result(BASE, condition="controller", turns=20),
        _result(worse, condition="memory", turns=20),
    )
    candidate = _payload(_result(BASE, condition="memory", turns=20))
    rows = standard_comparisons(
        published, {"persona_drift_remember_statements": candidate}, resamples=100
    )
    assert [row.label for row in rows] == [
        "memory - controller, turn 20",
        "memory: remember the user's statements - their whole messages, turn 20",
        "memory (remember_statements) - controller, turn 20",
    ]
    assert rows[1].acc_difference == pytest.approx(5 / 14)  # the candidate gains
    assert rows[2].acc_difference == 0 and (rows[2].gained, rows[2].lost) == (0, 0)


def test_a_candidate_built_on_another_is_measured_against_that_one() -> None:
    """Memories first is tried on the statements policy: its change is memories first -
    statements (not - the published run), and its memory still faces the published
    controller. Without the statements result there is nothing to measure it against."""

    worse = {"a": [False] * 5, "b": BASE["b"], "c": BASE["c"]}
    better = {"a": BASE["a"], "b": [True] * 5, "c": BASE["c"]}
    published = _payload(
        _result(BASE, condition="controller", turns=20),
        _result(worse, condition="memory", turns=20),
    )
    statements = _payload(_result(BASE, condition="memory", turns=20))
    first = _payload(_result(better, condition="memory", turns=20))
    rows = standard_comparisons(
        published,
        {"persona_drift_remember_statements": statements, "persona_drift_memories_first": first},
        resamples=100,
    )
    labels = [row.label for row in rows]
    assert labels[-2:] == [
        "memory: memories before the card's text - after it (both statements, one pool), turn 20",
        "memory (memories_first) - controller, turn 20",
    ]
    assert rows[-2].acc_difference == pytest.approx(2 / 14)  # against statements, not published
    assert (rows[-2].gained, rows[-2].lost) == (2, 0)
    assert rows[-1].acc_difference == pytest.approx(2 / 14)  # against the controller
    alone = standard_comparisons(published, {"persona_drift_memories_first": first}, resamples=10)
    assert [row.label for row in alone] == ["memory - controller, turn 20"]


def test_the_plot_is_written(tmp_path: Path) -> None:
    row = paired_difference(_result(BASE), _result(BASE), "same", resamples=10)
    path = write_plot([row, row], tmp_path / "compare.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_corrupt_result_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks.persona_drift_compare import main

    (tmp_path / "persona_drift.json").write_bytes(b"\x00\xffnot json")
    with pytest.raises(SystemExit) as exit_info:
        main(["--published", str(tmp_path / "persona_drift.json")])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "persona_drift.json: not a persona_drift result" in error
    assert "\n" not in error


def test_between_compares_every_checkpoint_two_results_share() -> None:
    better = {"a": BASE["a"], "b": [True] * 5, "c": BASE["c"]}
    base = _payload(
        _result(BASE, condition="memory", turns=10), _result(BASE, condition="memory", turns=20)
    )
    other = _payload(_result(better, condition="memory", turns=20))
    (row,) = between(base, other, "pools - shared", resamples=50)
    assert row.label == "memory: pools - shared, turn 20"
    assert row.acc_difference == pytest.approx(2 / 14) and (row.gained, row.lost) == (2, 0)


def test_between_without_a_common_checkpoint_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from benchmarks.persona_drift_compare import main

    for name, turns in (("a", 10), ("b", 20)):
        result = _result(BASE, condition="memory", turns=turns)
        (tmp_path / f"{name}.json").write_text(json.dumps({"report": {"results": [result]}}))
    with pytest.raises(SystemExit) as exit_info:
        main(["--between", str(tmp_path / "a.json"), str(tmp_path / "b.json")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == "error: b - a: no condition and checkpoint in common"


def test_between_given_twice_pools_the_pairs_characters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from benchmarks.persona_drift_compare import main

    second_base = {"d": [False] * 5, "e": [True] * 5}
    second_other = {"d": [True] * 5, "e": [True] * 5}
    better = {"a": BASE["a"], "b": [True] * 5, "c": BASE["c"]}
    files = {
        "a0": _payload(_result(BASE, turns=20)),
        "a1": _payload(_result(better, turns=20)),
        "b0": _payload(drift_result("controller", 20, second_base)),
        "b1": _payload(drift_result("controller", 20, second_other)),
    }
    for name, payload in files.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(payload))
    paths = {name: str(tmp_path / f"{name}.json") for name in files}
    main(["--between", paths["a0"], paths["a1"], "--between", paths["b0"], paths["b1"]])
    table = capsys.readouterr().out
    # 14 + 10 counted pairs; 2 + 5 gained, none lost.
    assert "| controller: a1 - a0 and 1 more pair, pooled, turn 20 | 24 |" in table
    assert "| 7 / 0 |" in table
    with pytest.raises(SystemExit) as exit_info:
        main(["--between", paths["a0"], paths["a1"], "--between", paths["a0"], paths["a1"]])
    assert exit_info.value.code == 2
    assert "pooled runs share characters: a, b, c" in capsys.readouterr().err


def test_between_reads_a_card_set_of_a_persona_fidelity_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``FILE.json#SET``: one card set of a persona_fidelity result (its turn-0 interview),
    so two runs of it under other settings pair like drift results; a set it lacks is the
    one-line error."""
    import json

    from benchmarks.persona_drift_compare import main

    better = {"a": BASE["a"], "b": [True] * 5, "c": BASE["c"]}
    for name, correct in (("before", BASE), ("after", better)):
        sets = {"evaluation": {"results": [_result(correct)]}, "bundled": {"results": []}}
        (tmp_path / f"{name}.json").write_text(json.dumps({"sets": sets}))
    before, after = (f"{tmp_path / name}.json#evaluation" for name in ("before", "after"))
    main(["--between", before, after])
    table = capsys.readouterr().out
    assert "| 14 |" in table and "| 2 / 0 |" in table
    with pytest.raises(SystemExit) as exit_info:
        main(["--between", before, f"{tmp_path / 'after'}.json#confirmation"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "after.json#confirmation: not a persona_drift" in error
    assert "\n" not in error


def test_pooling_two_card_sets_pairs_over_all_their_characters() -> None:
    """The controller rows come from one run, the memory rows from the variant that matches
    the other set's configuration; the other set's characters are added to both sides."""
    other_set = {"x": [True] * 5, "y": [False] * 5}
    controllers = _payload(
        _result(BASE, condition="controller", turns=20),
        _result(BASE, condition="memory", turns=20),  # not used: an older memory
    )
    memories = _payload(_result({**BASE, "a": [False] * 5}, condition="memory", turns=20))
    other = _payload(
        _result(other_set, condition="controller", turns=20),
        _result({"x": [True] * 5, "y": [True] * 5}, condition="memory", turns=20),
    )
    (row,) = pooled_memory_against_controller(controllers, memories, [other], resamples=50)
    assert row.label == "memory (both card sets) - controller, turn 20"
    assert row.pairs == 24  # 14 + 10
    assert (row.gained, row.lost) == (5, 5)  # y's five gained, a's five lost
    assert row.acc_difference == pytest.approx(0.0)


def test_pooled_runs_must_not_share_characters() -> None:
    run = _payload(
        _result(BASE, condition="controller", turns=20),
        _result(BASE, condition="memory", turns=20),
    )
    with pytest.raises(ValueError, match="pooled runs share characters: a, b, c"):
        pooled_memory_against_controller(run, run, [run], resamples=10)


def test_pooling_three_card_sets_adds_every_sets_characters() -> None:
    controllers = _payload(_result(BASE, condition="controller", turns=20))
    memories = _payload(_result(BASE, condition="memory", turns=20))
    second = _payload(
        _result({"x": [True] * 5}, condition="controller", turns=20),
        _result({"x": [False] * 5}, condition="memory", turns=20),
    )
    third = _payload(
        _result({"z": [False] * 5}, condition="controller", turns=20),
        _result({"z": [True] * 5}, condition="memory", turns=20),
    )
    (row,) = pooled_memory_against_controller(controllers, memories, [second, third], 50)
    assert row.label == "memory (3 card sets) - controller, turn 20"
    assert row.pairs == 24  # 14 + 5 + 5
    assert (row.gained, row.lost) == (5, 5)
    # A character in the second and third sets is refused, not counted twice.
    with pytest.raises(ValueError, match="share characters: x"):
        pooled_memory_against_controller(controllers, memories, [second, second], 10)


def test_a_card_sets_variants_are_named_after_its_run(tmp_path: Path) -> None:
    assert variant_path(tmp_path / "persona_drift.json", "persona_drift_no_note") == (
        tmp_path / "persona_drift_no_note.json"
    )
    assert variant_path(tmp_path / "persona_drift_bundled.json", "persona_drift_no_note") == (
        tmp_path / "persona_drift_bundled_no_note.json"
    )


def test_a_pooled_comparison_is_named_after_the_sets_it_pools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from benchmarks import persona_drift_compare

    monkeypatch.setattr(persona_drift_compare, "OUT_DIR", tmp_path)

    def run(rights: dict[str, list[bool]]) -> dict[str, Any]:
        return _payload(
            _result(rights, condition="controller", turns=20),
            _result(rights, condition="memory", turns=20),
        )

    (tmp_path / "persona_drift.json").write_text(json.dumps(run(BASE)))
    (tmp_path / "persona_drift_bundled.json").write_text(json.dumps(run({"x": [True] * 5})))
    (tmp_path / "persona_drift_confirmation.json").write_text(json.dumps(run({"z": [True] * 5})))
    persona_drift_compare.main(
        [
            "--published",
            str(tmp_path / "persona_drift.json"),
            "--resamples",
            "20",
            "--pool-with",
            str(tmp_path / "persona_drift_bundled.json"),
            str(tmp_path / "persona_drift_confirmation.json"),
        ]
    )
    assert "memory (3 card sets) - controller, turn 20 | 24 |" in capsys.readouterr().out
    written = json.loads(
        (tmp_path / "persona_drift_compare_pooled_with_bundled_confirmation.json").read_text()
    )
    assert written[-1]["pairs"] == 24
    assert (tmp_path / "persona_drift_compare_pooled_with_bundled_confirmation.png").is_file()


def test_between_pools_conversation_seeds_with_the_character_as_one_cluster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from benchmarks.persona_drift_compare import main, pooled

    better = {"a": BASE["a"], "b": [True] * 5, "c": BASE["c"]}
    files = {
        "base_7000": {**_payload(_result(BASE, turns=20)), "conversation_seed": 7000},
        "other_7000": {**_payload(_result(better, turns=20)), "conversation_seed": 7000},
        "base_7100": {**_payload(_result(BASE, turns=20)), "conversation_seed": 7100},
        "other_7100": {**_payload(_result(BASE, turns=20)), "conversation_seed": 7100},
    }
    both = pooled([files["base_7000"], files["base_7100"]])
    played = [c["played"] for c in both["report"]["results"][0]["characters"]]
    assert played[:2] == ["a, seed 7000", "b, seed 7000"] and "a, seed 7100" in played
    for name, payload in files.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(payload))
    path = {name: str(tmp_path / f"{name}.json") for name in files}
    seeds_paired = ["base_7000", "other_7000", "base_7100", "other_7100"]
    main(
        [
            argument
            for i in (0, 2)
            for argument in ("--between", path[seeds_paired[i]], path[seeds_paired[i + 1]])
        ]
    )
    table = capsys.readouterr().out
    # Both conversations of the three characters: 2 x 14 counted pairs, b's two gained
    # in the first seed only.
    assert "| controller: other_7000 - base_7000 and 1 more pair, pooled, turn 20 | 28 |" in table
    assert "| 2 / 0 |" in table
    # A pair whose two runs played different conversations is refused.
    with pytest.raises(SystemExit) as exit_info:
        crossed = ["base_7000", "other_7100", "base_7100", "other_7000"]
        main(
            [
                argument
                for i in (0, 2)
                for argument in ("--between", path[crossed[i]], path[crossed[i + 1]])
            ]
        )
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "other_7100.json played conversation seed 7100, base_7000.json seed 7000" in error


def test_between_reads_a_view_of_a_drift_sources_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``FILE.json#VIEW``: a drift_sources view scored as a drift run of its condition (its
    start at turn 0, the view after the played turns), so a variant's drift run pairs with
    it; a view it lacks is the one-line error."""
    import json

    from benchmarks.persona_drift_compare import drift_sources_report, main
    from roleplay.cards.loader import load_card
    from roleplay.evaluation.characters import bundled_character_paths

    cards = {
        card.name: card.personality.big_five.as_dict()
        for card in map(load_card, bundled_character_paths())
    }
    flipped = {  # every card's agreeableness read on the other side of the midpoint
        name: {**scores, "agreeableness": 1.0 - scores["agreeableness"]}
        for name, scores in cards.items()
    }
    payload = {
        "card_set": "bundled",
        "condition": "memory",
        "turns": 20,
        "views": ["full", "full_no_note"],
        "summary": {
            "start": {"scores": cards},
            "views": {
                "full/neutral_without_history": {"scores": cards},
                "full/neutral_with_history": {"scores": flipped},
                "full_no_note/neutral_without_history": {"scores": flipped},
            },
        },
    }
    report = drift_sources_report(payload, "full_no_note")
    assert [(r["condition"], r["turns"]) for r in report["results"]] == [
        ("memory", 0),
        ("memory", 20),
    ]
    after = {c["name"]: c["traits"]["agreeableness"] for c in report["results"][1]["characters"]}
    assert set(after) == set(cards)
    assert not any(trait["correct"] for trait in after.values() if trait["counted"])
    path = tmp_path / "drift_sources.json"
    path.write_text(json.dumps(payload))
    main(["--between", f"{path}#full", f"{path}#full_no_note"])
    table = capsys.readouterr().out
    counted = sum(trait["counted"] for trait in after.values())
    assert f"| 0 / {counted} |" in table and "| 0 / 0 |" in table  # turn 20, then turn 0
    with pytest.raises(SystemExit) as exit_info:
        main(["--between", f"{path}#full", f"{path}#last_4"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert "drift_sources.json#last_4: not a persona_drift result" in error and "\n" not in error
