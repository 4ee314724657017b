"""Compute (or load from the cache) the steering vectors of a model.

All attributes that are not cached yet are recorded in one batched pass: every pair gives
two chat examples (question + positive answer, question + negative answer) rendered with the
model's own chat template, and each layer's direction comes from the answer-token means.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roleplay.control.attributes import AttributeSpec, load_attributes
from roleplay.control.cache import cache_key, load_vector, save_vector
from roleplay.control.config import Method, SteeringConfig, load_config
from roleplay.control.directions import direction_for, pair_consistency
from roleplay.control.errors import ControlError, did_you_mean
from roleplay.control.layers import layers_at_fractions, validate_layers
from roleplay.control.recording import ChatExample
from roleplay.control.vectors import SteeringSet, SteeringVector
from roleplay.engine.base import ChatMessage

if TYPE_CHECKING:
    from roleplay.control.targets import SteeringTarget

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class BuildReport:
    built: tuple[str, ...]  # computed now
    cached: tuple[str, ...]  # loaded from the cache
    layers: tuple[int, ...]


def select_attributes(
    names: Sequence[str] | None, specs: dict[str, AttributeSpec]
) -> list[AttributeSpec]:
    if names is None:
        return [specs[name] for name in sorted(specs)]
    chosen = []
    for name in names:
        if name not in specs:
            raise ControlError(f"unknown attribute {name!r}{did_you_mean(name, specs)}")
        chosen.append(specs[name])
    return chosen


def chat_examples(
    spec: AttributeSpec, target: SteeringTarget, system_prompt: str
) -> tuple[list[ChatExample], list[ChatExample]]:
    """(positive examples, negative examples), one per pair, in the model's chat format."""
    positive, negative = [], []
    for pair in spec.pairs:
        messages = [ChatMessage("user", pair.question)]
        if system_prompt:
            messages.insert(0, ChatMessage("system", system_prompt))
        prefix = target.render_chat(messages)
        positive.append(ChatExample(prefix, prefix + pair.positive))
        negative.append(ChatExample(prefix, prefix + pair.negative))
    return positive, negative


def compute_vectors(
    target: SteeringTarget,
    specs: Sequence[AttributeSpec],
    layers: Sequence[int],
    *,
    method: Method,
    system_prompt: str,
    batch_size: int = 32,
    progress: ProgressCallback | None = None,
) -> dict[str, SteeringVector]:
    """Record all ``specs`` in one batched pass and derive one vector per attribute."""
    import torch

    examples: list[ChatExample] = []
    spans: dict[str, tuple[int, int]] = {}
    for spec in specs:
        positive, negative = chat_examples(spec, target, system_prompt)
        spans[spec.name] = (len(examples), len(positive))
        examples += positive + negative
    recorded = target.record(examples, layers, batch_size=batch_size, progress=progress)
    vectors = {}
    for spec in specs:
        start, count = spans[spec.name]
        directions, scales, consistency = {}, {}, []
        for layer in layers:
            means = recorded.means[layer]
            pos, neg = means[start : start + count], means[start + count : start + 2 * count]
            directions[layer] = direction_for(method, pos, neg)
            norms = torch.cat(recorded.token_norms[layer][start : start + 2 * count])
            # Median, not mean: a few tokens carry huge activations in some models.
            scales[layer] = float(norms.median())
            consistency.append(pair_consistency(pos, neg, directions[layer]))
        separation = [
            float(
                (
                    recorded.means[layer][start : start + count]
                    - recorded.means[layer][start + count : start + 2 * count]
                )
                .mean(0)
                .norm()
            )
            / scales[layer]
            for layer in layers
        ]
        vectors[spec.name] = SteeringVector(
            attribute=spec.name,
            model_id=target.model_id,
            directions=directions,
            layer_scales=scales,
            method=method,
            stats={
                "pairs": float(count),
                "consistency": sum(consistency) / len(consistency),
                "relative_separation": sum(separation) / len(separation),
            },
        )
    return vectors


def build_steering_set(
    target: SteeringTarget,
    attributes: Sequence[str] | None = None,
    *,
    layers: Sequence[int] | None = None,
    config: SteeringConfig | None = None,
    specs: dict[str, AttributeSpec] | None = None,
    use_cache: bool = True,
    force: bool = False,
    batch_size: int = 32,
    progress: ProgressCallback | None = None,
) -> tuple[SteeringSet, BuildReport]:
    """Vectors for ``attributes`` (all known ones when None), from the cache when possible.

    ``target`` is where the activations are read (``roleplay.control.targets``): a PyTorch
    model through hooks, or a GGUF in llama.cpp through its eval callback.

    ``force`` recomputes and overwrites cached entries; ``use_cache=False`` neither reads
    nor writes the cache.
    """
    config = config or load_config()
    chosen = select_attributes(attributes, specs if specs is not None else load_attributes())
    num_layers = target.num_layers
    picked = (
        validate_layers(layers, num_layers)
        if layers is not None
        else layers_at_fractions(num_layers, config.layer_fractions)
    )
    width = target.hidden_size
    keys = {
        spec.name: cache_key(
            target.model_id,
            spec,
            picked,
            config.method,
            config.extraction_system_prompt,
            backend=target.backend,
        )
        for spec in chosen
    }
    vectors: dict[str, SteeringVector] = {}
    if use_cache and not force:
        for spec in chosen:
            found = load_vector(keys[spec.name], width)
            if found is not None:
                vectors[spec.name] = found
    cached = tuple(vectors)
    missing = [spec for spec in chosen if spec.name not in vectors]
    if missing:
        computed = compute_vectors(
            target,
            missing,
            picked,
            method=config.method,
            system_prompt=config.extraction_system_prompt,
            batch_size=batch_size,
            progress=progress,
        )
        for name, vector in computed.items():
            if use_cache:
                save_vector(keys[name], vector)
            vectors[name] = vector
    steering_set = SteeringSet(
        vectors={spec.name: vectors[spec.name] for spec in chosen},
        unit_relative_norm=config.unit_relative_norm,
        max_combined_strength=config.max_combined_strength,
        combination=config.combination,
    )
    report = BuildReport(built=tuple(spec.name for spec in missing), cached=cached, layers=picked)
    return steering_set, report
