"""The package as users install it: a wheel, in a fresh environment, outside the checkout.

Building the wheel and installing it exercises what an editable install hides: package data
(bundled characters, data files, templates) must ship inside the wheel and be found through
``importlib.resources``, and the console script and plugin entry points must come from the
wheel's own metadata.

The fresh venv reuses this venv's third-party packages through a ``.pth`` line instead of
downloading 2 GB again (a test must not need the network); the project itself comes only
from the wheel, and the test checks that every dependency the wheel declares is satisfied by
what is importable, so a missing or too-narrow declaration still fails here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
from pathlib import Path

import pytest
from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]
NOT_SOURCE = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache")
NOT_SOURCE += (".roleplay-home", ".cache", "benchmarks", "docs", "tests")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_package_is_listed_for_the_wheel() -> None:
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    found = set(find_packages(where=str(ROOT), include=["roleplay*", "bias_audit*", "tui*"]))
    assert found - listed == set(), "packages missing from pyproject's list: not in the wheel"
    assert listed - found == {"roleplay.characters"}


def test_runtime_imports_are_declared() -> None:
    """PyYAML is a test/benchmark tool here: the package itself must not need it."""
    offenders = [
        path.relative_to(ROOT).as_posix()
        for folder in ("roleplay", "bias_audit", "tui")
        for path in (ROOT / folder).rglob("*.py")
        if any(
            line.strip().startswith(("import yaml", "from yaml"))
            for line in path.read_text(encoding="utf-8").splitlines()
        )
    ]
    assert offenders == []


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (outside the checkout) with only the built wheel installed into it."""
    work = tmp_path_factory.mktemp("wheel_install")
    # Built from a copy: setuptools reuses ./build, whose stale files (modules since moved or
    # deleted) would end up in the wheel, and the test must not leave a build/ in the checkout.
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    built = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"),
            *("--no-build-isolation", "--disable-pip-version-check"),
            *("--wheel-dir", str(work / "dist"), str(source)),
        ],
        capture_output=True,
        text=True,
        cwd=work,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (work / "dist").glob("roleplay-*.whl")

    env_dir = work / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    site_packages = next(env_dir.glob("lib/python*/site-packages"))
    # Third-party packages from this venv; a plain path line, so the editable install's own
    # .pth hook (which would import the checkout) is not run.
    (site_packages / "zz_shared_dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    installed = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python")),
            *("install", "--quiet", "--no-deps", "--no-index", "--disable-pip-version-check"),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        cwd=work,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    return env_dir


def _run(env_dir: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    home = env_dir.parent / "home"
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("ROLEPLAY_")
    }
    environment.update(ROLEPLAY_HOME=str(home), PYTHONNOUSERSITE="1")
    environment.pop("PYTHONPATH", None)
    return subprocess.run(
        [str(env_dir / "bin" / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        cwd=env_dir.parent,  # outside the checkout: nothing can be found relative to it
        env=environment,
        timeout=timeout,
    )


def _data_files() -> dict[str, Path]:
    """Every non-Python file of the packages, keyed by its path inside an install."""
    folders = {"roleplay": "roleplay", "bias_audit": "bias_audit", "tui": "tui"}
    folders["characters"] = "roleplay/characters"
    found: dict[str, Path] = {}
    for folder, installed_as in folders.items():
        for path in (ROOT / folder).rglob("*"):
            skipped = path.suffix in {".py", ".pyc"} or "__pycache__" in path.parts
            if path.is_file() and not skipped:
                inside = path.relative_to(ROOT / folder).as_posix()
                found[f"{installed_as}/{inside}"] = path
    return found


@pytest.mark.slow
def test_the_wheel_ships_every_data_file(installed_wheel: Path) -> None:
    site_packages = next(installed_wheel.glob("lib/python*/site-packages"))
    data_files = _data_files()
    assert "roleplay/prompting/templates/system.j2" in data_files
    missing = sorted(name for name in data_files if not (site_packages / name).is_file())
    assert missing == [], "data files left out of the wheel (pyproject package-data)"


@pytest.mark.slow
def test_the_wheel_is_what_runs(installed_wheel: Path) -> None:
    where = _run(installed_wheel, "python", "-c", "import roleplay; print(roleplay.__file__)")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(installed_wheel)
    assert not Path(where.stdout.strip()).is_relative_to(ROOT)


@pytest.mark.slow
def test_the_wheel_declares_every_dependency_it_needs(installed_wheel: Path) -> None:
    check = _run(
        installed_wheel,
        "python",
        "-c",
        "import importlib.metadata as m\n"
        "from packaging.requirements import Requirement\n"
        "bad = []\n"
        "for text in m.requires('roleplay') or []:\n"
        "    req = Requirement(text)\n"
        "    if req.marker and not req.marker.evaluate({'extra': 'server'}):\n"
        "        continue\n"
        "    try:\n"
        "        version = m.version(req.name)\n"
        "    except m.PackageNotFoundError:\n"
        "        bad.append(f'{req}: not installed'); continue\n"
        "    if not req.specifier.contains(version, prereleases=True):\n"
        "        bad.append(f'{req}: have {version}')\n"
        "print('\\n'.join(bad))\n",
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip() == ""


@pytest.mark.slow
def test_installed_wheel_lists_the_bundled_characters(installed_wheel: Path) -> None:
    listed = _run(installed_wheel, "roleplay", "characters")
    assert listed.returncode == 0, listed.stderr
    for slug in ("mira", "sable", "pip", "hana", "elias"):
        assert slug in listed.stdout


@pytest.mark.slow
def test_installed_wheel_chats_with_the_embedded_model(installed_wheel: Path) -> None:
    reply = _run(
        installed_wheel,
        "roleplay",
        "chat",
        "-c",
        "mira",
        "--once",
        "Hello, captain.",
        "--json",
        "--seed",
        "1",
        "--max-new-tokens",
        "24",
        # Building steering vectors takes a minute; their data files are checked below.
        "--no-steer",
    )
    assert reply.returncode == 0, reply.stderr[-2000:]
    answer = json.loads(reply.stdout)
    assert answer["reply"].strip()
    assert answer["backend"] == "llama.cpp"


@pytest.mark.slow
def test_installed_wheel_ships_the_steering_attributes(installed_wheel: Path) -> None:
    listed = _run(installed_wheel, "roleplay", "steer", "list")
    assert listed.returncode == 0, listed.stderr
    for attribute in ("extraversion", "agreeableness", "sentiment"):
        assert attribute in listed.stdout


@pytest.mark.slow
def test_installed_wheel_finds_its_plugin_commands(installed_wheel: Path) -> None:
    for command in ("tui", "audit", "serve"):
        shown = _run(installed_wheel, "roleplay", command, "--help")
        assert shown.returncode == 0, f"{command}: {shown.stderr[-1000:]}"
