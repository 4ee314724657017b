"""The composition root: which backend, memory, controller and store a face gets.

Every face (CLI commands, the TUI, the audit, the evaluation) describes what it wants with
``BackendOptions`` and ``RuntimeOptions`` and gets an engine or a whole ``ChatPipeline``
from here, so that no face imports another face and all of them load models the same way.

Backend choice (``--backend auto``):
  a ``--base-url``                      -> openai (any OpenAI-compatible server)
  no model, or a ``.gguf`` file         -> llama.cpp (in process; the default)
  a Hugging Face folder or hub id       -> transformers
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from roleplay.engine.base import DEFAULT_GENERATION, Engine
from roleplay.errors import RoleplayError
from roleplay.features import (
    FeatureOptions,
    ToxicityFlag,
    control_factory,
    memory_factory,
    profile_factory,
)
from roleplay.paths import configure_library_caches, sessions_db_path
from roleplay.pipeline import ChatPipeline
from roleplay.prompting.builder import PromptLayout
from roleplay.sessions import SessionStore

BACKENDS = ("auto", "llama.cpp", "transformers", "openai")
StatusCallback = Callable[[str], None]


@dataclass
class BackendOptions:
    backend: str = "auto"
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    threads: int | None = None
    context_window: int | None = None


@dataclass
class RuntimeOptions:
    backend: BackendOptions = field(default_factory=BackendOptions)
    max_new_tokens: int = DEFAULT_GENERATION.max_new_tokens
    temperature: float = DEFAULT_GENERATION.temperature
    seed: int | None = None
    features: FeatureOptions = field(default_factory=FeatureOptions)
    prompt_layout: PromptLayout = "system"  # where memories and lore go (prompting.builder)
    # Imported lorebooks (``roleplay lorebook``) attached to every card, after the card's own.
    lorebooks: tuple[str, ...] = ()


def llama_cpp_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None


def resolve_backend(options: BackendOptions) -> str:
    """The backend ``options`` ask for, ``auto`` resolved; bad combinations are refused."""
    choice = (options.backend or "auto").strip().lower()
    if choice not in BACKENDS:
        raise RoleplayError(f"--backend {choice!r}: use one of {', '.join(BACKENDS)}")
    if choice == "openai" and not options.base_url:
        raise RoleplayError("--backend openai needs --base-url (e.g. http://127.0.0.1:8080/v1)")
    if options.base_url and choice not in ("auto", "openai"):
        raise RoleplayError(f"--base-url is for the openai backend, not {choice}")
    if choice != "auto":
        return choice
    if options.base_url:
        return "openai"
    model = options.model
    if model is None or Path(model).expanduser().suffix.lower() == ".gguf":
        return "llama.cpp" if llama_cpp_installed() else "transformers"
    return "transformers"


def load_engine(options: BackendOptions, *, status: StatusCallback | None = None) -> Any:
    """Load the engine ``options`` describe (the embedded default model when none is given)."""
    configure_library_caches()
    say = status or (lambda _: None)
    backend = resolve_backend(options)
    if backend == "openai":
        from roleplay.engine.openai_engine import OpenAIEngine

        assert options.base_url is not None
        return OpenAIEngine.connect(
            options.base_url,
            api_key=options.api_key,
            model=options.model,
            context_window=options.context_window,
            status=say,
        )
    if backend == "llama.cpp":
        from roleplay.engine.llama_cpp_engine import LlamaCppEngine

        model = options.model
        if model is not None and not Path(model).expanduser().suffix.lower() == ".gguf":
            raise RoleplayError(f"{model}: the llama.cpp backend runs .gguf files")
        return LlamaCppEngine.load(
            model, status=say, context_window=options.context_window, threads=options.threads
        )
    if options.model is None and options.backend == "auto":
        say("llama-cpp-python is not installed; using the transformers backend (slower).")
    from roleplay.engine.transformers_engine import TransformersEngine

    return TransformersEngine.load(
        options.model,
        status=say,
        context_window=options.context_window,
        torch_threads=options.threads,
    )


def model_identity(options: BackendOptions) -> str | None:
    """The id the engine for ``options`` will report, without loading it (None: unknown yet).

    Lets a face check saved work against the model before the slow part.
    """
    backend = resolve_backend(options)
    if backend == "llama.cpp":
        from roleplay.engine.llama_cpp_engine import gguf_model_id

        try:
            return gguf_model_id(options.model)
        except (OSError, RoleplayError):
            return None  # the load reports the problem in full
    if backend == "openai":
        return options.model
    if options.model is not None and not options.model.lower().endswith(".gguf"):
        from roleplay.engine.loading import resolve_model_source

        return resolve_model_source(options.model, lambda _: None)[1]
    return None


def open_store() -> SessionStore:
    configure_library_caches()
    return SessionStore(sessions_db_path())


def build_pipeline(
    options: RuntimeOptions,
    *,
    status: StatusCallback | None = None,
    engine: Engine | None = None,
    store: SessionStore | None = None,
    background_parts: bool = False,
) -> ChatPipeline:
    """Engine (loaded unless given), session store, memory, controller and safety, wired.

    ``background_parts``: see ``ChatPipeline`` (interactive faces show their prompt while
    memory and steering load).
    """
    from roleplay.lorebooks.attach import card_lorebooks, load_lorebooks
    from roleplay.prompting.lorebook import make_lore_factory

    loaded_engine = engine if engine is not None else load_engine(options.backend, status=status)
    settings = replace(
        DEFAULT_GENERATION,
        max_new_tokens=options.max_new_tokens,
        temperature=options.temperature,
        seed=options.seed,
    )
    return ChatPipeline(
        loaded_engine,
        store if store is not None else open_store(),
        settings=settings,
        # Lore budgets are counted with the model's own tokenizer.
        lore_factory=make_lore_factory(
            loaded_engine.count_tokens,
            attached=load_lorebooks(options.lorebooks),
            card_books=card_lorebooks,
        ),
        memory_factory=memory_factory(options.features),
        profile_factory=profile_factory(options.features),
        control_factory=control_factory(loaded_engine, options.features, status=status),
        safety=ToxicityFlag() if options.features.toxicity else None,
        background_parts=background_parts,
        prompt_layout=options.prompt_layout,
    )


def describe_engine(engine: Any) -> dict[str, Any]:
    """Backend and model of an engine, for ``--json`` output and reports."""
    from roleplay.engine.base import capabilities_of

    return {"backend": capabilities_of(engine).backend, "model": engine.model_id}
