"""The plain-language verdict and the flat/inverted/confounded trait checks, on hand-made
results."""

from __future__ import annotations

from roleplay.cards.model import BIG_FIVE_TRAITS
from roleplay.evaluation.intervals import FidelityIntervals
from roleplay.evaluation.metrics import compare_traits, summarise
from roleplay.evaluation.persona import MethodResult
from roleplay.evaluation.plan import Condition, Method
from roleplay.evaluation.questionnaire import load_interview_settings
from roleplay.evaluation.verdict import confounded, trait_signals, unmeasurable, verdict_lines

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


def _balanced_cards() -> dict[str, dict[str, float]]:
    """Twelve cards on which agreeableness and neuroticism vary independently (r = 0), as on
    the frozen evaluation sets; the other traits vary too."""
    pattern = [(0.9, 0.9), (0.9, 0.1), (0.1, 0.9), (0.1, 0.1), (0.8, 0.8)]
    pattern += [(0.8, 0.2), (0.2, 0.8), (0.2, 0.2), (0.85, 0.85), (0.15, 0.15)]
    pattern += [(0.85, 0.15), (0.15, 0.85)]
    cards = {}
    for index, (agreeableness, neuroticism) in enumerate(pattern):
        level = 0.1 + 0.08 * index
        cards[f"c{index}"] = {
            "openness": level,
            "conscientiousness": 1 - level,
            "extraversion": 0.9 if index % 2 else 0.1,
            "agreeableness": agreeableness,
            "neuroticism": neuroticism,
        }
    return cards


def _estimates_where_neuroticism_reads_low_agreeableness(
    cards: dict[str, dict[str, float]],
) -> dict[str, dict[str, float]]:
    return {
        name: {
            **card,
            # mostly the opposite of agreeableness, a little of the card's own neuroticism
            "neuroticism": 0.8 * (1 - card["agreeableness"]) + 0.2 * card["neuroticism"],
        }
        for name, card in cards.items()
    }


def test_a_trait_that_follows_another_card_trait_is_named_confounded() -> None:
    cards = _balanced_cards()
    result = _result(_estimates_where_neuroticism_reads_low_agreeableness(cards), cards, {})
    signals = trait_signals(result)
    neuroticism = signals["neuroticism"]
    assert neuroticism.status == "confounded"
    assert neuroticism.follows == "agreeableness"
    assert neuroticism.follows_correlation is not None and neuroticism.follows_correlation < -0.9
    assert neuroticism.correlation is not None and 0 < neuroticism.correlation < 0.5
    assert {t: s.status for t, s in signals.items() if t != "neuroticism"} == dict.fromkeys(
        ["openness", "conscientiousness", "extraversion", "agreeableness"], "ok"
    )
    line = confounded(result)
    assert line is not None
    assert "neuroticism follows the cards' agreeableness (r = -0.9" in line
    assert unmeasurable(result) is None  # still measured, only not cleanly


def test_no_confound_is_claimed_from_too_few_characters_or_inseparable_cards() -> None:
    cards = _balanced_cards()
    estimates = _estimates_where_neuroticism_reads_low_agreeableness(cards)
    few = {name: cards[name] for name in list(cards)[:5]}
    assert trait_signals(_result(estimates, few, {}))["neuroticism"].status == "ok"
    # cards whose neuroticism is the opposite of their agreeableness cannot separate them
    tied = {
        name: {**card, "neuroticism": 1 - card["agreeableness"]} for name, card in cards.items()
    }
    tied_estimates = _estimates_where_neuroticism_reads_low_agreeableness(tied)
    result = _result(tied_estimates, tied, {})
    assert trait_signals(result)["neuroticism"].status == "ok"
    assert confounded(result) is None


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
