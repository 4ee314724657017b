"""Decoder layers are found generically, whatever the architecture calls them."""

from __future__ import annotations

from typing import Any

import pytest
from torch import nn

from roleplay.control.errors import ControlError
from roleplay.control.layers import (
    find_decoder_layers,
    hidden_size,
    layers_at_fractions,
    validate_layers,
)


def test_llama_layers(tiny: Any) -> None:
    layers = find_decoder_layers(tiny.model)
    assert layers.path == "model.layers"
    assert len(layers) == 4
    assert hidden_size(tiny.model) == 32


@pytest.mark.parametrize(
    ("config_name", "model_name", "path"),
    [
        ("GPT2Config", "GPT2LMHeadModel", "transformer.h"),
        ("GPTNeoXConfig", "GPTNeoXForCausalLM", "gpt_neox.layers"),
        ("OPTConfig", "OPTForCausalLM", "model.decoder.layers"),
    ],
)
def test_other_architectures(config_name: str, model_name: str, path: str) -> None:
    import transformers

    sizes = {
        "GPT2Config": dict(n_embd=16, n_layer=3, n_head=2, vocab_size=50, n_positions=32),
        "GPTNeoXConfig": dict(
            hidden_size=16,
            num_hidden_layers=3,
            num_attention_heads=2,
            intermediate_size=32,
            vocab_size=50,
        ),
        "OPTConfig": dict(
            hidden_size=16,
            num_hidden_layers=3,
            num_attention_heads=2,
            ffn_dim=32,
            vocab_size=50,
            word_embed_proj_dim=16,
        ),
    }[config_name]
    config = getattr(transformers, config_name)(**sizes)
    model = getattr(transformers, model_name)(config)
    layers = find_decoder_layers(model)
    assert (layers.path, len(layers)) == (path, 3)
    assert hidden_size(model) == 16


def test_unknown_architecture_falls_back_to_the_module_list() -> None:
    class Odd(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.config = type("C", (), {"num_hidden_layers": 2, "hidden_size": 4})()
            self.stack = nn.Sequential(nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 4)]))

    assert find_decoder_layers(Odd()).path == "stack.0"


def test_not_a_torch_model() -> None:
    with pytest.raises(ControlError, match="not a PyTorch module"):
        find_decoder_layers(object())  # type: ignore[arg-type]
    with pytest.raises(ControlError, match="cannot find the decoder layers"):
        find_decoder_layers(nn.Linear(2, 2))


def test_layer_fractions_and_validation() -> None:
    assert layers_at_fractions(30, (0.4, 0.5)) == (12, 15)
    assert layers_at_fractions(2, (0.4, 0.5, 1.0)) == (1,)
    assert validate_layers([3, 1, 3], 4) == (1, 3)
    with pytest.raises(ControlError, match=r"layers \[4\] do not exist"):
        validate_layers([4], 4)
    with pytest.raises(ControlError):
        validate_layers([], 4)
