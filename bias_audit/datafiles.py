"""Reading the audit's bundled data files (prompt sets, personas, lexicons, labelled sets)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from roleplay.errors import RoleplayError


def data_path(*parts: str) -> Path:
    """A bundled data file (inside the installed package)."""
    return Path(str(resources.files("bias_audit").joinpath("data", *parts)))


def read_yaml_file(path: Path) -> Any:
    try:
        return YAML(typ="safe").load(path.read_text("utf-8"))
    except YAMLError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else "invalid YAML"
        raise RoleplayError(f"{path}: not valid YAML ({first})") from error
    except (OSError, UnicodeDecodeError) as error:
        raise RoleplayError(f"{path}: cannot read ({error})") from error


@cache
def bundled_yaml(*parts: str) -> Any:
    return read_yaml_file(data_path(*parts))


def bundled_jsonl(*parts: str) -> list[dict[str, Any]]:
    lines = data_path(*parts).read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
