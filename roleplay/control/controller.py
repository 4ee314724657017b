"""The controller: the one object the chat pipeline asks for steering and decoding controls.

    controller = Controller.for_card(engine, card, overrides={"sentiment": 0.5})
    with controller.steering():
        for event in engine.stream(prompt, settings,
                                   logits_processors=controller.logits_processors(),
                                   grammar=controller.grammar_text()):
            ...
    session.record(controller.describe())

``for_card`` resolves the strengths (card Big Five and ``attributes``, then per-chat
overrides, each clipped to its attribute's measured fluency bound for its sign), loads the
needed vectors from the cache (building missing ones, a few seconds per attribute), and
precomputes the per-layer vectors, so that ``steering()`` only installs them (hooks on a
PyTorch model, control vectors in llama.cpp, see ``targets.py``). A backend without hidden
states gets the strengths as prompt guidance (``prompt_guidance()``), and ``describe()``
says which method is in force and the bound each strength was clipped to.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from roleplay.control.attributes import BIG_FIVE, fluency_bounds, load_attributes
from roleplay.control.config import (
    BOUNDS_ON,
    SCOPES,
    BoundsOn,
    Scope,
    SteeringConfig,
    load_config,
)
from roleplay.control.decoupling import crosstalk_for, decouple
from roleplay.control.errors import ControlError
from roleplay.control.grammar import Grammar, GrammarCompiler, load_grammar
from roleplay.control.layers import find_decoder_layers
from roleplay.control.strengths import ResolvedStrengths, resolve_strengths, strength_bound
from roleplay.control.targets import (
    DECAY_NEEDS_CONTROL_VECTORS,
    REPLY_ONLY_NEEDS_CONTROL_VECTORS,
    SteeringTarget,
    steering_target_for,
)
from roleplay.control.vectors import COMBINATIONS, Combination
from roleplay.engine.base import Capabilities, capabilities_of

if TYPE_CHECKING:
    import torch
    from transformers import LogitsProcessor, PreTrainedTokenizerBase

    from roleplay.control.building import ProgressCallback

BANNED_PHRASES_EXTENSION = "banned_phrases"  # card.extensions key holding a list of phrases


class _EncodeOnly:
    """A tokenizer stand-in for the banned-phrase processor (``encode`` only)."""

    def __init__(self, target: SteeringTarget) -> None:
        self._target = target

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return self._target.encode(text)


def supports_hooks(model: Any) -> bool:
    """Whether steering vectors can be applied: a PyTorch model with recognisable decoder layers."""
    try:
        find_decoder_layers(model)
    except ControlError:
        return False
    return True


def _positive_number(name: str, value: Any) -> float:
    """A setting given to ``for_card`` that must be a positive finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ControlError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ControlError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _require_one_of(label: str, value: str, choices: Sequence[str]) -> None:
    """A named choice given to ``for_card`` (a steering.yaml setting): one of ``choices``."""
    if value not in choices:
        raise ControlError(f"unknown {label} {value!r}; use one of {', '.join(choices)}")


def _unpack(source: Any) -> tuple[SteeringTarget | None, Any, str, Capabilities]:
    """(steering target, Hugging Face tokenizer or None, model id, capabilities) of a source.

    A source is an engine (any backend), a loaded model bundle, or a
    ``(model, tokenizer, model_id)`` tuple.
    """
    if isinstance(source, tuple):
        if len(source) != 3:
            raise ControlError("pass a loaded model or a (model, tokenizer, model_id) tuple")
        target, tokenizer, model_id = steering_target_for(source), source[1], source[2]
        return target, tokenizer, model_id, _HOOKS
    target = steering_target_for(source)
    loaded = getattr(source, "loaded", None)
    tokenizer = getattr(loaded if loaded is not None else source, "tokenizer", None)
    capabilities = capabilities_of(source) if hasattr(source, "capabilities") else _HOOKS
    return target, tokenizer, str(source.model_id), capabilities


def _matching_source(source: Any, target: SteeringTarget | None) -> SteeringTarget | None:
    """The steering target of ``source``, checked to have ``target``'s layers and width."""
    if source is None:
        return None
    built_from = steering_target_for(source)
    if built_from is None:
        raise ControlError("the steering source exposes no hidden states")
    if target is not None and (
        built_from.num_layers != target.num_layers or built_from.hidden_size != target.hidden_size
    ):
        raise ControlError(
            f"the steering source {built_from.model_id} has {built_from.num_layers} layers of "
            f"{built_from.hidden_size}; the model has {target.num_layers} of {target.hidden_size}"
        )
    return built_from


_HOOKS = Capabilities(
    backend="transformers", steering="hooks", hidden_states=True, grammar="processor"
)


def _card_banned_phrases(card: Any) -> list[str]:
    extensions = getattr(card, "extensions", None)
    if not isinstance(extensions, Mapping):
        return []
    phrases = extensions.get(BANNED_PHRASES_EXTENSION) or []
    if isinstance(phrases, str) or not isinstance(phrases, Sequence):
        raise ControlError(
            f"card extensions.{BANNED_PHRASES_EXTENSION} must be a list of phrases, got {phrases!r}"
        )
    return [str(p) for p in phrases]


def _resolve(
    card: Any,
    overrides: Mapping[str, float] | None,
    config: SteeringConfig,
    model_id: str,
    notes: list[str],
) -> ResolvedStrengths:
    """The strengths in force: each clipped to its attribute's bound for its sign, under the
    global ``max_strength`` (with ``attribute_bounds_on: steered``, to the global cap only:
    the attribute's own bound then limits the strength it is steered at, when the vectors are
    combined); with ``decouple_traits``, the Big Five solved against the model's cross-talk
    (why not, when it cannot be, goes to ``notes``)."""
    specs = load_attributes()
    own_bounds = fluency_bounds(specs)
    clip_to = own_bounds if config.attribute_bounds_on == "requested" else {}
    resolved = resolve_strengths(
        card, overrides, specs, max_strength=config.max_strength, bounds=clip_to
    )
    if config.attribute_bounds_on == "steered":
        # Clipped to the global cap only, but ``bounds`` still records each attribute's own
        # bound for its sign (describe(), and the combination that applies it).
        resolved = replace(
            resolved,
            bounds={
                n: strength_bound(n, v, config.max_strength, own_bounds)
                for n, v in resolved.requested.items()
                if v != 0
            },
        )
    big_five = {n: v for n, v in resolved.strengths.items() if n in BIG_FIVE}
    if not config.decouple_traits or not big_five:
        return resolved
    overridden = sorted(n for n in BIG_FIVE if resolved.sources.get(n) == "override")
    if overridden:
        notes.append(
            "cross-talk decoupling off: this chat sets "
            f"{', '.join(overridden)} itself (the strengths asked for are used as given)"
        )
        return resolved
    fit, why_not = crosstalk_for(model_id, config)  # checks the loaded attributes' pairs
    if fit is None:
        notes.append(f"cross-talk decoupling off: {why_not}")
        return resolved

    def limit(name: str, value: float) -> float:
        return strength_bound(name, value, config.max_strength, clip_to)

    def own_limit(name: str, value: float) -> float:
        return strength_bound(name, value, config.max_strength, own_bounds)

    solved = {n: v for n, v in decouple(big_five, fit, limit).items() if v}
    strengths = {n: v for n, v in resolved.strengths.items() if n not in BIG_FIVE}
    notes.append("Big Five strengths decoupled against the model's measured cross-talk")
    return replace(
        resolved,
        strengths={**strengths, **solved},
        sources={**resolved.sources, **dict.fromkeys(solved, "decoupled")},
        bounds={**resolved.bounds, **{n: own_limit(n, v) for n, v in solved.items()}},
        decoupled_from=big_five,
    )


_compilers: weakref.WeakKeyDictionary[Any, GrammarCompiler] = weakref.WeakKeyDictionary()


def grammar_compiler(tokenizer: PreTrainedTokenizerBase) -> GrammarCompiler:
    """The shared ``GrammarCompiler`` of a tokenizer (its byte trie is built once)."""
    try:
        compiler = _compilers.get(tokenizer)
        if compiler is None:
            compiler = _compilers[tokenizer] = GrammarCompiler(tokenizer)
        return compiler
    except TypeError:  # an unhashable or non-weakref-able tokenizer: no sharing
        return GrammarCompiler(tokenizer)


@dataclass(frozen=True)
class DecodingControls:
    banned_phrases: tuple[str, ...] = ()
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    no_repeat_ngram_size: int = 0
    grammar: Grammar | None = None


@dataclass
class Controller:
    target: SteeringTarget | None  # where vectors are built and applied; None: prompt only
    tokenizer: Any  # a Hugging Face tokenizer (grammar processors), or None
    model_id: str
    resolved: ResolvedStrengths
    controls: DecodingControls
    config: SteeringConfig
    capabilities: Capabilities
    enabled: bool = True
    layers: tuple[int, ...] = ()
    deltas: dict[int, torch.Tensor] = field(default_factory=dict)
    rescaled_layers: dict[int, float] = field(default_factory=dict)
    # layer -> attribute -> the strength it is steered at there (after every bound)
    steered: dict[int, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    card: Any = None  # kept so that set_overrides() can re-resolve
    layer_choice: tuple[int, ...] | None = None
    use_cache: bool = True
    # Where vectors are built when not from the model itself: a Hugging Face checkpoint of
    # the same model (same layers and width) whose vectors are applied to ``target``.
    vector_source: SteeringTarget | None = None

    @classmethod
    def for_card(
        cls,
        source: Any,
        card: Any = None,
        overrides: Mapping[str, float] | None = None,
        *,
        enabled: bool = True,
        banned_phrases: Sequence[str] = (),
        grammar: str | Grammar | None = None,
        frequency_penalty: float = 0.0,
        presence_penalty: float = 0.0,
        no_repeat_ngram_size: int = 0,
        layers: Sequence[int] | None = None,
        use_cache: bool = True,
        progress: ProgressCallback | None = None,
        vector_source: Any = None,
        combination: Combination | None = None,
        scope: Scope | None = None,
        max_combined_strength: float | None = None,
        decouple_traits: bool | None = None,
        attribute_bounds_on: BoundsOn | None = None,
        reply_half_life: float | None = None,
    ) -> Controller:
        """A controller for one chat with ``card`` (None: overrides only).

        ``combination`` overrides steering.yaml's way of making the attributes' vectors one
        (``roleplay.control.vectors.COMBINATIONS``; an evaluation's variant); ``scope``
        its choice of the tokens they act on (``all`` or ``reply``; another variant);
        ``max_combined_strength`` its bound on the norm of the attributes' sum at a layer
        (the calibration's and the evaluation's variant); ``decouple_traits`` its choice of
        steering the Big Five at the cross-talk-cancelling strengths (``decoupling.py``);
        ``attribute_bounds_on`` its choice of what the attributes' own fluency bounds clip
        (``requested`` or ``steered``; the bounds' benchmarks read both);
        ``reply_half_life`` (tokens, > 0) its decay of the vectors over a generated reply
        (llama.cpp's control vectors only; the decay benchmark's variant).

        ``vector_source`` (an engine or loaded Hugging Face model of the same model) builds
        the vectors instead of ``source``, which then only applies them.

        ``source`` is the engine (any backend), a loaded model or a ``(model, tokenizer,
        model_id)`` tuple. ``enabled=False`` gives a controller that does nothing (no hooks,
        no processors) but still validates its input and describes itself. Bad input
        (unknown attribute, non-numeric strength, bad grammar, bad processor setting) raises
        ``ControlError``.
        """
        target, tokenizer, model_id, capabilities = _unpack(source)
        config = load_config()
        if combination is not None:
            _require_one_of("steering combination", combination, COMBINATIONS)
            config = replace(config, combination=combination)
        if scope is not None:
            _require_one_of("steering scope", scope, SCOPES)
            config = replace(config, scope=scope)
        if max_combined_strength is not None:
            config = replace(
                config,
                max_combined_strength=_positive_number(
                    "max_combined_strength", max_combined_strength
                ),
            )
        if reply_half_life is not None:
            config = replace(
                config, reply_half_life=_positive_number("reply_half_life", reply_half_life)
            )
        if enabled and target is not None and target.method != "control_vectors":
            if config.scope == "reply":
                raise ControlError(REPLY_ONLY_NEEDS_CONTROL_VECTORS)
            if config.reply_half_life is not None:
                raise ControlError(DECAY_NEEDS_CONTROL_VECTORS)
        if decouple_traits is not None:
            config = replace(config, decouple_traits=bool(decouple_traits))
        if attribute_bounds_on is not None:
            _require_one_of("attribute_bounds_on", attribute_bounds_on, BOUNDS_ON)
            config = replace(config, attribute_bounds_on=attribute_bounds_on)
        notes: list[str] = []
        resolved = _resolve(card, overrides, config, model_id, notes)
        phrases = tuple(dict.fromkeys([*_card_banned_phrases(card), *banned_phrases]))
        chosen_grammar = load_grammar(grammar) if isinstance(grammar, str) else grammar
        controls = DecodingControls(
            phrases, frequency_penalty, presence_penalty, no_repeat_ngram_size, chosen_grammar
        )
        if chosen_grammar is not None and capabilities.grammar == "none":
            raise ControlError(
                f"the {capabilities.backend} backend cannot constrain output with a grammar"
            )
        if chosen_grammar is not None and capabilities.grammar == "processor" and not tokenizer:
            raise ControlError("grammar-constrained decoding needs the model's tokenizer")
        controller = cls(
            target,
            tokenizer,
            model_id,
            resolved,
            controls,
            config,
            capabilities,
            enabled,
            card=card,
            layer_choice=tuple(layers) if layers is not None else None,
            use_cache=use_cache,
            vector_source=_matching_source(vector_source, target),
            notes=notes,
        )
        try:  # validate the processor settings now, not at the first generation
            controller._build_processors()
        except ValueError as error:
            raise ControlError(str(error)) from None
        if enabled and resolved.strengths:
            controller._prepare_steering(layers, use_cache, progress)
        return controller

    def _prepare_steering(
        self,
        layers: Sequence[int] | None,
        use_cache: bool,
        progress: ProgressCallback | None,
    ) -> None:
        if self.target is None:
            self.notes.append(
                f"steering unavailable: the {self.capabilities.backend} backend exposes no "
                "hidden states; the strengths are given to the model as prompt guidance"
            )
            return
        from roleplay.control.building import build_steering_set

        steering_set, report = build_steering_set(
            self.vector_source or self.target,
            sorted(self.resolved.strengths),
            layers=layers,
            config=self.config,
            use_cache=use_cache,
            progress=progress,
        )
        own_bounds = self.resolved.bounds if self.config.attribute_bounds_on == "steered" else None
        combined = steering_set.combine(self.resolved.strengths, own_bounds)
        self.layers, self.deltas, self.rescaled_layers, self.steered = (
            report.layers,
            combined.deltas,
            combined.rescaled_layers,
            combined.steered,
        )
        if report.built:
            self.notes.append(f"built steering vectors: {', '.join(report.built)}")
        if combined.rescaled_layers:
            self.notes.append(
                "combined steering exceeded the fluency bound and was scaled down "
                f"(factors {', '.join(f'{f:.2f}' for f in combined.rescaled_layers.values())})"
            )
        if combined.limited:
            self.notes.append(
                "limited to their own fluency bound as steered: "
                + ", ".join(f"{n} ({self.resolved.bounds[n]:g})" for n in combined.limited)
            )

    def set_overrides(
        self, overrides: Mapping[str, float] | None, *, progress: ProgressCallback | None = None
    ) -> None:
        """Replace the per-chat overrides (e.g. a TUI slider); used from the next ``steering()``.

        Re-resolves against the card, loads or builds any newly needed vector, and leaves
        the controller unchanged if the overrides are invalid (``ControlError``).
        """
        notes: list[str] = []
        resolved = _resolve(self.card, overrides, self.config, self.model_id, notes)
        self.resolved = resolved
        self.layers, self.deltas, self.rescaled_layers, self.notes = (), {}, {}, notes
        self.steered = {}
        if self.enabled and resolved.strengths:
            self._prepare_steering(self.layer_choice, self.use_cache, progress)

    @property
    def strengths(self) -> dict[str, float]:
        """Attribute strengths in force (empty when disabled or steering is unavailable)."""
        return dict(self.resolved.strengths) if self.enabled and self.deltas else {}

    @property
    def method(self) -> str:
        """How the attributes reach the model: control_vectors, hooks, prompt or none."""
        if not (self.enabled and self.resolved.strengths):
            return "none"
        if self.deltas and self.target is not None:
            return self.target.method
        return "prompt"

    @contextmanager
    def steering(self) -> Iterator[Any]:
        """Apply the steering vectors to the model for the duration of the ``with`` block."""
        if not (self.enabled and self.deltas and self.target is not None):
            yield None
            return
        with self.target.steering(
            self.deltas,
            reply_only=self.config.scope == "reply",
            half_life=self.config.reply_half_life,
        ) as handle:
            yield handle

    def prompt_guidance(self) -> list[str]:
        """Steering as words, for backends that cannot take vectors (empty otherwise)."""
        if self.method != "prompt":
            return []
        from roleplay.control.prompt_steering import guidance_lines

        return guidance_lines(self.resolved.strengths, load_attributes())

    def grammar_text(self) -> str | None:
        """The grammar for backends that compile it themselves (GBNF), else None."""
        grammar = self.controls.grammar
        if not self.enabled or grammar is None or self.capabilities.grammar != "gbnf":
            return None
        return grammar.text

    def logits_processors(self) -> list[LogitsProcessor]:
        """Fresh processors for one generation (they remember where the reply starts)."""
        return self._build_processors() if self.enabled else []

    def _build_processors(self) -> list[LogitsProcessor]:
        from roleplay.control.processors import (
            BannedPhrasesLogitsProcessor,
            ReplyFrequencyPenaltyLogitsProcessor,
            ReplyNoRepeatNGramLogitsProcessor,
        )

        controls = self.controls
        processors: list[LogitsProcessor] = []
        if controls.banned_phrases:
            encoder = self.tokenizer
            if encoder is None and self.target is not None:
                encoder = _EncodeOnly(self.target)
            if encoder is None:
                raise ControlError(
                    f"banned phrases need token ids; the {self.capabilities.backend} "
                    "backend does not give them"
                )
            processors.append(BannedPhrasesLogitsProcessor(controls.banned_phrases, encoder))
        if controls.frequency_penalty or controls.presence_penalty:
            processors.append(
                ReplyFrequencyPenaltyLogitsProcessor(
                    controls.frequency_penalty, controls.presence_penalty
                )
            )
        if controls.no_repeat_ngram_size:
            processors.append(ReplyNoRepeatNGramLogitsProcessor(controls.no_repeat_ngram_size))
        if controls.grammar is not None and self.capabilities.grammar == "processor":
            # Last, so that nothing after it can re-enable a token the grammar forbids.
            processors.append(grammar_compiler(self.tokenizer).processor(controls.grammar))
        return processors

    def describe(self) -> dict[str, Any]:
        """What is in force, JSON-ready, for the session record and ``roleplay prompt``."""
        controls = self.controls
        return {
            "enabled": self.enabled,
            "model_id": self.model_id,
            "backend": self.capabilities.backend,
            "steering": {
                "method": self.method,
                "strengths": {n: round(v, 4) for n, v in sorted(self.strengths.items())},
                "requested": {n: v for n, v in sorted(self.resolved.requested.items())},
                "sources": {n: self.resolved.sources[n] for n in sorted(self.strengths)},
                "clipped_from": {n: v for n, v in sorted(self.resolved.clipped.items())},
                "decouple_traits": self.config.decouple_traits,
                # The Big Five strengths the cross-talk solve started from (empty: not solved).
                "decoupled_from": {n: v for n, v in sorted(self.resolved.decoupled_from.items())},
                "layers": list(self.layers),
                "unit_relative_norm": self.config.unit_relative_norm,
                "max_strength": self.config.max_strength,
                "max_combined_strength": self.config.max_combined_strength,
                "combination": self.config.combination,
                "scope": self.config.scope,
                "reply_half_life": self.config.reply_half_life,
                # Each attribute's own bound for the sign asked for (the attribute file's
                # max_strength), else the global max_strength: what the strength asked is
                # clipped to under attribute_bounds_on: requested, what the strength
                # steered is limited to under steered.
                "bounds": {n: v for n, v in sorted(self.resolved.bounds.items())},
                "rescaled_layers": {str(k): round(v, 4) for k, v in self.rescaled_layers.items()},
                "attribute_bounds_on": self.config.attribute_bounds_on,
                # What each attribute is steered at, per layer, after both bounds.
                "steered": {
                    str(layer): {n: round(v, 4) for n, v in sorted(at_layer.items())}
                    for layer, at_layer in sorted(self.steered.items())
                },
            },
            "decoding": {
                "banned_phrases": list(controls.banned_phrases),
                "frequency_penalty": controls.frequency_penalty,
                "presence_penalty": controls.presence_penalty,
                "no_repeat_ngram_size": controls.no_repeat_ngram_size,
                "grammar": controls.grammar.name if controls.grammar else None,
            },
            "notes": list(self.notes),
        }
