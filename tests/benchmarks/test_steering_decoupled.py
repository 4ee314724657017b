"""benchmarks/steering_decoupled.py's arithmetic on hand-made numbers: the fitted cross-talk
matrix, the solved strengths and the paired comparison."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.persona_drift_targets import TRAITS
from benchmarks.steering_decoupled import (
    compare,
    crosstalk_entry,
    decoupled_strengths,
    fit_crosstalk,
    result_name,
    slope_standard_errors,
    trait_bounds,
)

# Five tuning cards whose strengths vary in every trait.
STRENGTHS = {
    "a": dict(zip(TRAITS, [-0.1, 0.5, -0.7, 0.4, 0.8], strict=True)),
    "b": dict(zip(TRAITS, [0.3, 0.4, -0.1, 0.8, -0.8], strict=True)),
    "c": dict(zip(TRAITS, [-0.1, 0.7, -0.4, -0.2, -0.5], strict=True)),
    "d": dict(zip(TRAITS, [0.7, -0.5, 0.9, 0.7, -0.4], strict=True)),
    "e": dict(zip(TRAITS, [0.2, 0.2, -0.7, -0.8, -0.7], strict=True)),
}
WIDE = dict.fromkeys(TRAITS, (-1.0, 1.0))


def _true_matrix() -> list[list[float]]:
    """Each vector moves its own trait by 0.3 per unit; agreeableness's also moves
    neuroticism by -0.3 per unit (the cross-talk measured on the default model)."""
    matrix = [[0.3 if u == s else 0.0 for s in TRAITS] for u in TRAITS]
    matrix[TRAITS.index("neuroticism")][TRAITS.index("agreeableness")] = -0.3
    return matrix


def _measured(matrix: list[list[float]]) -> tuple[dict, dict]:  # type: ignore[type-arg]
    baseline = {n: {t: 0.5 + 0.01 * i for i, t in enumerate(TRAITS)} for n in STRENGTHS}
    alone = {
        steered: {
            n: {
                u: baseline[n][u]
                + matrix[TRAITS.index(u)][TRAITS.index(steered)] * STRENGTHS[n][steered]
                for u in TRAITS
            }
            for n in STRENGTHS
        }
        for steered in TRAITS
    }
    return baseline, alone


def test_the_fit_recovers_each_vectors_effect_on_every_trait() -> None:
    truth = _true_matrix()
    baseline, alone = _measured(truth)
    fitted = fit_crosstalk(baseline, alone, STRENGTHS)
    for row_fitted, row_true in zip(fitted, truth, strict=True):
        assert row_fitted == pytest.approx(row_true, abs=1e-3)


def test_a_trait_without_variation_on_the_tuning_cards_cannot_be_fitted() -> None:
    baseline, alone = _measured(_true_matrix())
    flat = {n: {**s, "openness": 0.2} for n, s in STRENGTHS.items()}
    with pytest.raises(SystemExit, match="do not vary in openness"):
        fit_crosstalk(baseline, alone, flat)


def test_solved_strengths_cancel_the_cross_talk_and_respect_the_bounds() -> None:
    matrix = _true_matrix()
    card = {"openness": 0.0, "conscientiousness": 0.0, "extraversion": 0.0}
    card |= {"agreeableness": 0.6, "neuroticism": 0.6}  # kind and anxious
    solved = decoupled_strengths(matrix, card, WIDE)

    def effects(strengths: dict[str, float]) -> list[float]:
        return [sum(row[j] * strengths[s] for j, s in enumerate(TRAITS)) for row in matrix]

    target = [0.3 * card[t] for t in TRAITS]  # what each trait's own vector does alone
    neuroticism = TRAITS.index("neuroticism")
    # summed at the card's strengths, agreeableness's vector cancels neuroticism's: no effect
    assert effects(card)[neuroticism] == pytest.approx(0.0)
    # the solve raises neuroticism (to its bound) and trims agreeableness a little, so that
    # both traits get most of their own effect
    assert solved["neuroticism"] == 1.0
    assert 0.45 < solved["agreeableness"] < 0.6
    got = effects(solved)
    assert got[neuroticism] > 0.75 * target[neuroticism]
    assert got[TRAITS.index("agreeableness")] > 0.75 * target[TRAITS.index("agreeableness")]
    assert solved["openness"] == pytest.approx(0.0, abs=1e-6)
    tight = {**WIDE, "neuroticism": (-1.0, 0.9)}
    assert decoupled_strengths(matrix, card, tight)["neuroticism"] <= 0.9
    # no cross-talk: the card's own strengths come back
    identity = [[0.3 if u == s else 0.0 for s in TRAITS] for u in TRAITS]
    assert decoupled_strengths(identity, card, WIDE) == pytest.approx(
        {t: card.get(t, 0.0) for t in TRAITS}, abs=1e-6
    )


def _payload(correct: dict[tuple[str, str], bool]) -> dict:  # type: ignore[type-arg]
    characters: dict[str, dict] = {}  # type: ignore[type-arg]
    for (name, trait), hit in correct.items():
        characters.setdefault(name, {"name": name, "traits": {}})["traits"][trait] = {
            "counted": True,
            "correct": hit,
        }
    for character in characters.values():
        for trait in TRAITS:
            character["traits"].setdefault(trait, {"counted": False, "correct": False})
    return {"results": [{"condition": "controller", "characters": list(characters.values())}]}


def test_the_comparison_is_paired_per_character_and_trait() -> None:
    before = {(n, t): t != "neuroticism" for n in "abcd" for t in TRAITS}
    after = {**before, ("a", "neuroticism"): True, ("b", "neuroticism"): True}
    rows = {row["trait"]: row for row in compare(_payload(before), _payload(after))}
    assert rows["neuroticism"]["before"] == 0.0 and rows["neuroticism"]["after"] == 0.5
    assert rows["neuroticism"]["difference"] == 0.5
    low, high = rows["neuroticism"]["interval"]
    assert 0.0 <= low <= 0.5 <= high <= 1.0
    assert rows["openness"]["difference"] == 0.0
    assert rows["all"]["n"] == 20 and rows["all"]["difference"] == pytest.approx(0.1)
    with pytest.raises(SystemExit, match="different"):
        compare(_payload(before), _payload({("a", "openness"): True}))


def test_an_exact_fit_has_no_error_and_a_noisy_one_the_textbook_error() -> None:
    baseline, alone = _measured(_true_matrix())
    errors = slope_standard_errors(baseline, alone, STRENGTHS)
    assert all(value == pytest.approx(0.0, abs=1e-9) for row in errors for value in row)
    # noise on one measured trait: its row gets numpy's least-squares standard errors
    noise = dict(zip(sorted(STRENGTHS), [0.05, -0.03, 0.02, -0.04, 0.01], strict=True))
    noisy = {
        steered: {
            n: {**scores, "openness": scores["openness"] + noise[n]} for n, scores in by.items()
        }
        for steered, by in alone.items()
    }
    errors = slope_standard_errors(baseline, noisy, STRENGTHS)
    row = TRAITS.index("openness")
    for column, steered in enumerate(TRAITS):
        names = sorted(STRENGTHS)
        x = [STRENGTHS[n][steered] for n in names]
        y = [noisy[steered][n]["openness"] - baseline[n]["openness"] for n in names]
        _, covariance = np.polyfit(x, y, 1, cov="unscaled")
        residuals = np.polyfit(x, y, 1, full=True)[1][0]
        expected = float(np.sqrt(covariance[0][0] * residuals / (len(names) - 2)))
        assert errors[row][column] == pytest.approx(expected, abs=1e-4)
    assert all(v == pytest.approx(0.0, abs=1e-9) for v in errors[TRAITS.index("agreeableness")])
    with pytest.raises(SystemExit, match="at least three"):
        slope_standard_errors(
            {n: baseline[n] for n in "ab"}, alone, {n: STRENGTHS[n] for n in "ab"}
        )


def test_the_printed_entry_is_a_crosstalk_file_entry_the_controller_loads(
    tmp_path: Path,
) -> None:
    from roleplay.control.config import load_config
    from roleplay.control.decoupling import load_crosstalk

    matrix = fit_crosstalk(*_measured(_true_matrix()), STRENGTHS)
    hashes = {t: f"{i:016x}" for i, t in enumerate(TRAITS)}
    config = load_config()
    entry = crosstalk_entry("tiny-model", matrix, config, hashes, "now, 5 cards")
    path = tmp_path / "crosstalk.yaml"
    path.write_text("models:\n" + entry + "\n")
    fit = load_crosstalk(path)["tiny-model"]
    assert [list(row) for row in fit.matrix] == matrix
    assert fit.mismatch(config, hashes) is None  # the steering it names is chat's
    assert fit.fitted == "now, 5 cards" and fit.ridge == 0.25 and fit.floor == 0.0
    floored = tmp_path / "floored.yaml"
    floored.write_text("models:\n" + crosstalk_entry("m", matrix, config, hashes, "x", 0.5))
    assert load_crosstalk(floored)["m"].floor == 0.5


def test_a_fit_on_other_cards_than_the_bundled_ones_is_written_apart() -> None:
    assert result_name(["bundled"]) == "steering_decoupled"
    assert result_name(["bundled", "fitting"]) == "steering_decoupled_fit_bundled_fitting"
    assert result_name(["fitting"], 0.5) == "steering_decoupled_fit_fitting_floor_0.5"


def _an_earlier_fit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, list[list[float]]]:
    """An earlier --fit-sets result holding only its fit, with results written to tmp_path."""
    import json

    import benchmarks.common

    monkeypatch.setattr(benchmarks.common, "OUT_DIR", tmp_path)
    source = tmp_path / "steering_decoupled_fit_bundled_fitting.json"
    matrix = fit_crosstalk(*_measured(_true_matrix()), STRENGTHS)
    source.write_text(json.dumps({"crosstalk": {"matrix": matrix, "fitted": "today, 21 cards"}}))
    return source, matrix


def test_a_floor_is_solved_on_an_earlier_fit_without_a_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from benchmarks.common import crosstalk_fit_used
    from benchmarks.steering_decoupled import main

    source, matrix = _an_earlier_fit(tmp_path, monkeypatch)
    main(["--from-result", str(source), "--floor", "0.5"])
    written = tmp_path / "steering_decoupled_fit_bundled_fitting_floor_0.5.json"
    payload = json.loads(written.read_text())
    assert payload["floor"] == 0.5 and payload["crosstalk"]["fitted"] == "today, 21 cards"
    solved = payload["strengths"]["decoupled"]
    assert {"Captain Mira Voss", "Ezekiel Pratt", "Greta Holm", "Agnes Whitlow"} <= set(solved)
    card = payload["strengths"]["cards"]["Ezekiel Pratt"]
    assert solved["Ezekiel Pratt"] == decoupled_strengths(matrix, card, trait_bounds(), 0.5)
    # a run steered at these strengths records the fit and the floor it was solved with
    assert crosstalk_fit_used("m", False, written) == "today, 21 cards; floor 0.5"
    bad = tmp_path / "other.json"
    bad.write_text("{}")
    with pytest.raises(SystemExit, match="not a steering_decoupled result"):
        main(["--from-result", str(bad)])


def test_an_own_share_is_solved_named_and_recorded_apart_from_the_plain_solve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from benchmarks.common import crosstalk_fit_used
    from benchmarks.steering_decoupled import main

    assert result_name(["bundled", "fitting"], 0.0, 0.5) == (
        "steering_decoupled_fit_bundled_fitting_own_share_0.5"
    )
    assert result_name(["fitting"], 0.5, 0.5) == (
        "steering_decoupled_fit_fitting_floor_0.5_own_share_0.5"
    )
    source, matrix = _an_earlier_fit(tmp_path, monkeypatch)
    main(["--from-result", str(source), "--own-share", "0.5"])
    written = tmp_path / "steering_decoupled_fit_bundled_fitting_own_share_0.5.json"
    payload = json.loads(written.read_text())
    assert payload["own_share"] == 0.5 and payload["floor"] == 0.0
    card = payload["strengths"]["cards"]["Ezekiel Pratt"]
    solved = payload["strengths"]["decoupled"]["Ezekiel Pratt"]
    assert solved == decoupled_strengths(matrix, card, trait_bounds(), 0.0, 0.5)
    assert all(solved[t] * v >= 0.5 * abs(v) - 1e-3 for t, v in card.items() if v)
    assert crosstalk_fit_used("m", False, written) == "today, 21 cards; own share 0.5"
    # the plain solve never overwrites the result it was solved from
    main(["--from-result", str(source)])
    assert (tmp_path / "steering_decoupled_fit_bundled_fitting_floor_0.json").exists()
    assert "21 cards" in source.read_text() and "strengths" not in source.read_text()
    with pytest.raises(SystemExit):
        main(["--from-result", str(source), "--own-share", "1.5"])
    from roleplay.control.config import load_config

    hashes = {t: f"{i:016x}" for i, t in enumerate(TRAITS)}
    entry = crosstalk_entry("m", matrix, load_config(), hashes, "x", 0.0, 0.5)
    assert "    own_share: 0.5" in entry and "floor" not in entry
