"""The NRC emotion lexicon as an emotion scorer: the weak, dependency-light baseline.

``nrclex`` can only tokenise raw text with NLTK corpora that it cannot download offline,
so texts are tokenised here and fed through ``NRCLex.load_token_list``. The lexicon has no
lemmatisation ("cried" is missing, "cry" is present), so a few English suffixes are tried.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np

from roleplay.memory.emotions import EMOTION_COUNT, EMOTIONS

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
# (suffix, replacement) pairs tried in order when a word is not in the lexicon.
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("ied", "y"),
    ("ies", "y"),
    ("ing", ""),
    ("ing", "e"),
    ("ed", ""),
    ("ed", "e"),
    ("ly", ""),
    ("es", ""),
    ("s", ""),
)


class LexiconEmotionScorer:
    """Share of each emotion among the lexicon's emotion hits in a text (rows sum to 1, or 0)."""

    def score(self, texts: Sequence[str]) -> np.ndarray:
        scores = np.zeros((len(texts), EMOTION_COUNT), dtype=np.float32)
        for row, text in enumerate(texts):
            self._nrc.load_token_list(self.tokens(text))
            counts = self._nrc.raw_emotion_scores
            for column, name in enumerate(EMOTIONS):
                scores[row, column] = float(counts.get(name, 0))
            total = scores[row].sum()
            if total > 0:
                scores[row] /= total
        return scores

    def tokens(self, text: str) -> list[str]:
        """Lower-cased words, each mapped to a lexicon entry when a suffix rule finds one."""
        return [self._lexicon_form(word) for word in _WORD.findall(text.lower())]

    def _lexicon_form(self, word: str) -> str:
        if word in self._lexicon:
            return word
        for suffix, replacement in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 2:
                candidate = word[: -len(suffix)] + replacement
                if candidate in self._lexicon:
                    return candidate
        return word

    @cached_property
    def _nrc(self) -> Any:
        from nrclex import NRCLex

        return NRCLex()

    @cached_property
    def _lexicon(self) -> dict[str, list[str]]:
        lexicon: dict[str, list[str]] = self._nrc.__lexicon__
        return lexicon
