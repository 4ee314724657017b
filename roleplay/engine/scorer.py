"""Token log-probabilities from any backend that has them.

A backend-level service, below every layer that reads log-probabilities: persona
interviews and back-tests (``roleplay.evaluation``) and the next-speaker model of scenes
(``roleplay.dialogue.speaker_model``).

Two implementations of one small contract:

- ``TransformersScorer``: batched forward passes over the PyTorch model that share the
  common prompt prefix once (``forward.py``); steering hooks act as in chat.
- ``LlamaCppScorer``: llama.cpp batches with logits on the wanted positions, rows that share
  a prefix reuse its KV cells (``LlamaCppEngine.sequence_logprobs``); the control vector in
  force acts as in chat.

A server backend (openai) reports no log-probabilities of arbitrary text: ``scorer_for``
refuses it with one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from roleplay.engine.base import capabilities_of
from roleplay.engine.forward import (
    RowsDone,
    continuation_logprobs,
    next_token_logprobs,
    pad_token_id,
)
from roleplay.errors import RoleplayError

if TYPE_CHECKING:
    import torch


class LogprobScorer(Protocol):
    backend: str
    supports_grammar_method: bool

    def token_ids(self, text: str) -> list[int]:
        """Ids of ``text`` as the model reads it (no special tokens added)."""
        ...

    def single_token(self, text: str) -> int | None:
        """The id of ``text`` when it is exactly one token, else None."""
        ...

    def decode(self, token: int) -> str: ...

    def next_token_logprobs(
        self, sequences: Sequence[list[int]], *, batch_size: int, rows_done: RowsDone | None
    ) -> torch.Tensor:
        """Log-probabilities of the token after each sequence, ``(len(sequences), vocab)``."""
        ...

    def continuation_logprobs(
        self,
        contexts: Sequence[list[int]],
        continuations: Sequence[list[int]],
        *,
        batch_size: int,
        rows_done: RowsDone | None,
    ) -> list[float]:
        """``log P(continuation | context)`` summed over the continuation's tokens."""
        ...


class TransformersScorer:
    backend = "transformers"
    supports_grammar_method = True

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.model = engine.model
        self.tokenizer = engine.tokenizer
        self._pad_id = pad_token_id(engine.tokenizer)

    def token_ids(self, text: str) -> list[int]:
        return [int(token) for token in self.engine.encode(text)[0].tolist()]

    def single_token(self, text: str) -> int | None:
        encoded = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return int(encoded[0]) if len(encoded) == 1 else None

    def decode(self, token: int) -> str:
        return str(self.tokenizer.decode([int(token)]))

    def next_token_logprobs(
        self, sequences: Sequence[list[int]], *, batch_size: int, rows_done: RowsDone | None
    ) -> torch.Tensor:
        return next_token_logprobs(
            self.model, sequences, batch_size=batch_size, pad_id=self._pad_id, rows_done=rows_done
        )

    def continuation_logprobs(
        self,
        contexts: Sequence[list[int]],
        continuations: Sequence[list[int]],
        *,
        batch_size: int,
        rows_done: RowsDone | None,
    ) -> list[float]:
        return continuation_logprobs(
            self.model,
            contexts,
            continuations,
            batch_size=batch_size,
            pad_id=self._pad_id,
            rows_done=rows_done,
        )


class LlamaCppScorer:
    backend = "llama.cpp"
    # The grammar method masks with transformers-cfg, which needs a Hugging Face tokenizer.
    supports_grammar_method = False

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def token_ids(self, text: str) -> list[int]:
        ids = self.engine.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        return [int(token) for token in ids]

    def single_token(self, text: str) -> int | None:
        ids = self.engine.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        return int(ids[0]) if len(ids) == 1 else None

    def decode(self, token: int) -> str:
        return str(self.engine.detokenize([int(token)]))

    def next_token_logprobs(
        self, sequences: Sequence[list[int]], *, batch_size: int, rows_done: RowsDone | None
    ) -> torch.Tensor:
        import numpy as np
        import torch

        if not sequences or any(not sequence for sequence in sequences):
            raise ValueError("every sequence needs at least one token")
        rows = []
        for sequence in sequences:
            # One placeholder token after the sequence: the row that predicts it is the
            # distribution after the whole sequence (its own value is never read).
            extended = [*sequence, sequence[-1]]
            rows.append(self.engine.sequence_logprobs([extended], [len(sequence)])[0][0])
            if rows_done is not None:
                rows_done(1)
        return torch.from_numpy(np.stack(rows))

    def continuation_logprobs(
        self,
        contexts: Sequence[list[int]],
        continuations: Sequence[list[int]],
        *,
        batch_size: int,
        rows_done: RowsDone | None,
    ) -> list[float]:
        if len(contexts) != len(continuations):
            raise ValueError("one continuation per context")
        totals = []
        for context, continuation in zip(contexts, continuations, strict=True):
            if not context or not continuation:
                raise ValueError("contexts and continuations need at least one token each")
            row = [*context, *continuation]
            logprobs = self.engine.sequence_logprobs([row], [len(context)])[0]
            totals.append(float(sum(logprobs[k, token] for k, token in enumerate(continuation))))
            if rows_done is not None:
                rows_done(1)
        return totals


def scorer_for(engine: object) -> LogprobScorer:
    """The scorer of an engine, or a one-line error for backends without log-probabilities."""
    if all(hasattr(engine, name) for name in ("model", "tokenizer", "encode")):
        return TransformersScorer(engine)
    capabilities = capabilities_of(engine)
    if capabilities.backend == "llama.cpp" and capabilities.logprobs:
        return LlamaCppScorer(engine)
    raise RoleplayError(
        f"the {capabilities.backend} backend gives no log-probabilities of arbitrary text; "
        "persona scoring runs on the llama.cpp or transformers backend"
    )
