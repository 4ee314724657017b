"""Issue 17's targets on held-out sets (benchmarks/persona_drift_targets.py), on hand-made
results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import persona_drift_targets as targets
from benchmarks.common import FIRST_CROSSTALK_FIT
from benchmarks.persona_drift_targets import (
    Estimate,
    configuration_problem,
    load_sources,
    markdown,
    target_row,
    target_rows,
    verdict,
    write_plot,
)
from roleplay.control.config import load_config
from roleplay.evaluation.characters import FROZEN_CARD_SET_DIRS
from roleplay.prompting.character_note import CHAT_NOTE_PARTS, WRITTEN_NOTE_DEPTH
from tests.helpers.drift_results import drift_result

TRAITS = targets.TRAITS
AFTER_STATEMENTS = "2026-12-05T06:00:00+00:00"
[SHIPPED_FIT] = targets.shipped_crosstalk_fits({})  # crosstalk.yaml's one fit: the default model's


def _chats_strengths() -> dict[str, Any]:
    """Chat's choice of Big Five strengths (steering.yaml's) and, when it decouples, the fit
    they are solved on, as persona_drift records them."""
    decoupled = load_config().decouple_traits
    return {"decouple_traits": decoupled, "crosstalk_fitted": SHIPPED_FIT if decoupled else None}


# Chat's note as a drift result records it.
CHATS_NOTE = {"note_depth": WRITTEN_NOTE_DEPTH, "note_parts": sorted(CHAT_NOTE_PARTS)}


def _write(folder: Path, stem: str, payload: dict[str, Any]) -> None:
    (folder / f"{stem}.json").write_text(json.dumps(payload))


def _run(ran_on: str | None, results: list[dict[str, Any]], **config: Any) -> dict[str, Any]:
    return {
        "date": AFTER_STATEMENTS,
        "character_notes": True,
        **CHATS_NOTE,
        **_chats_strengths(),
        "report": {"results": results},
        **({"card_set": ran_on} if ran_on is not None else {}),
        **config,
    }


EVALUATION = {f"e{i}": [True, True, True, True, i % 2 == 0] for i in range(4)}
CONFIRMATION = {f"c{i}": [True, i % 3 == 0, True, True, True] for i in range(4)}


def _sources(
    folder: Path, every_run: dict[str, Any] | None = None, **confirmation_config: Any
) -> None:
    """The published runs; ``every_run``: configuration every run records (default: chat's)."""
    common = every_run or {}

    def rows(rights: dict[str, list[bool]], condition: str) -> list[dict[str, Any]]:
        return [drift_result(condition, turns, rights) for turns in (0, 10, 20)]

    # The published evaluation run predates --card-set and the statements default: only its
    # controller rows count; the memory rows come from the statements variant.
    _write(
        folder,
        "persona_drift",
        _run(
            None,
            rows(EVALUATION, "controller") + rows(EVALUATION, "memory"),
            date="2026-12-04T14:27:52+00:00",
            **common,
        ),
    )
    _write(
        folder,
        "persona_drift_remember_statements",
        _run(None, rows(EVALUATION, "memory"), remember_policy="statements", **common),
    )
    _write(
        folder,
        "persona_drift_confirmation",
        _run(
            "confirmation",
            rows(CONFIRMATION, "controller") + rows(CONFIRMATION, "memory"),
            **{**common, **confirmation_config},
        ),
    )


def test_verdicts_separate_the_interval_from_the_point_estimate() -> None:
    assert verdict(Estimate(0.86, 0.80, 0.92, 50), 0.80) == "met"
    assert verdict(Estimate(0.86, 0.60, 0.92, 50), 0.80) == "met by the point estimate"
    assert verdict(Estimate(0.74, 0.50, 0.84, 50), 0.75) == "missed by the point estimate"
    assert verdict(Estimate(0.60, 0.50, 0.70, 50), 0.75) == "missed"


def test_only_chats_configuration_counts() -> None:
    # chat's choice of Big Five strengths: every configuration below differs from chat's only
    # in what it names
    chat_strengths = _chats_strengths()
    chats = {"date": AFTER_STATEMENTS, **CHATS_NOTE, **chat_strengths}

    def problem(config: dict[str, Any], condition: str) -> str | None:
        return configuration_problem({**chat_strengths, **config}, condition)

    assert configuration_problem(chats, "memory") is None
    other_strengths = {"decouple_traits": not chat_strengths["decouple_traits"]}
    assert "strengths" in str(configuration_problem({**chats, **other_strengths}, "memory"))
    # decoupled strengths solved on another fit than crosstalk.yaml's are another steering
    refit = {"decouple_traits": True, "crosstalk_fitted": "2031-01-01T00:00:00+00:00, elsewhere"}
    solved = {"decoupled_strengths": "x.json", "crosstalk_fitted": refit["crosstalk_fitted"]}
    expected = "another cross-talk fit (2031-01-01T00:00:00+00:00)"
    for other_fit in (refit, solved):
        assert (
            expected in str(problem({**other_fit, **CHATS_NOTE}, "memory"))
            or not (chat_strengths["decouple_traits"])
        )
    # runs from before the fit was recorded were solved on the first fit
    legacy = {**chats, "crosstalk_fitted": None}
    if not chat_strengths["decouple_traits"] or SHIPPED_FIT == FIRST_CROSSTALK_FIT:
        assert configuration_problem(legacy, "memory") is None
    else:
        assert "another cross-talk fit (2026-12-06" in str(configuration_problem(legacy, "memory"))
    # Results from before the depth was recorded had the note at SillyTavern's 4.
    assert "note at depth 4, not 1" in str(problem({"date": AFTER_STATEMENTS}, "memory"))
    assert problem({"remember_policy": "statements", **CHATS_NOTE}, "memory") is None
    # What the run says it kept wins over the flag (None: the default of its day).
    used = {
        **chat_strengths,
        "remember_policy": None,
        "remember_policy_used": "user",
        "date": AFTER_STATEMENTS,
    }
    assert "keeping 'user'" in str(configuration_problem(used, "memory"))
    assert "note" in str(problem({"character_notes": False}, "controller"))
    assert "pools" in str(problem({"memory_pools": True}, "memory"))
    assert "placed" in str(problem({"memory_position": "before_character"}, "memory"))
    assert "recalled" in str(problem({"recalled_memories": 1}, "memory"))
    assert "note at depth 4" in str(problem({"note_depth": 4}, "controller"))
    only_some = configuration_problem({**chats, "note_parts": ["lines", "stay"]}, "memory")
    assert "saying stay, lines, not chat" in str(only_some)
    # Results written before the parts were recorded said the whole note, closing included.
    before_parts = {key: value for key, value in chats.items() if key != "note_parts"}
    said = configuration_problem(before_parts, "memory")
    assert "saying stay, lines, words, voice" in str(said)
    shipped = load_config().max_combined_strength
    assert "sum bounded at 9" in str(problem({"max_combined_strength": 9}, "memory"))
    assert configuration_problem({**chats, "max_combined_strength": shipped}, "memory") is None
    assert "reply tokens only" in str(problem({"steering_scope": "reply"}, "memory"))
    assert configuration_problem({**chats, "steering_scope": "all"}, "memory") is None
    assert "halved every 32 reply tokens" in str(problem({"reply_half_life": 32}, "memory"))
    assert configuration_problem({**chats, "reply_half_life": None}, "memory") is None
    assert "exchange" in str(
        problem({"remember_policy": "exchange", "date": AFTER_STATEMENTS}, "memory")
    )
    # Without --remember, a run from before the statements default kept whole messages; its
    # controller rows still count (the controller never writes memory).
    old = {**chat_strengths, "date": "2026-12-04T14:27:52+00:00"}
    assert "before the statements" in str(configuration_problem(old, "memory"))
    assert configuration_problem({**old, **CHATS_NOTE}, "controller") is None


def test_pooling_counts_every_characters_pairs_once() -> None:
    row = target_row(
        "both",
        "memory",
        20,
        [
            (7000, drift_result("memory", 20, EVALUATION)),
            (7000, drift_result("memory", 20, CONFIRMATION)),
        ],
        resamples=500,
    )
    assert row.characters == 8 and row.acc.pairs == 40 and row.seeds == [7000]
    # Right: evaluation 4x4 + 2 neuroticism; confirmation 4x4 + 2 conscientiousness.
    assert row.acc.value == pytest.approx(36 / 40)
    assert row.acc.low <= row.acc.value <= row.acc.high
    assert row.traits["neuroticism"].value == pytest.approx(6 / 8)
    assert row.traits["conscientiousness"].value == pytest.approx(6 / 8)
    assert row.traits["openness"].value == 1.0 and row.traits["openness"].pairs == 8
    assert row.target == 0.75 and row.verdict in {"met", "met by the point estimate"}
    assert row.traits_below_floor == []


def test_a_character_in_both_sets_is_refused() -> None:
    with pytest.raises(ValueError, match="counted twice in one conversation seed"):
        target_row(
            "both",
            "memory",
            0,
            [
                (7000, drift_result("memory", 0, EVALUATION)),
                (7000, drift_result("memory", 0, EVALUATION)),
            ],
            resamples=10,
        )


def test_the_sources_give_each_set_then_both(tmp_path: Path) -> None:
    _sources(tmp_path)
    rows = target_rows(load_sources(tmp_path), resamples=300)
    assert [(r.condition, r.turns, r.card_set) for r in rows[:3]] == [
        ("controller", 0, "evaluation"),
        ("controller", 0, "confirmation"),
        ("controller", 0, "both"),
    ]
    assert len(rows) == 2 * 3 * 3
    by_key = {(r.condition, r.turns, r.card_set): r for r in rows}
    assert by_key[("memory", 20, "evaluation")].acc.value == pytest.approx(18 / 20)
    assert by_key[("memory", 10, "both")].target is None
    assert by_key[("memory", 10, "both")].verdict == ""
    table = markdown(rows)
    assert "| memory | 20 | **both** | 8 | 40 |" in table
    assert "Traits below 0.6 over both sets (point estimates): none." in table
    assert write_plot(rows, tmp_path / "targets.png").stat().st_size > 0


def test_a_trait_below_the_floor_is_named(tmp_path: Path) -> None:
    weak = {
        "memory": drift_result("memory", 0, {"x": [True, True, True, False, True]}),
        "other": drift_result("memory", 0, {"y": [True, True, True, False, True]}),
    }
    row = target_row("both", "memory", 0, [(7000, r) for r in weak.values()], resamples=100)
    assert row.traits_below_floor == ["agreeableness"]
    assert "memory at 0: agreeableness" in markdown([row])


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"card_set": "bundled"}, "ran on the bundled set"),
        ({"character_notes": False}, "without the character's note"),
        ({"remember_policy": "user"}, "keeping 'user'"),
    ],
)
def test_a_source_from_elsewhere_is_refused(
    tmp_path: Path, config: dict[str, Any], message: str
) -> None:
    _sources(tmp_path, **config)
    with pytest.raises(ValueError, match=message):
        load_sources(tmp_path)


def test_a_missing_source_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _sources(tmp_path)
    (tmp_path / "persona_drift_confirmation.json").unlink()
    with pytest.raises(SystemExit) as exit_info:
        targets.main(["--results", str(tmp_path), "--resamples", "10"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "persona_drift_confirmation_seed_7000_controller.json: missing" in error
    off = "persona_drift_confirmation_decouple_traits_off"
    on = ("persona_drift_confirmation_decoupled", "persona_drift_confirmation_decouple_traits_on")
    if load_config().decouple_traits:  # steering.yaml decouples: the decoupled runs' names
        variants = f"{on[0]}_seed_7000_controller.json, {on[1]}_seed_7000_controller.json"
    else:
        variants = f"{off}_seed_7000_controller.json, {off}.json"
    assert f"(as are {variants}" in error
    assert error.rstrip().endswith(
        "persona_drift_confirmation.json); run benchmarks.persona_drift"
        " --card-set confirmation --conditions controller --conversation-seed 7000 "
        "--after-turns 20 for it"
    )
    assert "--card-set confirmation --conditions controller --conversation-seed 7000" in error


def test_memory_rows_fall_back_to_a_statements_run_of_the_published_name(
    tmp_path: Path,
) -> None:
    _sources(tmp_path)
    (tmp_path / "persona_drift_remember_statements.json").unlink()
    # The published run's memory rows predate the statements policy: refused, not used.
    with pytest.raises(ValueError, match="before the statements policy"):
        load_sources(tmp_path)
    rows = [drift_result(c, t, EVALUATION) for c in ("controller", "memory") for t in (0, 10, 20)]
    _write(tmp_path, "persona_drift", _run(None, rows, date=AFTER_STATEMENTS))
    loaded = load_sources(tmp_path)
    assert set(loaded[("evaluation", "memory")][7000]) == {("memory", t) for t in (0, 10, 20)}


def test_one_condition_needs_only_its_own_sources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _sources(tmp_path)
    (tmp_path / "persona_drift_remember_statements.json").unlink()
    _write(
        tmp_path,
        "persona_drift",
        _run(None, [drift_result("controller", t, EVALUATION) for t in (0, 20)]),
    )
    rows = target_rows(load_sources(tmp_path, ["controller"]), resamples=50)
    assert {r.condition for r in rows} == {"controller"}
    assert {r.turns for r in rows} == {0, 20}
    with pytest.raises(SystemExit) as exit_info:
        targets.main(["--results", str(tmp_path), "--conditions", "prompt"])
    assert exit_info.value.code == 2
    assert "--conditions 'prompt'" in capsys.readouterr().err


def test_a_broken_source_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _sources(tmp_path)
    (tmp_path / "persona_drift.json").write_bytes(b"\x00\xff not json")
    with pytest.raises(SystemExit) as exit_info:
        targets.main(["--results", str(tmp_path), "--resamples", "10"])
    assert exit_info.value.code == 2
    assert "not a persona_drift result" in capsys.readouterr().err


def test_a_seed_run_of_the_conditions_name_comes_before_the_published_run(tmp_path: Path) -> None:
    _sources(tmp_path)
    better = {name: [True] * 5 for name in EVALUATION}
    _write(
        tmp_path,
        "persona_drift_seed_7000_memory",
        _run(
            "evaluation",
            [drift_result("memory", t, better) for t in (0, 20)],
            conversation_seed=7000,
        ),
    )
    loaded = load_sources(tmp_path)
    assert set(loaded[("evaluation", "memory")][7000]) == {("memory", 0), ("memory", 20)}
    # The controller has no seed run of its own: the published run's rows.
    assert ("controller", 10) in loaded[("evaluation", "controller")][7000]


def test_seeds_pool_each_characters_conversations(tmp_path: Path) -> None:
    _sources(tmp_path)
    worse = {name: [False, True, True, True, True] for name in EVALUATION}
    for card_set, stem, rights in (
        ("evaluation", "persona_drift", worse),
        ("confirmation", "persona_drift_confirmation", CONFIRMATION),
    ):
        _write(
            tmp_path,
            f"{stem}_seed_7100_memory",
            _run(
                card_set,
                [drift_result("memory", t, rights) for t in (0, 20)],
                conversation_seed=7100,
            ),
        )
    rows = target_rows(load_sources(tmp_path, ["memory"], seeds=[7000, 7100]), resamples=300)
    # Only the checkpoints every seed has.
    assert {r.turns for r in rows} == {0, 20}
    by_key = {(r.turns, r.card_set): r for r in rows}
    evaluation = by_key[(20, "evaluation")]
    assert evaluation.characters == 4 and evaluation.seeds == [7000, 7100]
    assert evaluation.acc.pairs == 40
    # 18 of 20 right with seed 7000, 16 of 20 with 7100.
    assert evaluation.acc.value == pytest.approx(34 / 40)
    assert evaluation.traits["openness"].value == pytest.approx(4 / 8)
    both = by_key[(20, "both")]
    assert both.characters == 8 and both.acc.pairs == 80
    assert "Conversation seeds: 7000, 7100 (each character's outcomes pooled" in markdown(rows)


def test_a_run_of_another_seed_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _sources(tmp_path)
    _write(
        tmp_path,
        "persona_drift_seed_7100_controller",
        _run("evaluation", [drift_result("controller", 0, EVALUATION)], conversation_seed=7100),
    )
    _write(
        tmp_path,
        "persona_drift_confirmation_seed_7100_controller",
        _run("confirmation", [drift_result("controller", 0, CONFIRMATION)], conversation_seed=7200),
    )
    with pytest.raises(ValueError, match="conversation seed 7200, not 7100"):
        load_sources(tmp_path, ["controller"], seeds=[7000, 7100])
    # A seed with no run of its own name has no published fallback.
    with pytest.raises(ValueError, match=r"persona_drift_seed_7300_controller\.json: missing"):
        load_sources(tmp_path, ["controller"], seeds=[7300])
    with pytest.raises(SystemExit) as exit_info:
        targets.main(["--results", str(tmp_path), "--seeds", "7000,x"])
    assert exit_info.value.code == 2
    assert "--seeds '7000,x'" in capsys.readouterr().err


def test_decoupled_runs_count_only_where_the_decoupled_strengths_are_asked_for(
    tmp_path: Path,
) -> None:
    _sources(tmp_path, every_run={"decouple_traits": False})  # at the cards' strengths
    better = {name: [True] * 5 for name in CONFIRMATION}
    rows = [drift_result("controller", t, better) for t in (0, 20)]
    decoupled = {"decoupled_strengths": "benchmarks/out/steering_decoupled.json"}
    _write(
        tmp_path, "persona_drift_confirmation_decoupled", _run("confirmation", rows, **decoupled)
    )
    # asked for the cards' strengths, the decoupled run is no candidate (or gives way)
    loaded = load_sources(tmp_path, ["controller"], decoupled=False)
    assert ("controller", 10) in loaded[("confirmation", "controller")][7000]
    # asked for the decoupled strengths, the published run of the cards' strengths is refused
    with pytest.raises(ValueError, match="cards' strengths, not the decoupled ones"):
        load_sources(tmp_path, ["controller"], decoupled=True)
    _write(
        tmp_path,
        "persona_drift_decoupled",
        _run(None, [drift_result("controller", t, EVALUATION) for t in (0, 20)], **decoupled),
    )
    loaded = load_sources(tmp_path, ["controller"], decoupled=True)
    assert set(loaded[("confirmation", "controller")][7000]) == {("controller", t) for t in (0, 20)}
    assert "decoupled strengths" in str(configuration_problem(decoupled, "controller", False))
    on_chats_fit = {**CHATS_NOTE, "decouple_traits": True, "crosstalk_fitted": SHIPPED_FIT}
    assert configuration_problem(on_chats_fit, "controller", True) is None
    # a run that names no fit was solved on the first one (2026-12-06)
    legacy = {**on_chats_fit, "crosstalk_fitted": None}
    if SHIPPED_FIT != FIRST_CROSSTALK_FIT:
        assert "another cross-talk fit" in str(configuration_problem(legacy, "controller", True))


def test_the_other_choice_of_strengths_is_written_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = "off" if load_config().decouple_traits else "on"
    _sources(tmp_path)
    flag = {"decoupled_strengths": "x.json"} if other == "on" else {"decouple_traits": False}
    for stem, ran_on, rights in (
        ("persona_drift", None, EVALUATION),
        ("persona_drift_confirmation", "confirmation", CONFIRMATION),
    ):
        rows = [drift_result("controller", t, rights) for t in (0, 20)]
        suffix = "_decoupled" if other == "on" else "_decouple_traits_off"
        _write(tmp_path, stem + suffix, _run(ran_on, rows, **flag))
    out = tmp_path / "out"
    monkeypatch.setattr(targets, "OUT_DIR", out)
    targets.main(
        [
            "--results",
            str(tmp_path),
            "--resamples",
            "10",
            "--conditions",
            "controller",
            "--decouple-traits",
            other,
        ]
    )
    assert (out / f"persona_drift_targets_decouple_traits_{other}.json").exists()
    assert not (out / "persona_drift_targets.json").exists()


REPLICATION = {f"r{i}": [i != 0, True, True, True, True] for i in range(4)}


def _replication_run(folder: Path, seed: int = 7000, **config: Any) -> None:
    _write(
        folder,
        f"persona_drift_replication_seed_{seed}_memory",
        _run(
            "replication",
            [drift_result("memory", t, REPLICATION) for t in (0, 20)],
            conversation_seed=seed,
            **config,
        ),
    )


def test_the_frozen_sets_are_the_card_sets_frozen_in_roleplay() -> None:
    assert tuple(FROZEN_CARD_SET_DIRS) == targets.FROZEN_SETS


def test_a_third_set_pools_with_the_others_as_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _sources(tmp_path)
    _replication_run(tmp_path)
    sets = ("evaluation", "confirmation", "replication")
    loaded = load_sources(tmp_path, ["memory"], card_sets=sets)
    rows = target_rows(loaded, resamples=200)
    # The replication run has no 10-turn checkpoint, so only 0 and 20 are pooled.
    assert [(r.turns, r.card_set) for r in rows] == [
        (turns, card_set) for turns in (0, 20) for card_set in (*sets, "all")
    ]
    pooled = next(r for r in rows if r.card_set == "all" and r.turns == 20)
    assert pooled.characters == 12 and pooled.acc.pairs == 60
    # Wrong: 2 evaluation neuroticism, 2 confirmation conscientiousness, 1 replication openness.
    assert pooled.acc.value == pytest.approx(55 / 60)
    table = markdown(rows)
    assert "| memory | 20 | **all** | 12 | 60 |" in table
    assert "over all 3 sets (point estimates): none." in table
    # The script writes a third set's verdicts apart from the published pair's.
    monkeypatch.setattr(targets, "OUT_DIR", tmp_path / "out")
    arguments = ["--results", str(tmp_path), "--conditions", "memory", "--resamples", "50"]
    targets.main([*arguments, "--sets", ",".join(sets)])
    assert "**all**" in capsys.readouterr().out
    written = tmp_path / "out" / "persona_drift_targets_evaluation_confirmation_replication.json"
    assert json.loads(written.read_text())[-1]["card_set"] == "all"
    assert written.with_suffix(".png").stat().st_size > 0
    assert not (tmp_path / "out" / "persona_drift_targets.json").exists()


def test_the_replication_set_is_read_only_from_its_seed_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _sources(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        targets.main(
            [
                "--results",
                str(tmp_path),
                "--conditions",
                "memory",
                "--sets",
                "confirmation,replication",
            ]
        )
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "persona_drift_replication_seed_7000_memory.json: missing" in error
    assert "--card-set replication --conditions memory --conversation-seed 7000" in error
    # A replication run outside chat's configuration is refused like any other.
    _replication_run(tmp_path, note_depth=4)
    with pytest.raises(ValueError, match="note at depth 4"):
        load_sources(tmp_path, ["memory"], card_sets=("confirmation", "replication"))


def test_one_set_alone_gives_its_rows_without_a_pooled_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The headline for a new character: the replication set alone, over two conversations.
    _replication_run(tmp_path, seed=7000)
    _replication_run(tmp_path, seed=7100)
    loaded = load_sources(tmp_path, ["memory"], seeds=(7000, 7100), card_sets=("replication",))
    rows = target_rows(loaded, resamples=200)
    assert [(r.turns, r.card_set) for r in rows] == [(0, "replication"), (20, "replication")]
    # 4 characters x 5 traits x 2 conversations
    assert rows[1].seeds == [7000, 7100] and rows[1].acc.pairs == 40
    table = markdown(rows)
    assert "over the replication set (point estimates): none." in table
    monkeypatch.setattr(targets, "OUT_DIR", tmp_path / "out")
    arguments = ["--results", str(tmp_path), "--conditions", "memory", "--resamples", "50"]
    targets.main([*arguments, "--sets", "replication", "--seeds", "7000,7100"])
    assert "| memory | 20 | replication | 4 | 40 |" in capsys.readouterr().out
    written = tmp_path / "out" / "persona_drift_targets_replication.json"
    assert [row["card_set"] for row in json.loads(written.read_text())] == ["replication"] * 2


@pytest.mark.parametrize(
    ("sets", "message"),
    [(",", "one or more"), ("evaluation,evaluation", "different sets"), ("x,y", "unknown")],
)
def test_bad_sets_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sets: str, message: str
) -> None:
    _sources(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        targets.main(["--results", str(tmp_path), "--sets", sets])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
