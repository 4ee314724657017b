"""Small conversions: mes_example text and the Big Five estimate from a card's words."""

from __future__ import annotations

from roleplay.interop.mes_example import (
    is_lossless,
    parse_mes_example,
    render_mes_example,
    round_trips,
)
from roleplay.interop.traits import estimate_big_five


def test_mes_example_blocks_speakers_and_continuation_lines() -> None:
    text = (
        "<START>\r\n{{user}}: Hi!\r\n{{char}}: *waves*\r\nHello.\r\n"
        "<start>\n<USER>: Again?\n<BOT>:Yes."
    )
    assert parse_mes_example(text) == [
        [{"role": "user", "content": "Hi!"}, {"role": "character", "content": "*waves*\nHello."}],
        [{"role": "user", "content": "Again?"}, {"role": "character", "content": "Yes."}],
    ]


def test_mes_example_render_and_parse_agree() -> None:
    dialogues = [[{"role": "user", "content": "a"}, {"role": "character", "content": "b\nc"}]]
    text = render_mes_example(dialogues)
    assert text == "<START>\n{{user}}: a\n{{char}}: b\nc"
    assert parse_mes_example(text) == dialogues
    assert is_lossless(text) and round_trips(dialogues)


def test_lossy_mes_example_is_detected() -> None:
    assert not is_lossless("Some narration.\n<START>\n{{user}}: hi")
    assert not round_trips([[{"role": "user", "content": "  padded  "}]])
    assert not round_trips([[{"role": "user", "content": "one\n{{char}}: two"}]])
    assert parse_mes_example("") == [] and is_lossless("")


def test_trait_estimate_reads_marker_words() -> None:
    estimate = estimate_big_five("A shy, quiet and anxious scholar; kind and warm, very organized.")
    scores = estimate.scores
    assert scores["extraversion"] == 0.3  # 0.5 - 0.4 * 2 / (2 + 2)
    assert scores["neuroticism"] > 0.6
    assert scores["agreeableness"] > 0.6
    assert scores["conscientiousness"] > 0.55
    assert scores["openness"] == 0.5  # no evidence: the midpoint
    assert estimate.evidence["extraversion"] == ["-shy", "-quiet"]


def test_trait_estimate_flips_negated_words_and_stays_in_range() -> None:
    assert estimate_big_five("She is not shy.").evidence["extraversion"] == ["+not shy"]
    many = estimate_big_five("kind " * 500).scores["agreeableness"]
    assert 0.85 < many <= 0.9  # approaches 0.5 + 0.4, never passes it
