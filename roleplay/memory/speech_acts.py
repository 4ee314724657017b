"""What of a user's message is worth a long-term memory: its statements and narrated actions.

The ``statements`` remember policy keeps what the user said and did, not what they asked
for: a message is cut into narrated actions (``*hands her the map*``, kept: things the user
did) and spoken sentences; a spoken sentence is dropped when it is a question (it ends with
"?" or starts like one) or a request (it starts with "please", "let's" or a verb used as a
command, or holds a phrase such as "I want you to"). The rules are plain word lists in
``data/speech_acts.yaml``: not a language model, so a request phrased as a statement ("It
would be nice if you sang") is kept, and a statement starting with a listed verb ("Run
every morning, that's my rule") is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from roleplay.memory.data_files import DATA_DIR, read_yaml

SPEECH_ACTS_PATH = DATA_DIR / "speech_acts.yaml"

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'"})
_ACTION = re.compile(r"\*[^*\n]+\*")
_SENTENCE_END = re.compile(r"(?<=[.!?\u2026])\s+|\n+")
_FIRST_WORD = re.compile(r"[\w']+")
# Trailing laughter and emoticons do not hide a question mark: "are you ok? lol" is split
# after the "?", but "are you ok?? :)" is one sentence.
_TRAILING_NOISE = re.compile(r"(?:\s*(?:[:;]-?[()DPp]|lol|haha|xd))+\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class SpeechActRules:
    """The word lists of ``data/speech_acts.yaml``, compiled."""

    lead_in: re.Pattern[str]
    question_starters: frozenset[str]
    request_starters: frozenset[str]
    request_phrases: re.Pattern[str]


@lru_cache(maxsize=1)
def load_speech_act_rules(path: Path = SPEECH_ACTS_PATH) -> SpeechActRules:
    data = read_yaml(path)
    phrases = "|".join(re.escape(phrase) for phrase in data["request_phrases"])
    return SpeechActRules(
        lead_in=re.compile(rf"^(?:{data['lead_in']})", re.IGNORECASE),
        question_starters=frozenset(str(word).casefold() for word in data["question_starters"]),
        request_starters=frozenset(str(word).casefold() for word in data["request_starters"]),
        request_phrases=re.compile(rf"\b(?:{phrases})\b", re.IGNORECASE),
    )


def statements_and_actions(text: str, rules: SpeechActRules | None = None) -> str:
    """``text`` without its questions and requests, pieces in their order, joined by spaces.

    "Are you an AI? I moved to Oslo. *waves* Tell me a story." -> "I moved to Oslo. *waves*".
    Empty when nothing is left.
    """
    rules = rules or load_speech_act_rules()
    text = text.translate(_APOSTROPHES)
    kept: list[str] = []
    end = 0
    for action in _ACTION.finditer(text):
        kept.extend(_spoken_statements(text[end : action.start()], rules))
        kept.append(action.group(0))
        end = action.end()
    kept.extend(_spoken_statements(text[end:], rules))
    return " ".join(kept)


def _spoken_statements(text: str, rules: SpeechActRules) -> list[str]:
    return [
        sentence
        for sentence in (piece.strip() for piece in _SENTENCE_END.split(text))
        if sentence and is_statement(sentence, rules)
    ]


def is_statement(sentence: str, rules: SpeechActRules | None = None) -> bool:
    """Whether one spoken sentence states something (not a question, not a request)."""
    rules = rules or load_speech_act_rules()
    sentence = sentence.translate(_APOSTROPHES).strip()
    if _TRAILING_NOISE.sub("", sentence).rstrip().endswith("?"):
        return False
    body = _strip_lead_in(sentence, rules)
    match = _FIRST_WORD.match(body.lstrip("\"'(["))
    if match is None:  # only fillers ("ok.", "lol")
        return False
    first = match.group(0).casefold()
    if first in rules.question_starters or first in rules.request_starters:
        return False
    return rules.request_phrases.search(body) is None


def _strip_lead_in(sentence: str, rules: SpeechActRules) -> str:
    match = rules.lead_in.match(sentence)
    return sentence[match.end() :] if match else sentence
