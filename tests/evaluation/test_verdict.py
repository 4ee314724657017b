"""The plain-language verdict and the flat/inverted trait check, on hand-made results."""

from __future__ import annotations

from roleplay.cards.model import BIG_FIVE_TRAITS
from roleplay.evaluation.intervals import FidelityIntervals
from roleplay.evaluation.metrics import compare_traits, summarise
from roleplay.evaluation.persona import MethodResult
from roleplay.evaluation.plan import Condition, Method
from roleplay.evaluation.questionnaire import load_interview_settings
from roleplay.evaluation.verdict import trait_signals, unmeasurable, verdict_lines

ACCURACY = load_interview_settings().accuracy


def _result(estimates: dict[str, dict[str, float]], cards: dict[str, dict[str, float]], holds):  # type: ignore[no-untyped-def]
    characters = [compare_traits(n, cards[n], estimates[n], ACCURACY) for n in cards]
    intervals = FidelityIntervals(
        acc_dim=(0.5, 1.0),
        mae=(0.1, 0.2),
        trait_acc=dict.fromkeys(BIG_FIVE_TRAITS),
        resamples=100,
        confidence=0.95,
        characters=len(cards),
        items=50,
        holds=holds,
    )
    return MethodResult(
        Method.LIKELIHOOD, Condition.PROMPT, characters, summarise(characters), [], intervals
    )


def _cards() -> dict[str, dict[str, float]]:
    levels = {"a": 0.9, "b": 0.1, "c": 0.8}
    return {name: dict.fromkeys(BIG_FIVE_TRAITS, level) for name, level in levels.items()}


def test_flat_and_inverted_traits_are_named_not_averaged_away() -> None:
    cards = _cards()
    estimates = {
        name: {
            "openness": 0.5 + (card["openness"] - 0.5) / 2,  # follows the cards
            "conscientiousness": 0.61,  # the same for everyone: flat
            "extraversion": 1 - card["extraversion"],  # against the cards: inverted
            "agreeableness": card["agreeableness"],
            "neuroticism": card["neuroticism"],
        }
        for name, card in cards.items()
    }
    result = _result(estimates, cards, {})
    signals = trait_signals(result)
    assert signals["openness"].status == "ok"
    assert signals["conscientiousness"].status == "flat"
    assert signals["extraversion"].status == "inverted"
    line = unmeasurable(result)
    assert (
        line is not None and "conscientiousness (flat" in line and "extraversion (inverted" in line
    )
    assert "openness" not in line


def test_the_verdict_says_which_traits_hold_probably_hold_or_do_not() -> None:
    cards = {"Kai": dict.fromkeys(BIG_FIVE_TRAITS, 0.8)}
    estimates = {"Kai": {**dict.fromkeys(BIG_FIVE_TRAITS, 0.7), "neuroticism": 0.3}}
    holds = {
        "Kai": {**dict.fromkeys(BIG_FIVE_TRAITS, 1.0), "agreeableness": 0.81, "neuroticism": 0.1}
    }
    [line] = verdict_lines(_result(estimates, cards, holds))
    assert line == (
        "Kai: holds Openness, Conscientiousness, Extraversion; probably Agreeableness (81%); "
        "does not hold Neuroticism (measured 0.30, card 0.80)"
    )
