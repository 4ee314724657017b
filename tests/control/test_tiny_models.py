"""The shared tiny-model helper builds a folder the Auto classes load like a chat model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.helpers.tiny_models import build_tiny_llama


def test_folder_loads_with_auto_classes_and_chatml(tiny_folder: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_folder)
    model: Any = AutoModelForCausalLM.from_pretrained(tiny_folder)
    assert model.config.num_hidden_layers == 4
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer)
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True
    )
    assert text == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    assert tokenizer.eos_token == "<|im_end|>"
    # Byte-level: any text round-trips, emoji and accents included.
    sample = "Café ☕ — “quotes” 🎉"
    assert tokenizer.decode(tokenizer.encode(sample, add_special_tokens=False)) == sample


def test_same_seed_same_weights(tmp_path: Path) -> None:
    first = build_tiny_llama(tmp_path / "a", layers=1, hidden=16, seed=3)
    second = build_tiny_llama(tmp_path / "b", layers=1, hidden=16, seed=3)
    a = AutoModelForCausalLM.from_pretrained(first).state_dict()
    b = AutoModelForCausalLM.from_pretrained(second).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
