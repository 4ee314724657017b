"""One typed settings object for every environment variable the platform reads.

Sources, strongest first: the environment (``ROLEPLAY_*``, plus ``OPENAI_API_KEY``), the
optional config file ``<home>/config.toml``, then the defaults below. docs/configuration.md
holds the table; ``roleplay config`` prints the effective values and where each came from.

``load_settings()`` gathers the two sources itself (pydantic-settings' environment and TOML
sources) instead of letting ``Settings()`` do it, so it knows where every value came from
and can name the variable or file in a one-line error. Nothing is cached: tests and the
benchmarks change the environment while the process runs, and a build costs about 1 ms.

``ROLEPLAY_API_KEY`` and ``OPENAI_API_KEY`` are two fields, not one with a fallback:
``roleplay serve`` must tell the key its clients send from the one it sends upstream. The
openai backend tries them in that order (``openai_engine.resolve_api_key``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from roleplay.errors import RoleplayError

APP_NAME = "roleplay"
ENV_PREFIX = "ROLEPLAY_"
CONFIG_FILE_NAME = "config.toml"
MASK = "**********"

EncoderPrecision = Literal["auto", "int8", "bfloat16", "float32"]
ENCODER_PRECISIONS: tuple[str, ...] = get_args(EncoderPrecision)
WeightRepacking = Literal["auto", "on", "off"]


def default_home() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


class Settings(BaseSettings):
    """Every setting, typed, with its default. Build it with ``get_settings()``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_ignore_empty=True,
        extra="forbid",  # a misspelt key in config.toml is an error, not silently ignored
        str_strip_whitespace=True,
    )

    home: Path = Field(
        default_factory=default_home,
        description="Data folder: sessions, memories, user cards, caches and config.toml "
        "(default: the platform's user data dir). Environment only.",
    )
    models_dir: Path | None = Field(
        None, description="Converted and quantized model caches (default: <home>/models)."
    )
    allow_downloads: bool = Field(
        False,
        description="Allow Hugging Face hub and detoxify downloads (default: offline).",
    )
    torch_threads: int | None = Field(
        None,
        ge=1,
        description="Threads torch decodes with (default: the cores free at start-up).",
    )
    api_key: SecretStr | None = Field(
        None,
        description="Key clients must send to `roleplay serve`; the openai backend sends it "
        "too, before OPENAI_API_KEY.",
    )
    openai_api_key: SecretStr | None = Field(
        None,
        # The conventional variable of OpenAI clients, so no ROLEPLAY_ prefix.
        validation_alias="OPENAI_API_KEY",
        description="Key for an OpenAI-compatible server (the openai backend, and the "
        "upstream of `roleplay serve`).",
    )
    ignore_memory_check: bool = Field(
        False, description="Load a GGUF model even when it looks too big for free memory."
    )
    detoxify_checkpoint: Path | None = Field(
        None,
        description="Local detoxify checkpoint for toxicity scores (default: the "
        "alt-profanity-check fallback, or a download when allowed).",
    )
    detoxify_config: Path | None = Field(
        None,
        description="Folder with that checkpoint's Hugging Face config and tokenizer.",
    )
    encoder_precision: EncoderPrecision = Field(
        "auto",
        description="Memory encoder precision: auto (fastest this CPU runs), int8, bfloat16 "
        "or float32.",
    )

    llama_cpp_repack: WeightRepacking = Field(
        "auto",
        description="llama.cpp weight repacking: auto (off where the build uses AMX, "
        "which crashes on some CPUs), on or off.",
    )

    @field_validator("encoder_precision", "llama_cpp_repack", mode="before")
    @classmethod
    def _lower_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("home", "models_dir", "detoxify_checkpoint", "detoxify_config")
    @classmethod
    def _expand_user(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @property
    def models_path(self) -> Path:
        """``models_dir``, or its default under ``home``."""
        return self.models_dir if self.models_dir is not None else self.home / "models"

    @property
    def config_file(self) -> Path:
        return self.home / CONFIG_FILE_NAME

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings() reads the environment and the file and hands the values over:
        # it must know each value's source, and tests may pass their own environment.
        return (init_settings,)


def reveal(secret: SecretStr | None) -> str | None:
    """A secret's text, or None when it is unset or empty."""
    return (secret.get_secret_value() or None) if secret is not None else None


def env_variable(name: str) -> str:
    """The environment variable that sets the field ``name``."""
    alias = Settings.model_fields[name].validation_alias
    return alias if isinstance(alias, str) else ENV_PREFIX + name.upper()


class _EnvironmentSource(EnvSettingsSource):
    """pydantic-settings' environment source, reading a given mapping."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(Settings)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # Blank values count as unset (they always did here); names match in any case.
        return {name.lower(): value for name, value in self._environ.items() if value.strip()}


class _ConfigFileSource(TomlConfigSettingsSource):
    """pydantic-settings' TOML source, with one-line errors and keys named as the fields."""

    def __init__(self, path: Path) -> None:
        super().__init__(Settings, toml_file=path)

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        try:
            data = super()._read_file(file_path)
        except tomllib.TOMLDecodeError as error:
            raise RoleplayError(f"config file {file_path}: invalid TOML: {error}") from None
        except OSError as error:
            raise RoleplayError(f"config file {file_path}: {error.strerror}") from None
        if "home" in data:
            raise RoleplayError(
                f"config file {file_path}: 'home' cannot be set here (it decides where this "
                f"file is); set {env_variable('home')} instead"
            )
        return {
            _input_key(key): _relative_to(Path(file_path).parent, key, value)
            for key, value in data.items()
        }


def _input_key(key: str) -> str:
    """The key Settings validates: a field's alias where it has one (``OPENAI_API_KEY``)."""
    field = Settings.model_fields.get(key)
    alias = field.validation_alias if field is not None else None
    return alias if isinstance(alias, str) else key


def _relative_to(folder: Path, key: str, value: Any) -> Any:
    """A relative path in the config file is relative to the file, not to the cwd."""
    field = Settings.model_fields.get(key)
    if (
        field is None
        or not isinstance(value, str)
        or Path not in (field.annotation, *get_args(field.annotation))
    ):
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else folder / path)


@dataclass(frozen=True)
class LoadedSettings:
    """The settings and, for every field, where its value came from."""

    settings: Settings
    sources: Mapping[str, str]  # field -> "environment VAR" | "config file PATH" | "default"


def load_settings(environ: Mapping[str, str] | None = None) -> LoadedSettings:
    """Environment over ``<home>/config.toml`` over defaults; ``RoleplayError`` if invalid."""
    from_environment = _EnvironmentSource(os.environ if environ is None else environ)()
    configured_home = from_environment.get("home")
    home = Path(configured_home.strip()).expanduser() if configured_home else default_home()
    config_file = home / CONFIG_FILE_NAME
    from_file = _ConfigFileSource(config_file)()
    try:
        settings = Settings(**{**from_file, **from_environment})
    except ValidationError as error:
        raise RoleplayError(_one_line(error, from_environment, from_file, config_file)) from None
    sources = {}
    for name in Settings.model_fields:
        key = _input_key(name)
        if key in from_environment:
            sources[name] = f"environment {env_variable(name)}"
        elif key in from_file:
            sources[name] = f"config file {config_file}"
        else:
            sources[name] = "default"
    return LoadedSettings(settings, sources)


def get_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The effective settings, built afresh (``environ`` replaces os.environ in tests)."""
    return load_settings(environ).settings


def _one_line(
    error: ValidationError,
    from_environment: Mapping[str, Any],
    from_file: Mapping[str, Any],
    config_file: Path,
) -> str:
    """Every problem on one line, each naming the variable or file it came from."""
    names = {_input_key(name): name for name in Settings.model_fields}
    problems = []
    for detail in error.errors():
        key = str(detail["loc"][0]) if detail["loc"] else ""
        message = detail["msg"][:1].lower() + detail["msg"][1:]
        name = names.get(key)
        if name is None:  # only the file can hold keys that are no field (extra="forbid")
            problems.append(f"config file {config_file}: unknown setting {key!r}")
            continue
        # The value as the user wrote it (validators may have changed it), never a secret.
        raw = from_environment[key] if key in from_environment else from_file.get(key)
        shown = "<hidden>" if _is_secret(name) else repr(raw)
        if key in from_environment:
            problems.append(f"{env_variable(name)}={shown}: {message}")
        else:
            problems.append(f"config file {config_file}: {name} = {shown}: {message}")
    return "; ".join(problems)


def _is_secret(name: str) -> bool:
    return SecretStr in get_args(Settings.model_fields[name].annotation)


@dataclass(frozen=True)
class SettingReport:
    """One row of ``roleplay config``: JSON-ready value, secrets masked."""

    name: str
    variable: str
    value: str | int | bool | None
    source: str
    description: str

    def as_dict(self) -> dict[str, str | int | bool | None]:
        return {
            "variable": self.variable,
            "value": self.value,
            "source": self.source,
            "description": self.description,
        }


def describe_settings(loaded: LoadedSettings) -> list[SettingReport]:
    """Every setting's effective value and source, in declaration order."""
    settings = loaded.settings
    rows = []
    for name, field in Settings.model_fields.items():
        value: Any = settings.models_path if name == "models_dir" else getattr(settings, name)
        if isinstance(value, SecretStr):
            value = MASK
        elif isinstance(value, Path):
            value = str(value)
        rows.append(
            SettingReport(
                name, env_variable(name), value, loaded.sources[name], field.description or ""
            )
        )
    return rows
