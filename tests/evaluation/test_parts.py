"""Optional parts: a missing package is named; a broken import is never shown as "unavailable"."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from roleplay.errors import RoleplayError
from roleplay.evaluation import parts
from roleplay.evaluation.plan import Condition, Method, require_available, unavailable_reason

CACHED = (parts.controller_missing, parts.memory_missing, parts.grammar_missing)


@pytest.fixture(autouse=True)
def fresh_availability() -> Iterator[None]:
    for function in CACHED:
        function.cache_clear()
    yield
    for function in CACHED:
        function.cache_clear()


def _forget(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make ``modules`` import again (from scratch) during this test only."""
    for name in modules:
        monkeypatch.delitem(sys.modules, name, raising=False)


def test_everything_is_available_in_the_full_install() -> None:
    assert parts.controller_missing() is None and parts.controller_available()
    assert parts.memory_missing() is None and parts.memory_available()
    assert parts.grammar_missing() is None and parts.grammar_available()
    assert unavailable_reason(Condition.CONTROLLER) is None


def test_a_stripped_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    stripped = "roleplay.control.controller"
    monkeypatch.setitem(sys.modules, stripped, None)  # as if not installed
    assert parts.missing_package(stripped) == stripped
    assert parts.controller_missing() == stripped
    assert not parts.controller_available()
    assert parts.controller_factory(object()) is None  # type: ignore[arg-type]
    reason = unavailable_reason(Condition.CONTROLLER)
    assert reason is not None and f"module {stripped!r} is not installed" in reason
    with pytest.raises(RoleplayError, match=r"module 'roleplay\.control\.controller' is not"):
        require_available([Method.GRAMMAR])


def test_a_missing_third_party_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    _forget(monkeypatch, "roleplay.memory.service")
    monkeypatch.setitem(sys.modules, "numpy", None)  # service.py imports numpy at the top
    assert parts.memory_missing() == "numpy"
    assert parts.memory_factory() is None
    reason = unavailable_reason(Condition.MEMORY)
    assert reason is not None and "module 'numpy' is not installed" in reason


def test_a_module_importing_an_absent_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "uses_absent.py").write_text("import absent_package_for_roleplay_tests\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _forget(monkeypatch, "uses_absent")
    assert parts.missing_package("json", "uses_absent") == "absent_package_for_roleplay_tests"
    assert parts.missing_package("json") is None


def _importing_fails_with(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    real = importlib.import_module

    def import_module(name: str, package: str | None = None) -> ModuleType:
        if name == "roleplay.control.controller":
            raise error
        return real(name, package)

    monkeypatch.setattr(parts.importlib, "import_module", import_module)


def test_a_broken_import_in_our_own_code_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = ImportError(
        "cannot import name 'gone' from 'roleplay.control.vectors'", name="roleplay.control.vectors"
    )
    _importing_fails_with(monkeypatch, broken)
    with pytest.raises(ImportError, match="cannot import name 'gone'"):
        parts.controller_available()


def test_a_module_not_found_error_naming_an_installed_module_is_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _importing_fails_with(monkeypatch, ModuleNotFoundError("odd", name="json"))
    with pytest.raises(ModuleNotFoundError, match="odd"):
        parts.controller_missing()
    _importing_fails_with(monkeypatch, ModuleNotFoundError("no name"))
    with pytest.raises(ModuleNotFoundError, match="no name"):
        parts.controller_missing()
