"""A compact forward for Llama-family decoders whose decoder layers stay hookable modules.

Why: at one token per step the transformers forward spends most of its time outside the
matrix products (mask and cache bookkeeping, ~20 small Python-level calls per layer, a
dynamic cache that concatenates). This path runs the same weights with:

- a preallocated KV cache written in place (no concatenation, no per-step allocation),
- fused QKV and gate/up projections (two matrix products instead of five per layer),
- RoPE tables computed once, and no attention mask at decode time (one query sees all keys),
- reuse of the cached prefix between calls when the new prompt extends the previous one
  and the same steering hooks are installed.

Steering keeps working because each decoder layer is still the module at
``model.model.layers[i]`` and is still *called* (``layer(hidden, fast_step=...)``), so its
forward hooks fire and may replace the output. The layer's class is swapped for a subclass
whose ``forward`` runs the fast computation when given ``fast_step`` and the original
transformers code otherwise, so ``generate``, batching and activation recording keep using
the very same module objects. Hooks anywhere else (a projection, the MLP, the whole model)
would be skipped by this path: ``hooks_outside_layers`` finds them and the engine then uses
the transformers forward for that reply.

Import lazily (it imports torch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from roleplay.engine.quantize import (
    DynamicInt8Linear,
    bias_of,
    concat_weights,
    full_activation_range,
    quantized_weight_of,
)
from roleplay.engine.scripted_decode import projection_arguments, scripted_layer_step

FAST_MODEL_TYPES = frozenset({"llama", "mistral", "qwen2"})
# RoPE variants whose tables depend on the position only (not on the current length).
STATIC_ROPE_TYPES = frozenset({"default", "linear", "llama3", "yarn"})
CACHE_GRANULARITY = 256  # KV capacity grows in steps of this many positions

_ATTENTION_PARTS = ("q_proj", "k_proj", "v_proj", "o_proj")
_MLP_PARTS = ("gate_proj", "up_proj", "down_proj")


def unsupported_reason(model: nn.Module) -> str | None:
    """Why this model cannot use the fast path, or None when it can."""
    config: Any = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    if model_type not in FAST_MODEL_TYPES:
        return f"model type {model_type!r} has no fast path (supported: {sorted(FAST_MODEL_TYPES)})"
    inner = getattr(model, "model", None)
    layers = getattr(inner, "layers", None)
    if not isinstance(layers, nn.ModuleList) or len(layers) == 0:
        return "no decoder layers at model.model.layers"
    for name in ("embed_tokens", "norm", "rotary_emb"):
        if not isinstance(getattr(inner, name, None), nn.Module):
            return f"model.model.{name} is missing"
    if not isinstance(getattr(model, "lm_head", None), nn.Module):
        return "model.lm_head is missing"
    if getattr(config, "hidden_act", "silu") != "silu":
        return f"activation {config.hidden_act!r} is not SiLU"
    rope = getattr(config, "rope_parameters", None) or {}
    rope_type = rope.get("rope_type", "default") if isinstance(rope, dict) else "default"
    if rope_type not in STATIC_ROPE_TYPES:
        return f"RoPE type {rope_type!r} depends on the sequence length"
    for layer in layers:
        attention, mlp = getattr(layer, "self_attn", None), getattr(layer, "mlp", None)
        if attention is None or mlp is None:
            return "a decoder layer lacks self_attn or mlp"
        if any(not hasattr(attention, part) for part in _ATTENTION_PARTS):
            return "attention projections are not q/k/v/o_proj"
        if any(not hasattr(mlp, part) for part in _MLP_PARTS):
            return "MLP projections are not gate/up/down_proj"
        if hasattr(attention, "q_norm") or hasattr(attention, "k_norm"):
            return "per-head query/key norms are not supported"
        for norm in ("input_layernorm", "post_attention_layernorm"):
            if not hasattr(getattr(layer, norm, None), "weight"):
                return f"decoder layer has no {norm}"
    return None


def sliding_window(model: nn.Module) -> int | None:
    """Attention window of the model, when it has one (the fast path attends to all keys)."""
    config = getattr(model, "config", None)
    window = getattr(config, "sliding_window", None)
    if getattr(config, "use_sliding_window", True) is False:
        return None
    return int(window) if window else None


def hooks_outside_layers(model: nn.Module) -> list[str]:
    """Modules with hooks that the fast path would skip (all but the decoder layers)."""
    from torch.nn.modules import module as module_globals

    found = []
    if module_globals._global_forward_hooks or module_globals._global_forward_pre_hooks:
        found.append("<global module hooks>")
    layers = {id(layer) for layer in cast(Any, model).model.layers}
    for name, module in model.named_modules():
        if id(module) in layers:
            continue
        if module._forward_hooks or module._forward_pre_hooks:
            found.append(name or "<model>")
    return found


@dataclass
class FastStep:
    """What every layer needs for one forward call (built once per call, not per layer)."""

    start: int  # position of the first new token
    end: int  # positions [0, end) are valid in the cache after this call
    cos: torch.Tensor  # [T, head_dim]
    sin: torch.Tensor  # sin with the first half negated (see FastLlama._rope)
    mask: torch.Tensor | None  # [T, end] boolean, only for a prefill that follows a prefix
    cache: KVCache


class KVCache:
    """Preallocated keys and values, one [1, kv_heads, capacity, head_dim] pair per layer.

    Capacity grows in CACHE_GRANULARITY steps (the engine reserves a whole reply up front).
    """

    def __init__(self, layers: int, kv_heads: int, head_dim: int) -> None:
        self.layers, self.kv_heads, self.head_dim = layers, kv_heads, head_dim
        self.keys = [torch.empty(1, kv_heads, 0, head_dim) for _ in range(layers)]
        self.values = [torch.empty(1, kv_heads, 0, head_dim) for _ in range(layers)]
        self.token_ids: list[int] = []  # the tokens whose keys/values are stored, in order
        self.hook_signature: tuple[Any, ...] = ()

    @property
    def capacity(self) -> int:
        return int(self.keys[0].shape[2])

    def reserve(self, positions: int) -> None:
        if positions <= self.capacity:
            return
        capacity = -(-positions // CACHE_GRANULARITY) * CACHE_GRANULARITY
        valid = len(self.token_ids)
        for store in (self.keys, self.values):
            for layer, old in enumerate(store):
                new = torch.empty(1, self.kv_heads, capacity, self.head_dim)
                new[:, :, :valid] = old[:, :, :valid]
                store[layer] = new


class _LayerWeights:
    """One decoder layer's fused weights and shapes, and its fast computation."""

    def __init__(self, layer: nn.Module, index: int) -> None:
        attention: Any = layer.self_attn  # type: ignore[union-attr]
        mlp: Any = layer.mlp  # type: ignore[union-attr]
        config: Any = attention.config
        self.index = index
        self.head_dim = int(attention.head_dim)
        self.heads = int(config.num_attention_heads)
        self.kv_heads = int(config.num_key_value_heads)
        self.scaling = float(attention.scaling)
        self.intermediate = int(mlp.gate_proj.out_features)
        self.hidden = int(config.hidden_size)
        self.input_norm: torch.Tensor = layer.input_layernorm.weight  # type: ignore[union-attr,assignment]
        self.post_norm: torch.Tensor = layer.post_attention_layernorm.weight  # type: ignore[union-attr,assignment]
        self.eps = float(getattr(layer.input_layernorm, "variance_epsilon", 1e-6))
        self.qkv = _fuse([attention.q_proj, attention.k_proj, attention.v_proj])
        self.o_proj = attention.o_proj
        self.gate_up = _fuse([mlp.gate_proj, mlp.up_proj])
        self.down_proj = mlp.down_proj
        # The scripted decode step's view of the four projections (scripted_decode.py).
        projections = [
            projection_arguments(p) for p in (self.qkv, self.o_proj, self.gate_up, self.down_proj)
        ]
        self._packed = [packed for packed, _, _ in projections]
        self._float_weights = [weight for _, weight, _ in projections]
        self._biases = [bias for _, _, bias in projections]
        self._reduce_range = not full_activation_range()

    def run(self, hidden: torch.Tensor, step: FastStep) -> torch.Tensor:
        """hidden: [1, T, hidden] -> [1, T, hidden]; writes this layer's keys/values."""
        tokens = hidden.shape[1]
        if tokens == 1 and step.mask is None:
            scripted = scripted_layer_step()
            if scripted is not None:  # same operators, without Python between them
                return scripted(
                    hidden,
                    self.input_norm,
                    self.post_norm,
                    self.eps,
                    self.heads,
                    self.kv_heads,
                    self.head_dim,
                    self.intermediate,
                    self.scaling,
                    step.cos,
                    step.sin,
                    step.cache.keys[self.index],
                    step.cache.values[self.index],
                    step.start,
                    step.end,
                    self._packed,
                    self._float_weights,
                    self._biases,
                    self._reduce_range,
                )
        heads, kv_heads, dim = self.heads, self.kv_heads, self.head_dim
        normed = F.rms_norm(hidden, (self.hidden,), self.input_norm, self.eps)
        # [1, heads + 2 * kv_heads, T, dim]: queries, keys, values side by side.
        qkv = self.qkv(normed).view(1, tokens, heads + 2 * kv_heads, dim).transpose(1, 2)
        # RoPE on queries and keys at once (adjacent in the fused output). transformers'
        # rotate_half(x) = cat(-x2, x1) is roll(x, half) with the first half negated; the
        # sign lives in the sin table: 4 kernels instead of 7, bit-identical results.
        qk = qkv[:, : heads + kv_heads]
        qk = qk * step.cos + torch.roll(qk, dim // 2, -1) * step.sin
        keys = step.cache.keys[self.index]
        values = step.cache.values[self.index]
        keys[:, :, step.start : step.end] = qk[:, heads:]
        values[:, :, step.start : step.end] = qkv[:, heads + kv_heads :]
        attended = F.scaled_dot_product_attention(
            qk[:, :heads],
            keys[:, :, : step.end],
            values[:, :, : step.end],
            attn_mask=step.mask,
            is_causal=step.mask is None and tokens > 1,
            scale=self.scaling,
            enable_gqa=heads != kv_heads,
        )
        hidden = hidden + self.o_proj(attended.transpose(1, 2).reshape(1, tokens, heads * dim))
        normed = F.rms_norm(hidden, (self.hidden,), self.post_norm, self.eps)
        gate_up = self.gate_up(normed)
        activated = F.silu(gate_up[..., : self.intermediate]) * gate_up[..., self.intermediate :]
        return hidden + self.down_proj(activated)


def _fuse(parts: Sequence[nn.Module]) -> nn.Module:
    """One projection computing ``parts`` side by side (their outputs concatenated).

    Int8 layers are fused from their int8 rows (exact: scales are per row). Float layers
    get one concatenated weight (and bias), and the original modules' tensors become views
    of it, so fusing costs no memory and both forwards always read the same numbers.
    """
    biases = [bias_of(part) for part in parts]
    bias = None
    if any(b is not None for b in biases):
        bias = torch.cat(
            [
                b if b is not None else torch.zeros(cast(Any, p).out_features)
                for b, p in zip(biases, parts, strict=True)
            ]
        )
    if all(isinstance(part, DynamicInt8Linear) for part in parts):
        return DynamicInt8Linear(concat_weights([quantized_weight_of(p) for p in parts]), bias)
    weights = [cast(Any, part).weight for part in parts]
    fused = nn.Linear(weights[0].shape[1], sum(w.shape[0] for w in weights), bias=bias is not None)
    with torch.no_grad():
        fused.weight.data = torch.cat([w.detach() for w in weights])
        if bias is not None:
            fused.bias.data = bias
        row = 0
        for part, weight in zip(parts, weights, strict=True):
            rows = slice(row, row + weight.shape[0])
            weight.data = fused.weight.data[rows]
            part_bias = getattr(part, "bias", None)
            if part_bias is not None and bias is not None:
                part_bias.data = fused.bias.data[rows]
            row = rows.stop
    fused.requires_grad_(False)
    return fused


class _FastLayerMixin(nn.Module):
    """Mixed into a decoder layer's class: ``fast_step=`` selects the fast computation."""

    _fast_weights: _LayerWeights

    def forward(self, *args: Any, fast_step: FastStep | None = None, **kwargs: Any) -> Any:
        if fast_step is None:
            return super().forward(*args, **kwargs)
        return self._fast_weights.run(args[0], fast_step)


_FAST_CLASSES: dict[type, type] = {}


def _make_fast(layer: nn.Module, weights: _LayerWeights) -> None:
    cls = type(layer)
    if not issubclass(cls, _FastLayerMixin):
        fast_cls = _FAST_CLASSES.get(cls)
        if fast_cls is None:
            fast_cls = type(cls.__name__, (_FastLayerMixin, cls), {"__module__": cls.__module__})
            _FAST_CLASSES[cls] = fast_cls
        layer.__class__ = fast_cls
    cast(Any, layer)._fast_weights = weights


def _hook_identity(hook: Any) -> Any:
    """A hook's identity for prefix reuse: its ``cache_key`` attribute, else the hook itself.

    A steering controller that installs fresh closures every turn can set ``cache_key`` (a
    hashable description of what the hook adds, e.g. layer, vector id and strength) so that
    an unchanged steering configuration keeps the cached prefix usable across turns.
    """
    key = getattr(hook, "cache_key", None)
    return ("key", key) if key is not None else ("hook", hook)


def _hook_signature(layers: Sequence[nn.Module]) -> tuple[Any, ...]:
    """The hooks installed on the layers; cached keys are reusable only under the same ones.

    Hook objects themselves are kept (not their ids), so a new hook can never be mistaken
    for a freed one that happened to get the same address. Hooks are assumed to be pure
    functions of their inputs (a hook that changes what it adds must change its cache_key).
    """
    return tuple(
        (
            index,
            tuple(_hook_identity(h) for h in layer._forward_pre_hooks.values()),
            tuple(_hook_identity(h) for h in layer._forward_hooks.values()),
        )
        for index, layer in enumerate(layers)
        if layer._forward_hooks or layer._forward_pre_hooks
    )


class FastLlama:
    """Runs a Llama-family ``*ForCausalLM`` with a preallocated, prefix-reusing KV cache."""

    def __init__(self, model: nn.Module) -> None:
        reason = unsupported_reason(model)
        if reason is not None:
            raise ValueError(reason)
        inner: Any = cast(Any, model).model
        self.model = model
        self.embed: nn.Module = inner.embed_tokens
        self.norm_weight: torch.Tensor = inner.norm.weight
        self.norm_eps = float(getattr(inner.norm, "variance_epsilon", 1e-6))
        self.lm_head: nn.Module = cast(Any, model).lm_head
        self.rotary: nn.Module = inner.rotary_emb
        self.layers: list[nn.Module] = list(inner.layers)
        self._weights = [_LayerWeights(layer, i) for i, layer in enumerate(self.layers)]
        for layer, weights in zip(self.layers, self._weights, strict=True):
            _make_fast(layer, weights)
        first = self._weights[0]
        self.hidden = first.hidden
        config: Any = cast(Any, model).config
        limit = int(getattr(config, "max_position_embeddings", 0) or 0) or 1 << 20
        window = sliding_window(model)
        self.max_positions = min(limit, window) if window else limit
        self._cos = torch.empty(0, first.head_dim)
        self._sin = torch.empty(0, first.head_dim)
        self._idle: KVCache | None = None

    def new_cache(self) -> KVCache:
        """A cache for one reply: the idle one (with its reusable prefix) or a fresh one."""
        cache, self._idle = self._idle, None
        if cache is None:
            first = self._weights[0]
            cache = KVCache(len(self.layers), first.kv_heads, first.head_dim)
        return cache

    def release(self, cache: KVCache) -> None:
        """Hand a finished reply's cache back so the next reply can reuse its prefix."""
        self._idle = cache

    def forget(self) -> None:
        """Drop the idle cache (memory, and any prefix a later reply could have reused)."""
        self._idle = None

    def _rope(self, start: int, end: int) -> tuple[torch.Tensor, torch.Tensor]:
        if end > self._cos.shape[0]:
            size = min(self.max_positions, -(-end // CACHE_GRANULARITY) * CACHE_GRANULARITY)
            positions = torch.arange(size).unsqueeze(0)
            # The model's own rotary module, so scaled RoPE variants come out exactly right.
            cos, sin = self.rotary(torch.empty(1, dtype=torch.float32), positions)
            half = sin.shape[-1] // 2
            sin = sin.clone()
            sin[..., :half] = -sin[..., :half]
            self._cos, self._sin = cos[0].float(), sin[0].float()
        return self._cos[start:end], self._sin[start:end]

    def prefill(self, cache: KVCache, token_ids: Sequence[int]) -> torch.Tensor:
        """Bring the cache to ``token_ids`` and return the last position's logits [1, vocab].

        The longest prefix already in the cache (computed under the same decoder-layer
        hooks) is kept; at least the last token is recomputed to produce logits.
        """
        signature = _hook_signature(self.layers)
        reused = 0
        if cache.hook_signature == signature:
            limit = min(len(cache.token_ids), len(token_ids) - 1)
            while reused < limit and cache.token_ids[reused] == token_ids[reused]:
                reused += 1
        del cache.token_ids[reused:]
        cache.hook_signature = signature
        return self.forward(cache, token_ids[reused:])

    @torch.inference_mode()
    def forward(
        self, cache: KVCache, new_ids: Sequence[int], *, all_logits: bool = False
    ) -> torch.Tensor:
        """Append ``new_ids`` after the cached tokens; return the last position's logits.

        ``all_logits``: logits of every new position, [1, T, vocab] (perplexity).
        """
        start = len(cache.token_ids)
        end = start + len(new_ids)
        if end > self.max_positions:
            raise ValueError(f"{end} positions exceed the model's limit of {self.max_positions}")
        cache.reserve(end)
        cos, sin = self._rope(start, end)
        mask = None
        if start > 0 and len(new_ids) > 1:
            # New queries see the whole prefix and the new tokens up to themselves.
            mask = torch.ones(len(new_ids), end, dtype=torch.bool).tril(diagonal=start)
        step = FastStep(start=start, end=end, cos=cos, sin=sin, mask=mask, cache=cache)
        hidden = self.embed(torch.tensor([list(new_ids)]))
        for layer in self.layers:
            output = layer(hidden, fast_step=step)
            hidden = output[0] if isinstance(output, tuple) else output
        cache.token_ids.extend(int(t) for t in new_ids)
        kept = hidden if all_logits else hidden[:, -1:]
        logits = self.lm_head(F.rms_norm(kept, (self.hidden,), self.norm_weight, self.norm_eps))
        return logits if all_logits else logits[:, -1, :]  # type: ignore[no-any-return]
