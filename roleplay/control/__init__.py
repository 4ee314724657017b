"""Latent-attribute controller: steering vectors, logits processors, grammar constraints.

The public names are imported lazily (PEP 562), so ``import roleplay.control`` does not pull
in torch or transformers; the heavy modules load when a name is first used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Controller": "roleplay.control.controller",
    "supports_hooks": "roleplay.control.controller",
    "grammar_compiler": "roleplay.control.controller",
    "ControlError": "roleplay.control.errors",
    "AttributeSpec": "roleplay.control.attributes",
    "load_attributes": "roleplay.control.attributes",
    "BIG_FIVE": "roleplay.control.attributes",
    "SteeringVector": "roleplay.control.vectors",
    "SteeringSet": "roleplay.control.vectors",
    "steering_applied": "roleplay.control.hooks",
    "build_steering_set": "roleplay.control.building",
    "find_decoder_layers": "roleplay.control.layers",
    "parse_steer_spec": "roleplay.control.strengths",
    "strengths_from_card": "roleplay.control.strengths",
    "BannedPhrasesLogitsProcessor": "roleplay.control.processors",
    "ReplyFrequencyPenaltyLogitsProcessor": "roleplay.control.processors",
    "ReplyNoRepeatNGramLogitsProcessor": "roleplay.control.processors",
    "GrammarCompiler": "roleplay.control.grammar",
    "load_grammar": "roleplay.control.grammar",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from roleplay.control.attributes import BIG_FIVE as BIG_FIVE
    from roleplay.control.attributes import AttributeSpec as AttributeSpec
    from roleplay.control.attributes import load_attributes as load_attributes
    from roleplay.control.building import build_steering_set as build_steering_set
    from roleplay.control.controller import Controller as Controller
    from roleplay.control.controller import grammar_compiler as grammar_compiler
    from roleplay.control.controller import supports_hooks as supports_hooks
    from roleplay.control.errors import ControlError as ControlError
    from roleplay.control.grammar import GrammarCompiler as GrammarCompiler
    from roleplay.control.grammar import load_grammar as load_grammar
    from roleplay.control.hooks import steering_applied as steering_applied
    from roleplay.control.layers import find_decoder_layers as find_decoder_layers
    from roleplay.control.processors import (
        BannedPhrasesLogitsProcessor as BannedPhrasesLogitsProcessor,
    )
    from roleplay.control.processors import (
        ReplyFrequencyPenaltyLogitsProcessor as ReplyFrequencyPenaltyLogitsProcessor,
    )
    from roleplay.control.processors import (
        ReplyNoRepeatNGramLogitsProcessor as ReplyNoRepeatNGramLogitsProcessor,
    )
    from roleplay.control.strengths import parse_steer_spec as parse_steer_spec
    from roleplay.control.strengths import strengths_from_card as strengths_from_card
    from roleplay.control.vectors import SteeringSet as SteeringSet
    from roleplay.control.vectors import SteeringVector as SteeringVector


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'roleplay.control' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
