"""Scene sampling: the chat's defaults with dialogue.yaml's values over them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ruamel.yaml import YAML

from roleplay.application import RuntimeOptions
from roleplay.dialogue.settings import DATA_PATH, load_dialogue_settings
from roleplay.engine.base import DEFAULT_GENERATION


def _copy_with_generation(tmp_path: Path, generation: dict[str, object]) -> Path:
    yaml = YAML()
    data = yaml.load(DATA_PATH.read_text(encoding="utf-8"))
    data["generation"] = generation
    path = tmp_path / "dialogue.yaml"
    with path.open("w", encoding="utf-8") as handle:
        yaml.dump(data, handle)
    return path


def test_the_bundled_file_repeats_no_chat_default() -> None:
    generation = YAML(typ="safe", pure=True).load(DATA_PATH.read_text("utf-8"))["generation"]
    for name, value in generation.items():
        assert value != getattr(DEFAULT_GENERATION, name), f"{name} repeats the chat default"
    settings = load_dialogue_settings().generation_settings()
    assert settings.max_new_tokens == generation["max_new_tokens"]
    assert settings.temperature == DEFAULT_GENERATION.temperature
    assert settings.top_p == DEFAULT_GENERATION.top_p
    assert settings.top_k == DEFAULT_GENERATION.top_k
    assert settings.repetition_penalty == DEFAULT_GENERATION.repetition_penalty


def test_values_in_the_file_are_honoured(tmp_path: Path) -> None:
    path = _copy_with_generation(tmp_path, {"max_new_tokens": 30, "temperature": 0.3})
    settings = load_dialogue_settings(path).generation_settings()
    assert settings == replace(DEFAULT_GENERATION, max_new_tokens=30, temperature=0.3)


def test_an_empty_generation_block_is_the_chat_default(tmp_path: Path) -> None:
    path = _copy_with_generation(tmp_path, {})
    assert load_dialogue_settings(path).generation_settings() == DEFAULT_GENERATION
    shorter = load_dialogue_settings(path).generation_settings(max_new_tokens=5)
    assert shorter == replace(DEFAULT_GENERATION, max_new_tokens=5)


def test_a_shorter_reply_caps_the_minimum() -> None:
    settings = load_dialogue_settings().generation_settings(max_new_tokens=2)
    assert (settings.max_new_tokens, settings.min_new_tokens) == (2, 2)


def test_the_runtime_options_default_to_the_chat_settings() -> None:
    options = RuntimeOptions()
    assert options.max_new_tokens == DEFAULT_GENERATION.max_new_tokens
    assert options.temperature == DEFAULT_GENERATION.temperature
