"""Logits processors on hand-made scores, and composed in generate with the tiny model."""

from __future__ import annotations

import itertools
import math
from typing import Any, ClassVar

import pytest
import torch

from roleplay.control.processors import (
    BannedPhrasesLogitsProcessor,
    ReplyFrequencyPenaltyLogitsProcessor,
    ReplyNoRepeatNGramLogitsProcessor,
)

VOCAB = 10


class FakeTokenizer:
    """Words to fixed ids; a leading space or capital letter is another token, like BPE."""

    table: ClassVar[dict[str, list[int]]] = {
        "as": [1],
        " as": [2],
        "As": [3],
        " As": [3],
        "an": [4],
        " an": [4],
        "AI": [5],
    }

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        ids: list[int] = []
        for index, word in enumerate(text.split(" ")):
            if word:
                key = (" " if index or text.startswith(" ") else "") + word
                ids += self.table.get(key, self.table.get(word, [9]))
        return ids


FAKE: Any = FakeTokenizer()


def ids(rows: list[list[int]]) -> Any:
    return torch.tensor(rows)


def scores(batch: int = 2) -> Any:
    return torch.zeros(batch, VOCAB)


def test_banned_single_and_multi_token_phrases() -> None:
    processor = BannedPhrasesLogitsProcessor(["as an AI", "AI"], FAKE)
    assert 5 in processor.single_tokens  # "AI" alone: always banned
    input_ids = ids([[7, 2, 4], [7, 7, 4]])  # row 0 just wrote " as an"
    out = processor(input_ids, scores())
    assert out[0, 5] == -math.inf and out[1, 5] == -math.inf
    processor = BannedPhrasesLogitsProcessor(["as an AI"], FAKE)
    out = processor(input_ids, scores())
    assert out[0, 5] == -math.inf  # prefix " as an" matched: the phrase's last token is out
    assert out[1, 5] == 0  # no prefix: "AI" is allowed
    assert out[0, 4] == 0  # only the last token of the phrase is banned


@pytest.mark.parametrize(
    ("phrases", "message"),
    [("as an AI", "has to be a list of strings"), (["ok", " "], "non-empty strings only")],
)
def test_banned_phrases_validation(phrases: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BannedPhrasesLogitsProcessor(phrases, FAKE)
    with pytest.raises(ValueError, match="has to be a tokenizer"):
        BannedPhrasesLogitsProcessor(["x"], object())  # type: ignore[arg-type]


def test_frequency_penalty_counts_reply_tokens_only() -> None:
    processor = ReplyFrequencyPenaltyLogitsProcessor(0.5, presence_penalty=0.25)
    prompt = ids([[3, 3, 3]])
    assert torch.equal(processor(prompt, scores(1)), scores(1))  # the prompt does not count
    out = processor(ids([[3, 3, 3, 6, 6, 3]]), scores(1))
    assert out[0, 6] == pytest.approx(-(0.5 * 2 + 0.25))
    assert out[0, 3] == pytest.approx(-(0.5 * 1 + 0.25))
    assert out[0, 0] == 0
    for bad in (-0.1, 2.5, "x", True):
        with pytest.raises(ValueError, match="`frequency_penalty` has to be a number in"):
            ReplyFrequencyPenaltyLogitsProcessor(bad)  # type: ignore[arg-type]


def test_no_repeat_ngram_in_reply_only() -> None:
    processor = ReplyNoRepeatNGramLogitsProcessor(2)
    processor(ids([[1, 2, 1, 2]]), scores(1))  # prompt repeats "1 2": allowed
    out = processor(ids([[1, 2, 1, 2, 7, 8, 7]]), scores(1))
    assert out[0, 8] == -math.inf  # "7 8" already in the reply
    assert out[0, 2] == 0  # "7 2" never seen
    out = processor(ids([[1, 2, 1, 2, 7, 8, 7, 1]]), scores(1))
    assert out[0, 2] == 0  # "1 2" only occurs in the prompt
    with pytest.raises(ValueError, match="strictly positive integer"):
        ReplyNoRepeatNGramLogitsProcessor(0)


def test_processors_compose_in_generate(tiny: Any) -> None:
    ids = tiny.tokenizer("Hello there", return_tensors="pt")
    processors: list[Any] = [
        ReplyNoRepeatNGramLogitsProcessor(2),
        ReplyFrequencyPenaltyLogitsProcessor(1.0),
        BannedPhrasesLogitsProcessor(["the"], tiny.tokenizer),
    ]
    with torch.inference_mode():
        out = tiny.model.generate(
            **ids, max_new_tokens=20, do_sample=False, logits_processor=processors
        )
    reply = out[0, ids["input_ids"].shape[1] :].tolist()
    bigrams = list(itertools.pairwise(reply))
    assert len(bigrams) == len(set(bigrams))
    banned = set(processors[2].single_tokens)
    assert banned and not banned & set(reply)
