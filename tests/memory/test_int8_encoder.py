"""The int8 MiniLM forward: per-token activations, per-channel weights, float32 elsewhere."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional

from roleplay.memory.int8_encoder import (
    _GELU_MIN_ABS,
    Int8Linear,
    int8_kernels_available,
)

pytestmark = pytest.mark.skipif(not int8_kernels_available(), reason="no VNNI int8 kernels")


def _layer(rows: int = 48, inputs: int = 96, outputs: int = 80) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(3)
    weight = torch.randn(outputs, inputs, generator=generator) * 0.1
    bias = torch.randn(outputs, generator=generator)
    x = torch.randn(rows, inputs, generator=generator)
    x[5] *= 1000.0  # an outlier token must not coarsen the others (per-token ranges)
    return weight, bias, x


def test_int8_linear_is_close_to_float32_for_every_row() -> None:
    weight, bias, x = _layer()
    actual = Int8Linear(weight, bias)(x)
    expected = functional.linear(x, weight, bias)
    relative = (actual - expected).norm(dim=1) / expected.norm(dim=1)
    assert float(relative.max()) < 0.02


def test_each_row_is_independent_of_the_others() -> None:
    weight, bias, x = _layer()
    layer = Int8Linear(weight, bias)
    together = layer(x)
    alone = torch.cat([layer(x[row : row + 1]) for row in range(len(x))])
    # Integer products are exact and each row has its own scale, so a row's result does not
    # depend on its batch. It was bit-identical on a VNNI CPU; on an AMX CPU (2026-12-05)
    # oneDNN's batch and single-row kernels apply the scales in another order, which differs
    # by float32 rounding (6e-8 of a row's norm): allowed, and nothing more.
    difference = (together - alone).norm(dim=1) / together.norm(dim=1)
    assert float(difference.max()) < 1e-6


def test_given_ranges_give_the_same_result_as_measured_ones() -> None:
    weight, bias, x = _layer()
    layer = Int8Linear(weight, bias)
    measured = x.abs().amax(dim=1, keepdim=True)
    assert torch.equal(layer(x), layer(x, measured))


def test_gelu_bound_covers_every_row() -> None:
    generator = torch.Generator().manual_seed(5)
    before = torch.randn(500, 64, generator=generator) * torch.rand(500, 1, generator=generator) * 4
    before[:10] = -torch.rand(10, 64, generator=generator)  # rows with no positive input
    bound = functional.gelu(before.amax(dim=1, keepdim=True)).clamp(min=_GELU_MIN_ABS)
    actual = functional.gelu(before).abs().amax(dim=1, keepdim=True)
    assert bool((bound >= actual).all())
    # Exact wherever the row maximum dominates GELU's small negative dip.
    big = actual[:, 0] > _GELU_MIN_ABS
    assert torch.allclose(bound[big], actual[big])


def test_int8_sentence_vectors_rank_like_float32() -> None:
    from roleplay.memory.encoder import load_encoder

    memories = [
        "We sailed past the lighthouse at dawn and the sea was calm.",
        "My grandmother taught me to bake rye bread in her old stone oven.",
        "The exam results came in and I had failed chemistry again.",
        "Our dog ran away during the thunderstorm and never came back.",
        "I won the chess tournament at the village fair last summer.",
        "The stranger at the inn paid for everyone's supper in gold.",
    ]
    queries = [
        "Tell me about the boat trip by the lighthouse.",
        "Do you still bake bread?",
        "How did your chemistry exam go?",
        "What happened to your dog?",
        "Did you ever win at chess?",
        "Who was the man at the inn?",
    ]
    rankings = {}
    for precision in ("float32", "int8"):
        encoder = load_encoder(precision)
        similarities = encoder.encode(queries) @ encoder.encode(memories).T
        rankings[precision] = np.argsort(-similarities, axis=1)
    assert (rankings["int8"][:, 0] == np.arange(len(queries))).all()
    assert (rankings["int8"] == rankings["float32"]).mean() >= 0.9
