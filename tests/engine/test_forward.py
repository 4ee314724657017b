"""Batched scoring with a shared prefix gives what each row gives when run alone."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from roleplay.engine.forward import (
    common_prefix_length,
    continuation_logprobs,
    next_token_logprobs,
)


def _ids(engine: Any, text: str) -> list[int]:
    return [int(t) for t in engine.encode(text)[0].tolist()]


def _alone(engine: Any, row: list[int]) -> torch.Tensor:
    with torch.inference_mode():
        logits = engine.model(input_ids=torch.tensor([row])).logits[0].float()
    return torch.log_softmax(logits, dim=-1)


def test_common_prefix_length() -> None:
    assert common_prefix_length([[1, 2, 3], [1, 2, 4], [1, 2]]) == 2
    assert common_prefix_length([[1, 2], [1, 2]]) == 2
    assert common_prefix_length([[5], [1, 2]]) == 0
    assert common_prefix_length([]) == 0


@pytest.mark.parametrize("batch_size", [1, 2, 8])
def test_next_token_logprobs_match_rows_run_alone(tiny_engine: Any, batch_size: int) -> None:
    base = _ids(tiny_engine, "Hello there! How are you today? I am fine")
    rows = [base + _ids(tiny_engine, s) for s in [" thank you.", "!", " and calm, curious"]]
    rows.append(_ids(tiny_engine, "Whatever, no need for a plan"))  # no shared prefix at all
    batched = next_token_logprobs(tiny_engine.model, rows, batch_size=batch_size, pad_id=0)
    assert batched.shape[0] == len(rows)
    for index, row in enumerate(rows):
        torch.testing.assert_close(batched[index], _alone(tiny_engine, row)[-1], atol=1e-4, rtol=0)


def test_continuation_logprobs_match_rows_run_alone(tiny_engine: Any) -> None:
    context = _ids(tiny_engine, "I love parties, meeting new people")
    tails = [_ids(tiny_engine, s) for s in [" and talking.", " quietly", " I hate it."]]
    got = continuation_logprobs(tiny_engine.model, [context] * 3, tails, batch_size=2, pad_id=0)
    for tail, value in zip(tails, got, strict=True):
        logprobs = _alone(tiny_engine, context + tail)
        expected = sum(float(logprobs[len(context) - 1 + k, t]) for k, t in enumerate(tail))
        assert value == pytest.approx(expected, abs=1e-3)


def test_bad_input_is_refused(tiny_engine: Any) -> None:
    with pytest.raises(ValueError):
        next_token_logprobs(tiny_engine.model, [[]], batch_size=1, pad_id=0)
    with pytest.raises(ValueError):
        continuation_logprobs(tiny_engine.model, [[1]], [[]], batch_size=1, pad_id=0)
    with pytest.raises(ValueError):
        next_token_logprobs(tiny_engine.model, [[1, 2]], batch_size=0, pad_id=0)
