"""Cheap decoding-level controls as ``transformers.LogitsProcessor`` subclasses.

They follow the transformers contract ``__call__(input_ids, scores) -> scores`` with
``input_ids`` of shape ``[batch, sequence]`` and ``scores`` of shape ``[batch, vocab]``, so
they work in ``model.generate(logits_processor=...)`` and in the engine's own decode loop,
and compose with steering (steering changes the hidden states, these change the scores).

The repetition controls only look at the reply: the first call remembers the prompt length,
and only tokens after it count. transformers' own ``NoRepeatNGramLogitsProcessor`` and
``RepetitionPenaltyLogitsProcessor`` look at the whole sequence, which in role-play means
the card and the history: the character could then never repeat its own name or a phrase
from the scenario. Because of that memory, use a fresh instance for every generation
(``Controller.logits_processors()`` returns fresh ones each call).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

import torch
from transformers import LogitsProcessor

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def _phrase_variants(phrase: str) -> list[str]:
    # A phrase is tokenized differently at the start of a reply, after a space and when
    # capitalised; ban each spelling the model could produce.
    stripped = phrase.strip()
    forms = {stripped, stripped[:1].upper() + stripped[1:], stripped[:1].lower() + stripped[1:]}
    return sorted(forms | {" " + form for form in forms})


class BannedPhrasesLogitsProcessor(LogitsProcessor):
    r"""Forbid phrases (one or more tokens each), e.g. a card's "As an AI language model".

    A multi-token phrase is banned by forbidding its last token whenever the tokens before
    it were just generated, as ``NoBadWordsLogitsProcessor`` does, for each spelling of the
    phrase (as given, capitalised, lower-cased, with and without a leading space). A
    phrase reached through an unusual tokenization can still slip through.

    Args:
        phrases: the phrases to forbid (non-empty strings).
        tokenizer: the model's tokenizer, used once to turn phrases into token ids.

    Example:
        >>> processor = BannedPhrasesLogitsProcessor(["as an AI"], tokenizer)  # doctest: +SKIP
        >>> model.generate(**inputs, logits_processor=[processor])  # doctest: +SKIP
    """

    def __init__(self, phrases: Sequence[str], tokenizer: PreTrainedTokenizerBase) -> None:
        if isinstance(phrases, str) or not isinstance(phrases, Sequence):
            raise ValueError(f"`phrases` has to be a list of strings, but is {phrases!r}")
        bad = [p for p in phrases if not isinstance(p, str) or not p.strip()]
        if bad:
            raise ValueError(
                f"`phrases` has to contain non-empty strings only, but contains {bad[0]!r}"
            )
        if not callable(getattr(tokenizer, "encode", None)):
            raise ValueError(
                f"`tokenizer` has to be a tokenizer, but is {type(tokenizer).__name__}"
            )
        self.phrases = tuple(phrases)
        sequences: set[tuple[int, ...]] = set()
        for phrase in phrases:
            for form in _phrase_variants(phrase):
                ids = tuple(tokenizer.encode(form, add_special_tokens=False))
                if ids:
                    sequences.add(ids)
        self.single_tokens = sorted(s[0] for s in sequences if len(s) == 1)
        self.sequences = sorted(s for s in sequences if len(s) > 1)
        # Prefix tensors built once, not at every decoding step.
        self._prefixes = [(torch.tensor(s[:-1]), s[-1]) for s in self.sequences]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        banned = torch.zeros_like(scores, dtype=torch.bool)
        vocab = scores.shape[-1]
        singles = [t for t in self.single_tokens if t < vocab]
        if singles:
            banned[:, singles] = True
        length = input_ids.shape[1]
        for prefix, last in self._prefixes:
            prefix_length = prefix.shape[0]
            if prefix_length > length or last >= vocab:
                continue
            tail = input_ids[:, length - prefix_length :]
            matches = (tail == prefix.to(tail.device)).all(dim=1)
            banned[matches, last] = True
        return cast(torch.FloatTensor, scores.masked_fill(banned, -math.inf))


class _ReplyAware(LogitsProcessor):
    """Remembers where the reply starts: the sequence length at the first call."""

    _reply_start: int | None = None

    def _reply(self, input_ids: torch.LongTensor) -> torch.Tensor:
        if self._reply_start is None or self._reply_start > input_ids.shape[1]:
            self._reply_start = input_ids.shape[1]
        return input_ids[:, self._reply_start :]


class ReplyFrequencyPenaltyLogitsProcessor(_ReplyAware):
    r"""Subtract ``frequency_penalty * count + presence_penalty * [count > 0]`` from each
    token's score, counting the token's occurrences in the reply so far (OpenAI-style).

    Args:
        frequency_penalty: penalty per earlier occurrence, in [0, 2]; 0.3-0.7 curbs loops.
        presence_penalty: one-off penalty for any token already used, in [0, 2].
    """

    def __init__(self, frequency_penalty: float, presence_penalty: float = 0.0) -> None:
        for name, value in (
            ("frequency_penalty", frequency_penalty),
            ("presence_penalty", presence_penalty),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 2:
                raise ValueError(f"`{name}` has to be a number in [0, 2], but is {value!r}")
        self.frequency_penalty = float(frequency_penalty)
        self.presence_penalty = float(presence_penalty)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        reply = self._reply(input_ids)
        if reply.shape[1] == 0:
            return scores
        counts = torch.zeros_like(scores)
        reply = reply.clamp(max=scores.shape[-1] - 1)
        counts.scatter_add_(1, reply, torch.ones_like(reply, dtype=scores.dtype))
        penalty = self.frequency_penalty * counts + self.presence_penalty * (counts > 0)
        return cast(torch.FloatTensor, scores - penalty)


class ReplyNoRepeatNGramLogitsProcessor(_ReplyAware):
    r"""Forbid any token that would repeat an n-gram of ``ngram_size`` tokens already in the
    reply (the prompt is not looked at, unlike ``NoRepeatNGramLogitsProcessor``).

    Args:
        ngram_size: n-gram length; 3-4 stops loops without forbidding common short phrases.
    """

    def __init__(self, ngram_size: int) -> None:
        if isinstance(ngram_size, bool) or not isinstance(ngram_size, int) or ngram_size <= 0:
            raise ValueError(
                f"`ngram_size` has to be a strictly positive integer, but is {ngram_size!r}"
            )
        self.ngram_size = ngram_size

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        reply = self._reply(input_ids)
        n = self.ngram_size
        if reply.shape[1] < n:
            return scores
        banned = torch.zeros_like(scores, dtype=torch.bool)
        for row, tokens in enumerate(reply.tolist()):
            context = tuple(tokens[len(tokens) - (n - 1) :]) if n > 1 else ()
            for start in range(len(tokens) - n + 1):
                if tuple(tokens[start : start + n - 1]) == context:
                    next_token = tokens[start + n - 1]
                    if next_token < scores.shape[-1]:
                        banned[row, next_token] = True
        return cast(torch.FloatTensor, scores.masked_fill(banned, -math.inf))
