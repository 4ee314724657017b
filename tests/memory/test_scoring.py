"""Emotion scorers: the calibrated prototype default, the lexicon baseline, the contract."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from roleplay.cards.model import EMOTIONS
from roleplay.memory.calibration import LinearCalibration, prototypes_digest
from roleplay.memory.data_files import CALIBRATION_FIT_PATH
from roleplay.memory.lexicon import LexiconEmotionScorer
from roleplay.memory.scoring import EmotionScorer, default_emotion_scorer, score_emotions

CLEAR_CASES = {
    "We won the cup and danced and laughed all night, so happy!": "joy",
    "I'd trust my sister with my life, she has never let me down.": "trust",
    "Someone is breaking in downstairs and I'm terrified.": "fear",
    "Whoa, I never saw that coming, I'm completely stunned!": "surprise",
    "My grandfather died and I can't stop crying.": "sadness",
    "The bin was full of maggots and rotten meat, it was revolting.": "disgust",
    "They lied to me again and I'm absolutely furious!": "anger",
    "Only one more day until the trip, I can't wait!": "anticipation",
}


def test_default_scorer_names_clear_emotions() -> None:
    scores = default_emotion_scorer().score(list(CLEAR_CASES))
    assert scores.shape == (8, 8)
    assert scores.dtype == np.float32
    assert ((scores >= 0) & (scores <= 1)).all()
    predicted = [EMOTIONS[i] for i in scores.argmax(axis=1)]
    assert predicted == list(CLEAR_CASES.values())


def test_neutral_text_has_a_weak_emotion() -> None:
    scores = default_emotion_scorer().score(["What time does the museum open on Sundays?"])
    assert scores.sum() < 0.5


def test_detailed_scores_keep_the_raw_similarities() -> None:
    scores = score_emotions(default_emotion_scorer(), ["I am so happy today!"])
    assert scores.vectors.shape == scores.raw.shape == (1, 8)
    assert not np.allclose(scores.vectors, scores.raw)


def test_shipped_calibration_matches_the_prototypes() -> None:
    calibration = LinearCalibration.load(CALIBRATION_FIT_PATH)
    assert calibration.prototypes_sha256 == prototypes_digest()
    assert len(calibration.coef) == 9


def test_lexicon_baseline() -> None:
    scorer = LexiconEmotionScorer()
    # "cried" is not in the NRC lexicon; the suffix rules find "cry".
    assert "cry" in scorer.tokens("She cried.")
    scores = scorer.score(["She cried at the funeral.", "xyzzy"])
    assert scores[0].argmax() == EMOTIONS.index("sadness")
    assert scores[0].sum() == pytest.approx(1.0)
    assert scores[1].tolist() == [0.0] * 8


class ConstantScorer:
    """A plug-in scorer: anything with score(texts) -> (n, 8) fits the contract."""

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return np.tile(np.eye(8, dtype=np.float32)[EMOTIONS.index("fear")], (len(texts), 1))


def test_any_scorer_fits_the_protocol() -> None:
    scorer = ConstantScorer()
    assert isinstance(scorer, EmotionScorer)
    scores = score_emotions(scorer, ["a", "b"])
    assert scores.vectors.shape == (2, 8)
    assert scores.raw is scores.vectors


def test_a_broken_scorer_is_caught() -> None:
    class Broken:
        def score(self, texts: Sequence[str]) -> np.ndarray:
            return np.full((len(texts), 8), 2.0, dtype=np.float32)

    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        score_emotions(Broken(), ["a"])
