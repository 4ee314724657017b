"""The settings object: defaults, environment over config.toml, sources, one-line errors,
and `roleplay config`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import platformdirs
import pytest
from typer.testing import CliRunner

from roleplay import paths
from roleplay.cli.main import app
from roleplay.engine.openai_engine import PLACEHOLDER_API_KEY, resolve_api_key
from roleplay.engine.threads import choose_threads
from roleplay.errors import USAGE_EXIT_CODE, RoleplayError
from roleplay.settings import (
    MASK,
    Settings,
    describe_settings,
    env_variable,
    get_settings,
    load_settings,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS = REPO_ROOT / "docs" / "configuration.md"


def _write_config(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    config = home / "config.toml"
    config.write_text(text, encoding="utf-8")
    return config


def test_defaults(tmp_path: Path) -> None:
    settings = get_settings({"ROLEPLAY_HOME": str(tmp_path)})
    assert settings.home == tmp_path
    assert settings.models_dir is None and settings.models_path == tmp_path / "models"
    assert settings.allow_downloads is False and settings.ignore_memory_check is False
    assert settings.torch_threads is None
    assert settings.api_key is None and settings.openai_api_key is None
    assert settings.detoxify_checkpoint is None and settings.detoxify_config is None
    assert settings.encoder_precision == "auto"
    assert get_settings({}).home == Path(platformdirs.user_data_dir("roleplay"))


def test_environment_sets_every_kind_of_value(
    monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    monkeypatch.setenv("ROLEPLAY_ALLOW_DOWNLOADS", "true")
    monkeypatch.setenv("ROLEPLAY_IGNORE_MEMORY_CHECK", "1")
    monkeypatch.setenv("ROLEPLAY_TORCH_THREADS", " 3 ")
    monkeypatch.setenv("ROLEPLAY_ENCODER_PRECISION", "Float32")
    monkeypatch.setenv("ROLEPLAY_MODELS_DIR", "~/models-here")
    monkeypatch.setenv("ROLEPLAY_DETOXIFY_CHECKPOINT", "   ")  # blank: not set
    settings = get_settings()
    assert settings.home == isolated_home
    assert settings.allow_downloads and settings.ignore_memory_check
    assert settings.torch_threads == 3
    assert settings.encoder_precision == "float32"
    assert settings.models_path == Path("~/models-here").expanduser()
    assert settings.detoxify_checkpoint is None
    # The modules that used to read os.environ themselves now read these.
    assert paths.models_dir() == settings.models_path
    assert paths.roleplay_home() == isolated_home
    assert choose_threads() == 3


def test_config_file_is_read_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    config = _write_config(
        isolated_home,
        'torch_threads = 2\nallow_downloads = true\ndetoxify_checkpoint = "weights/t.ckpt"\n'
        'openai_api_key = "sk-file"\nencoder_precision = "INT8"\n',
    )
    monkeypatch.delenv("ROLEPLAY_MODELS_DIR")
    loaded = load_settings()
    assert loaded.settings.torch_threads == 2 and loaded.settings.allow_downloads
    # A relative path in the file is relative to the file, whatever the current directory.
    assert loaded.settings.detoxify_checkpoint == isolated_home / "weights" / "t.ckpt"
    assert loaded.settings.encoder_precision == "int8"
    assert resolve_api_key(None) == "sk-file"
    assert loaded.sources["torch_threads"] == f"config file {config}"
    assert loaded.sources["openai_api_key"] == f"config file {config}"
    assert loaded.sources["home"] == "environment ROLEPLAY_HOME"
    assert loaded.sources["models_dir"] == "default"

    monkeypatch.setenv("ROLEPLAY_TORCH_THREADS", "5")
    loaded = load_settings()
    assert loaded.settings.torch_threads == 5
    assert loaded.sources["torch_threads"] == "environment ROLEPLAY_TORCH_THREADS"
    assert loaded.settings.allow_downloads  # the other file values stay


def test_api_key_precedence_and_masking(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROLEPLAY_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert resolve_api_key(None) == PLACEHOLDER_API_KEY
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    assert resolve_api_key(None) == "sk-openai"
    monkeypatch.setenv("ROLEPLAY_API_KEY", "sk-roleplay")
    assert resolve_api_key(None) == "sk-roleplay"
    assert resolve_api_key("explicit") == "explicit"

    loaded = load_settings()
    assert loaded.sources["api_key"] == "environment ROLEPLAY_API_KEY"
    assert loaded.sources["openai_api_key"] == "environment OPENAI_API_KEY"
    rows = {row.name: row for row in describe_settings(loaded)}
    assert rows["api_key"].value == MASK and rows["openai_api_key"].value == MASK
    shown = repr(loaded.settings) + json.dumps([row.as_dict() for row in rows.values()])
    assert "sk-roleplay" not in shown and "sk-openai" not in shown


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ROLEPLAY_TORCH_THREADS", "abc"),
        ("ROLEPLAY_TORCH_THREADS", "0"),
        ("ROLEPLAY_ENCODER_PRECISION", "float64"),
        ("ROLEPLAY_ALLOW_DOWNLOADS", "maybe"),
    ],
)
def test_invalid_environment_value_is_one_line(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(RoleplayError) as raised:
        get_settings()
    assert raised.value.message.startswith(f"{variable}={value!r}: ")
    assert "\n" not in raised.value.message
    assert raised.value.exit_code == USAGE_EXIT_CODE


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("torch_threads 4\n", "invalid TOML: Expected '='"),
        ("torch_thread = 4\n", "unknown setting 'torch_thread'"),
        ('torch_threads = "many"\n', "torch_threads = 'many': input should be a valid integer"),
        ('home = "/elsewhere"\n', "'home' cannot be set here"),
        ("api_key = 12345\n", "api_key = <hidden>: "),  # never echo a secret
    ],
)
def test_invalid_config_file_is_one_line_naming_the_file(
    isolated_home: Path, text: str, message: str
) -> None:
    config = _write_config(isolated_home, text)
    with pytest.raises(RoleplayError) as raised:
        get_settings()
    assert raised.value.message.startswith(f"config file {config}: ")
    assert message in raised.value.message
    assert "\n" not in raised.value.message and "12345" not in raised.value.message


def test_environment_mapping_replaces_os_environ(tmp_path: Path) -> None:
    """Callers such as the toxicity loader take an ``environ`` for tests."""
    _write_config(tmp_path, "ignore_memory_check = true\n")
    settings = get_settings({"ROLEPLAY_HOME": str(tmp_path)})
    assert settings.ignore_memory_check
    assert not get_settings({"ROLEPLAY_HOME": str(tmp_path / "other")}).ignore_memory_check


def test_config_command_json(monkeypatch: pytest.MonkeyPatch, isolated_home: Path) -> None:
    config = _write_config(isolated_home, "torch_threads = 2\n")
    monkeypatch.setenv("ROLEPLAY_API_KEY", "sk-do-not-print")
    result = CliRunner().invoke(app, ["config", "--json"])
    assert result.exit_code == 0, result.output
    assert "sk-do-not-print" not in result.output
    document = json.loads(result.output)
    assert document["config_file"] == str(config) and document["config_file_exists"]
    settings = document["settings"]
    assert set(settings) == set(Settings.model_fields)
    assert settings["torch_threads"] == {
        "variable": "ROLEPLAY_TORCH_THREADS",
        "value": 2,
        "source": f"config file {config}",
        "description": Settings.model_fields["torch_threads"].description,
    }
    assert settings["home"]["value"] == str(isolated_home)
    assert settings["api_key"]["value"] == MASK
    assert settings["encoder_precision"]["source"] == "default"

    table = CliRunner().invoke(app, ["config"], env={"COLUMNS": "100"})
    assert table.exit_code == 0, table.output
    assert "ROLEPLAY_TORCH_THREADS" in table.output and "sk-do-not-print" not in table.output


def test_config_command_with_a_bad_value_exits_2_without_traceback(isolated_home: Path) -> None:
    environment = {**os.environ, "ROLEPLAY_HOME": str(isolated_home)}
    environment["ROLEPLAY_TORCH_THREADS"] = "abc"
    result = subprocess.run(
        [sys.executable, "-m", "roleplay", "config", "--json"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )
    assert result.returncode == USAGE_EXIT_CODE
    assert result.stdout == ""
    assert result.stderr.startswith("error: ROLEPLAY_TORCH_THREADS='abc': ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_the_docs_table_names_every_setting_and_its_example_is_valid(tmp_path: Path) -> None:
    text = DOCS.read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)` \|", text, flags=re.MULTILINE)
    assert rows == [(name, env_variable(name)) for name in Settings.model_fields]
    example = re.search(r"```toml\n(.*?)```", text, flags=re.DOTALL)
    assert example is not None
    _write_config(tmp_path, example.group(1))
    settings = get_settings({"ROLEPLAY_HOME": str(tmp_path)})
    assert settings.torch_threads == tomllib.loads(example.group(1))["torch_threads"]
