"""Cross-talk decoupling: the shipped fit, the solve, the controller's use of it and bad files."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from roleplay.control.attributes import BIG_FIVE
from roleplay.control.config import load_config
from roleplay.control.controller import Controller
from roleplay.control.decoupling import Crosstalk, crosstalk_for, decouple, load_crosstalk
from roleplay.errors import FileProblemsError
from tests.control.conftest import make_card

DEFAULT_MODEL = "SmolLM2-135M-Instruct-b179c9523d0e6a0f"  # the embedded model's id
KIND_AND_ANXIOUS = {"agreeableness": 0.85, "neuroticism": 0.85, "extraversion": 0.3}


def _within_one(_: str, __: float) -> float:
    return 1.0


def test_the_shipped_fit_is_for_the_default_model_and_its_steering() -> None:
    fit, why_not = crosstalk_for(DEFAULT_MODEL, load_config())
    assert fit is not None, why_not
    agreeableness, neuroticism = BIG_FIVE.index("agreeableness"), BIG_FIVE.index("neuroticism")
    # the cross-talk the fit exists for: agreeableness's vector lowers measured neuroticism
    # more than it raises agreeableness
    assert fit.matrix[neuroticism][agreeableness] < -fit.matrix[agreeableness][agreeableness]
    assert all(fit.matrix[i][i] > 0 for i in range(len(BIG_FIVE)))


def test_a_fit_does_not_apply_to_other_steering_settings_or_models() -> None:
    config = load_config()
    fit, why_not = crosstalk_for(DEFAULT_MODEL, replace(config, layer_fractions=(0.2,)))
    assert fit is None and "other steering settings" in why_not
    fit, why_not = crosstalk_for("some-other-model", config)
    assert fit is None and "no cross-talk fit for some-other-model" in why_not
    # a user's attribute file with other pairs builds another vector: the fit no longer holds
    shipped = dict(load_crosstalk()[DEFAULT_MODEL].attribute_hashes)
    edited = {**shipped, "agreeableness": "0" * 16}
    fit, why_not = crosstalk_for(DEFAULT_MODEL, config, edited)
    assert fit is None and "other contrastive pairs for agreeableness" in why_not


def test_the_fit_names_the_shipped_attribute_files() -> None:
    from roleplay.control.attributes import load_attributes

    specs = load_attributes()
    fit = load_crosstalk()[DEFAULT_MODEL]
    assert dict(fit.attribute_hashes) == {t: specs[t].data_hash for t in BIG_FIVE}


def test_without_cross_talk_the_cards_strengths_come_back() -> None:
    identity = tuple(tuple(0.3 if u == s else 0.0 for s in BIG_FIVE) for u in BIG_FIVE)
    fit = Crosstalk("m", identity, 0.25, (0.5,), "mean_difference", 0.05)
    card = {"openness": 0.4, "neuroticism": -0.6}
    assert decouple(card, fit, _within_one) == pytest.approx(
        {t: card.get(t, 0.0) for t in BIG_FIVE}, abs=1e-3
    )


def test_the_solve_turns_agreeableness_down_and_neuroticism_up_within_bounds() -> None:
    fit, _ = crosstalk_for(DEFAULT_MODEL, load_config())
    assert fit is not None
    card = {t: (score - 0.5) * 2 for t, score in KIND_AND_ANXIOUS.items()}
    solved = decouple(card, fit, _within_one)

    def effect(trait: str, strengths: dict[str, float]) -> float:
        row = fit.matrix[BIG_FIVE.index(trait)]
        return sum(w * strengths.get(s, 0.0) for w, s in zip(row, BIG_FIVE, strict=True))

    def own(trait: str) -> float:
        i = BIG_FIVE.index(trait)
        return fit.matrix[i][i] * card.get(trait, 0.0)

    # at the card's strengths agreeableness's vector cancels the card's neuroticism
    assert effect("neuroticism", card) < 0.5 * own("neuroticism")
    # the solve trims agreeableness, and neuroticism's answers get most of their own effect
    assert solved["agreeableness"] < card["agreeableness"]
    assert effect("neuroticism", solved) > 0.75 * own("neuroticism")
    total = sum((effect(t, card) - own(t)) ** 2 for t in BIG_FIVE)
    assert sum((effect(t, solved) - own(t)) ** 2 for t in BIG_FIVE) < 0.5 * total
    assert all(-1.0 <= v <= 1.0 for v in solved.values())
    tight = decouple(card, fit, lambda t, v: 0.5 if t == "neuroticism" else 1.0)
    assert tight["neuroticism"] <= 0.5


def _controller(
    tiny: Any, model_id: str, card: Any, overrides: Any = None, **options: Any
) -> Controller:
    # the tiny model under another id; enabled=False: strengths are resolved and described,
    # no vector is built
    source = (tiny.model, tiny.tokenizer, model_id)
    return Controller.for_card(source, card, overrides, enabled=False, **options)


def test_the_controller_steers_the_solved_strengths_and_says_so(tiny: Any) -> None:
    card = make_card(KIND_AND_ANXIOUS, {"sentiment": 0.5})
    plain = _controller(tiny, DEFAULT_MODEL, card, decouple_traits=False)
    solved = _controller(tiny, DEFAULT_MODEL, card, decouple_traits=True)
    assert plain.resolved.decoupled_from == {}
    assert solved.resolved.decoupled_from == pytest.approx(
        {t: v for t, v in plain.resolved.strengths.items() if t in BIG_FIVE}
    )
    fit, _ = crosstalk_for(DEFAULT_MODEL, load_config())
    assert fit is not None
    expected = decouple(solved.resolved.decoupled_from, fit, _within_one)
    big_five = {t: v for t, v in solved.resolved.strengths.items() if t in BIG_FIVE}
    assert big_five == {t: v for t, v in expected.items() if v}
    assert solved.resolved.strengths["sentiment"] == 0.5  # not a Big Five trait: untouched
    steering = solved.describe()["steering"]
    assert steering["decouple_traits"] is True
    assert solved.resolved.sources["neuroticism"] == "decoupled"
    assert solved.resolved.sources["sentiment"] == "card"
    assert steering["clipped_from"] == {}  # a solved strength is not a clipped one
    assert any("decoupled" in note for note in solved.notes)


def test_a_chat_that_sets_a_big_five_strength_is_not_decoupled(tiny: Any) -> None:
    card = make_card(KIND_AND_ANXIOUS)
    controller = _controller(tiny, DEFAULT_MODEL, card, {"extraversion": 0.5}, decouple_traits=True)
    assert controller.resolved.decoupled_from == {}
    assert controller.resolved.strengths["extraversion"] == 0.5
    assert any("sets extraversion itself" in note for note in controller.notes)


def test_a_model_without_a_fit_keeps_the_cards_strengths(tiny: Any) -> None:
    card = make_card(KIND_AND_ANXIOUS)
    controller = _controller(tiny, "tiny-llama-test", card, decouple_traits=True)
    assert controller.resolved.decoupled_from == {}
    assert controller.resolved.strengths["neuroticism"] == pytest.approx(0.7)
    assert any("no cross-talk fit for tiny-llama-test" in note for note in controller.notes)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models: [1, 2]", "expected a 'models' mapping"),
        ("models: {m: {matrix: {openness: {}}}}", "needs one row per Big Five trait"),
        ("{{{", "cannot read"),
        ("models: {m: 3}", "models.m: expected a mapping"),
    ],
)
def test_a_malformed_fit_file_is_named_with_the_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "crosstalk.yaml"
    path.write_text(text)
    with pytest.raises(FileProblemsError, match=message) as caught:
        load_crosstalk(path)
    assert str(path) in str(caught.value)


def _shipped_fit_as_model_m() -> str:
    """A crosstalk.yaml whose one entry, model ``m``, has the shipped fit's matrix and
    attribute hashes (ridge 0.25, no floor)."""
    shipped = load_crosstalk()[DEFAULT_MODEL]
    rows = "\n".join(
        f"      {u}: {{{', '.join(f'{s}: {v}' for s, v in zip(BIG_FIVE, row, strict=True))}}}"
        for u, row in zip(BIG_FIVE, shipped.matrix, strict=True)
    )
    hashes = ", ".join(f'{t}: "{h}"' for t, h in shipped.attribute_hashes)
    return (
        f"models:\n  m:\n    ridge: 0.25\n    steering: {{layer_fractions: [0.4], "
        f"unit_relative_norm: 0.05, attributes: {{{hashes}}}}}\n    matrix:\n{rows}\n"
    )


def test_a_non_finite_or_missing_entry_is_refused(tmp_path: Path) -> None:
    shipped = load_crosstalk()[DEFAULT_MODEL]
    good = _shipped_fit_as_model_m()
    # load_crosstalk caches by path: one file per case
    path = tmp_path / "good.yaml"
    path.write_text(good)
    assert load_crosstalk(path)["m"].matrix == shipped.matrix
    path = tmp_path / "nan_ridge.yaml"
    path.write_text(good.replace("ridge: 0.25", "ridge: .nan"))
    with pytest.raises(FileProblemsError, match=r"models\.m\.ridge"):
        load_crosstalk(path)
    path = tmp_path / "inf_entry.yaml"
    path.write_text(good.replace(f"openness: {shipped.matrix[0][0]}", "openness: .inf", 1))
    with pytest.raises(FileProblemsError, match=r"matrix\.openness: needs a finite number"):
        load_crosstalk(path)


def test_decouple_traits_must_be_a_boolean(tmp_path: Path) -> None:
    from roleplay.control.config import config_path

    path = tmp_path / "steering.yaml"
    shipped, count = re.subn(
        r"^decouple_traits: \w+$", "decouple_traits: maybe", config_path().read_text(), flags=re.M
    )
    assert count == 1
    path.write_text(shipped)
    with pytest.raises(FileProblemsError, match="'decouple_traits' must be true or false"):
        load_config(path)


def _share_kept(fit: Crosstalk, card: dict[str, float], solved: dict[str, float]) -> list[float]:
    """Per trait the card sets: the share of its own effect the solved strengths give it, on
    the card's side (negative: against it)."""
    shares = []
    for u, trait in enumerate(BIG_FIVE):
        if not card.get(trait):
            continue
        net = sum(fit.matrix[u][s] * solved[other] for s, other in enumerate(BIG_FIVE))
        shares.append(net / (fit.matrix[u][u] * card[trait]))
    return shares


def test_a_floor_keeps_every_trait_its_share_on_the_cards_side_within_bounds() -> None:
    shipped, _ = crosstalk_for(DEFAULT_MODEL, load_config())
    assert shipped is not None
    plain = replace(shipped, floor=0.0)
    floored = replace(shipped, floor=0.5)
    # closed, careless, outgoing, kind and calm: the plain solve leaves agreeableness nothing
    # of its own effect and openness a fifth (the openness vector moves C and A more than O)
    card = {"openness": -0.6, "conscientiousness": -0.8, "extraversion": 0.8}
    card |= {"agreeableness": 0.6, "neuroticism": -0.8}
    assert min(_share_kept(plain, card, decouple(card, plain, _within_one))) < 0.1
    solved = decouple(card, floored, _within_one)
    assert min(_share_kept(floored, card, solved)) >= 0.5 - 1e-3
    assert all(-1.0 <= v <= 1.0 for v in solved.values())
    # where the bounds cannot give every trait half, each gets the most they allow at once:
    # the same share for every trait the card sets, above the plain solve's least
    anxious_kind = {"openness": -0.7, "conscientiousness": 0.7, "extraversion": 0.6}
    anxious_kind |= {"agreeableness": 0.8, "neuroticism": 0.6}
    shares = _share_kept(floored, anxious_kind, decouple(anxious_kind, floored, _within_one))
    assert 0 < min(shares) < 0.5 and max(shares) - min(shares) < 0.05
    plain_shares = _share_kept(plain, anxious_kind, decouple(anxious_kind, plain, _within_one))
    assert min(shares) > min(plain_shares)
    # a card the plain solve already serves is solved the same way (the floor does not bind)
    easy = {"openness": 0.6, "conscientiousness": -0.6, "extraversion": 0.8}
    easy |= {"agreeableness": 0.6, "neuroticism": -0.7}
    assert min(_share_kept(plain, easy, decouple(easy, plain, _within_one))) >= 0.5
    assert decouple(easy, floored, _within_one) == pytest.approx(
        decouple(easy, plain, _within_one), abs=2e-3
    )


@pytest.mark.parametrize(("option", "bad_value"), [("floor", "2"), ("own_share", "-0.1")])
def test_a_share_outside_zero_to_one_is_refused(
    tmp_path: Path, option: str, bad_value: str
) -> None:
    entry = _shipped_fit_as_model_m().replace("ridge: 0.25", f"ridge: 0.25\n    {option}: S")
    good = tmp_path / f"{option}.yaml"
    good.write_text(entry.replace(f"{option}: S", f"{option}: 0.5"))
    assert getattr(load_crosstalk(good)["m"], option) == 0.5
    bad = tmp_path / f"bad_{option}.yaml"
    bad.write_text(entry.replace(f"{option}: S", f"{option}: {bad_value}"))
    with pytest.raises(
        FileProblemsError, match=rf"models\.m\.{option}: must be a number from 0 to 1"
    ):
        load_crosstalk(bad)


def test_an_own_share_keeps_each_vector_part_of_the_cards_strength_on_its_side() -> None:
    shipped, _ = crosstalk_for(DEFAULT_MODEL, load_config())
    assert shipped is not None
    plain = replace(shipped, floor=0.0, own_share=0.0)
    kept = replace(plain, own_share=0.5)
    # cold, calm and closed: the plain solve gives agreeableness's own vector almost nothing
    # (other vectors carry the fitted effect) and openness's a push against the card
    card = {"openness": -0.7, "conscientiousness": 0.8, "extraversion": -0.8}
    card |= {"agreeableness": -0.8, "neuroticism": -0.6}
    loose = decouple(card, plain, _within_one)
    assert loose["agreeableness"] > -0.1
    solved = decouple(card, kept, _within_one)
    for trait, value in card.items():
        assert solved[trait] * value > 0 and abs(solved[trait]) >= 0.5 * abs(value) - 1e-3
        assert -1.0 <= solved[trait] <= 1.0

    # within that box it is still the least-squares solve: by the solve's own objective it
    # is no worse than the plain solve moved into the box, nor than the card's own strengths
    def objective(strengths: dict[str, float]) -> float:
        s = [strengths[t] for t in BIG_FIVE]
        s0 = [card[t] for t in BIG_FIVE]
        m = kept.matrix
        ridge = kept.ridge * sum(m[u][u] ** 2 for u in range(5)) / 5
        misfit = sum(
            (sum(m[u][v] * s[v] for v in range(5)) - m[u][u] * s0[u]) ** 2 for u in range(5)
        )
        return misfit + ridge * sum((a - b) ** 2 for a, b in zip(s, s0, strict=True))

    def into_box(t: str, v: float) -> float:
        return v if v * card[t] >= 0.5 * abs(card[t]) else 0.5 * card[t]

    assert objective(solved) <= objective({t: into_box(t, v) for t, v in loose.items()}) + 1e-6
    assert objective(solved) <= objective(card) + 1e-6
    # a bound tighter than the share wins: the vector stops at its fluency bound
    tight = decouple(card, kept, lambda trait, v: 0.2 if trait == "agreeableness" else 1.0)
    assert tight["agreeableness"] == pytest.approx(-0.2, abs=1e-3)
