from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from roleplay.engine.decoding import IncrementalDetokenizer, StopStringScanner, TruncatedSampler


def test_incremental_detokenizer_reassembles_multibyte_text(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    text = "Café ☕ — naïve 😀 fin."
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    detokenizer = IncrementalDetokenizer(tokenizer)
    pieces = [detokenizer.push(token_id) for token_id in ids]
    assert "".join(pieces) == text
    assert all("\ufffd" not in piece for piece in pieces)


def test_stop_scanner_cuts_at_stop_string_across_pieces() -> None:
    scanner = StopStringScanner(["\nUser:"])
    emitted = [scanner.feed(piece) for piece in ["Hello", " there", "\nUs", "er: hi"]]
    assert "".join(emitted) == "Hello there"
    assert scanner.stopped


def test_stop_scanner_releases_held_prefix_that_was_not_a_stop() -> None:
    scanner = StopStringScanner(["\nUser:"])
    out = scanner.feed("line one\nUs") + scanner.feed("ually fine")
    assert out == "line one\nUsually fine"
    assert not scanner.stopped
    assert scanner.flush() == ""


def test_stop_scanner_flush_returns_pending_tail() -> None:
    scanner = StopStringScanner(["\nUser:"])
    assert scanner.feed("end\nU") == "end"
    assert scanner.flush() == "\nU"


def test_stop_scanner_without_stops_passes_through() -> None:
    scanner = StopStringScanner([])
    assert scanner.feed("abc") == "abc"


@pytest.mark.parametrize(
    ("temperature", "top_k", "top_p"),
    [(0.8, 50, 0.95), (1.0, 5, 1.0), (0.5, 0, 0.9), (1.3, 200, 0.5), (0.7, 1, 0.95)],
)
def test_truncated_sampler_has_transformers_distribution(
    temperature: float, top_k: int, top_p: float
) -> None:
    """Sampling on the top-k only must not change which tokens can come out, or how often."""
    from transformers.generation.logits_process import (
        LogitsProcessorList,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    generator = torch.Generator().manual_seed(0)
    scores = torch.randn(1, 4000, generator=generator) * 3
    warpers = LogitsProcessorList([TemperatureLogitsWarper(temperature)])
    if top_k > 0:
        warpers.append(TopKLogitsWarper(top_k))
    if top_p < 1.0:
        warpers.append(TopPLogitsWarper(top_p))
    expected = torch.softmax(warpers(torch.zeros(1, 1, dtype=torch.long), scores.clone()), -1)[0]

    sampler = TruncatedSampler(temperature, top_k, top_p, generator)
    indices, probabilities = sampler.candidates(scores)
    ours = torch.zeros_like(expected).index_add_(0, indices, probabilities)
    torch.testing.assert_close(ours, expected, atol=1e-6, rtol=1e-5)
    drawn = {sampler(scores) for _ in range(200)}
    assert all(expected[token] > 0 for token in drawn)


def test_truncated_sampler_is_reproducible_with_a_seed() -> None:
    scores = torch.randn(1, 1000, generator=torch.Generator().manual_seed(1))

    def draws(seed: int) -> list[int]:
        sampler = TruncatedSampler(0.9, 50, 0.95, torch.Generator().manual_seed(seed))
        return [sampler(scores) for _ in range(20)]

    assert draws(3) == draws(3)
    assert len(set(draws(3))) > 1
