"""Batched scoring forward passes that compute a shared prompt prefix only once.

An interview asks 50 questions after the same system prompt (~700 tokens on the bundled
cards), and the likelihood method scores 50 statements after one identical prompt. Running
each row in full would redo that prefix 50 times; here the longest prefix common to all rows
goes through the model once, its KV cache is copied for each batch, and only the rows' tails
are run, right-padded. Right padding needs no attention mask under causal attention: a real
token never attends to the padding after it, and its position ids are unchanged, so every
row's log-probabilities equal those of the row run alone (tests check this).

Steering hooks, when the caller has them installed, act on the prefix and the tails alike.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

RowsDone = Callable[[int], None]  # called after each batch with the number of rows it held


def pad_token_id(tokenizer: Any) -> int:
    """The id to right-pad with; any id works, since no real token attends to the padding."""
    pad = getattr(tokenizer, "pad_token_id", None)
    return int(pad) if pad is not None else 0


def common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    if not rows:
        return 0
    shortest = min(len(row) for row in rows)
    first = rows[0]
    for position in range(shortest):
        token = first[position]
        if any(row[position] != token for row in rows):
            return position
    return shortest


def _batched_logprobs(
    model: Any,
    rows: Sequence[list[int]],
    spans: Sequence[tuple[int, int]],
    *,
    batch_size: int,
    pad_id: int,
    rows_done: RowsDone | None = None,
) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield ``(row index, log-softmax logits at positions span[0]..span[1]-1)``.

    The logits at position ``p`` are the model's prediction of token ``p + 1``.
    """
    import torch

    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    for row, (start, end) in zip(rows, spans, strict=True):
        if not 0 <= start < end <= len(row):
            raise ValueError(f"span {(start, end)} is outside a row of {len(row)} tokens")
    # The prefix must end before the first position whose logits are wanted.
    prefix_length = min(common_prefix_length(rows), min(start for start, _ in spans))
    with torch.inference_mode():
        prefix_cache = None
        if prefix_length > 0:
            output = model(
                input_ids=torch.tensor([rows[0][:prefix_length]]), use_cache=True, logits_to_keep=1
            )
            prefix_cache = output.cache
        # Similar lengths in one batch keep the padding small; results are keyed by index.
        order = sorted(range(len(rows)), key=lambda index: len(rows[index]))
        for begin in range(0, len(order), batch_size):
            chunk = order[begin : begin + batch_size]
            tails = [rows[index][prefix_length:] for index in chunk]
            width = max(len(tail) for tail in tails)
            input_ids = torch.tensor([tail + [pad_id] * (width - len(tail)) for tail in tails])
            cache = None
            if prefix_cache is not None:
                cache = copy.deepcopy(prefix_cache)
                cache.batch_repeat_interleave(len(chunk))
            # The output projection onto a 49k vocabulary costs more than the layers of a
            # 135M model; ask only for the positions some row of the batch needs.
            wanted = sorted(
                {
                    position - prefix_length
                    for index in chunk
                    for position in range(spans[index][0], spans[index][1])
                }
            )
            column = {position: slot for slot, position in enumerate(wanted)}
            logits = model(
                input_ids=input_ids,
                cache=cache,
                use_cache=cache is not None,
                logits_to_keep=torch.tensor(wanted),
            ).logits
            for slot, index in enumerate(chunk):
                start, end = spans[index]
                columns = [column[p - prefix_length] for p in range(start, end)]
                yield index, torch.log_softmax(logits[slot, columns].float(), dim=-1)
            if rows_done is not None:
                rows_done(len(chunk))


def next_token_logprobs(
    model: Any,
    sequences: Sequence[list[int]],
    *,
    batch_size: int,
    pad_id: int,
    rows_done: RowsDone | None = None,
) -> torch.Tensor:
    """Log-probabilities of the token after each sequence, shape ``(len(sequences), vocab)``."""
    import torch

    if not sequences or any(not sequence for sequence in sequences):
        raise ValueError("every sequence needs at least one token")
    spans = [(len(sequence) - 1, len(sequence)) for sequence in sequences]
    result: list[torch.Tensor | None] = [None] * len(sequences)
    for index, logprobs in _batched_logprobs(
        model, sequences, spans, batch_size=batch_size, pad_id=pad_id, rows_done=rows_done
    ):
        result[index] = logprobs[0]
    return torch.stack([row for row in result if row is not None])


def continuation_logprobs(
    model: Any,
    contexts: Sequence[list[int]],
    continuations: Sequence[list[int]],
    *,
    batch_size: int,
    pad_id: int,
    rows_done: RowsDone | None = None,
) -> list[float]:
    """``log P(continuation | context)`` (summed over its tokens) for each pair."""
    if len(contexts) != len(continuations):
        raise ValueError("one continuation per context")
    if any(not context for context in contexts) or any(not c for c in continuations):
        raise ValueError("contexts and continuations need at least one token each")
    rows = [[*context, *tail] for context, tail in zip(contexts, continuations, strict=True)]
    spans = [(len(context) - 1, len(row) - 1) for context, row in zip(contexts, rows, strict=True)]
    totals = [0.0] * len(rows)
    for index, logprobs in _batched_logprobs(
        model, rows, spans, batch_size=batch_size, pad_id=pad_id, rows_done=rows_done
    ):
        targets = continuations[index]
        totals[index] = float(sum(logprobs[k, token] for k, token in enumerate(targets)))
    return totals
