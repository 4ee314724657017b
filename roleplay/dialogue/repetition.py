"""How much a scene repeats itself across speakers, and whether it stays on its topic.

A line "echoes" when many of its word n-grams already appeared in an earlier line by
someone else: the failure small models show in multi-character scenes, each character
saying the previous line again. The scene runner retries such a line (``echo_guard`` in
``data/dialogue.yaml``); the dialogue benchmark reports the rates before and after.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_WORD = re.compile(r"[\w']+")
# Words too common to say that a line is about its topic.
_TOPIC_STOPWORDS = frozenset(
    {"a", "an", "the", "of", "on", "in", "at", "to", "and", "or", "for", "with", "by", "is"}
)


def words(text: str) -> list[str]:
    return [word.casefold() for word in _WORD.findall(text)]


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    tokens = words(text)
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def echo_overlap(line: str, earlier_by_others: Sequence[str], n: int = 4) -> float:
    """The share of ``line``'s word n-grams found in the others' earlier lines (0 for a
    line shorter than n words)."""
    own = ngrams(line, n)
    if not own:
        return 0.0
    seen: set[tuple[str, ...]] = set()
    for text in earlier_by_others:
        seen |= ngrams(text, n)
    return len(own & seen) / len(own)


def scene_echo_rate(lines: Sequence[tuple[str, str]], n: int = 4) -> float:
    """Across a scene's ``(speaker, text)`` lines: the share of all lines' n-grams that
    repeat an earlier line by another speaker."""
    repeated = total = 0
    for index, (speaker, text) in enumerate(lines):
        own = ngrams(text, n)
        seen: set[tuple[str, ...]] = set()
        for other, earlier in lines[:index]:
            if other != speaker:
                seen |= ngrams(earlier, n)
        repeated += len(own & seen)
        total += len(own)
    return repeated / total if total else 0.0


def topic_words(topic: str) -> list[str]:
    return [word for word in words(topic) if word not in _TOPIC_STOPWORDS and len(word) > 2]


def mentions_topic(text: str, topic: str) -> bool:
    """Whether a line names the topic: one of its content words, or a word starting with
    one (``stowaway`` also counts ``stowaways``)."""
    wanted = topic_words(topic)
    return any(word.startswith(topic_word) for word in words(text) for topic_word in wanted)
