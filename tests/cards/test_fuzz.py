"""Whatever bytes a card file holds, checking it never raises."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roleplay.cards.loader import check_card
from tests.cards.conftest import VALID_CARD

# Single characters plus the multi-character constructs that have tripped YAML loaders:
# explicit tags, complex keys, merge keys, impossible dates, directives.
TOKENS = [
    *"ab01.:- \n\t[]{}&*!|>'\"#%@`,?~<=\\",
    "é",
    "\x00",
    "\x85",
    "!!int ",
    "!!map ",
    "!!set ",
    "? ",
    "<<: ",
    "2024-02-30",
    ".nan",
    "0x",
    "null",
    "true",
    "\n  - ",
    "%YAML 1.1\n",
    "{{user}}",
]
YAMLISH = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def check_never_raises(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    check = check_card(path)
    assert (check.card is None) == bool(check.errors)
    for problem in check.errors + check.warnings:
        assert problem.line >= 1 and problem.column >= 1
        assert "\n" not in problem.message


@SETTINGS
@given(content=st.binary(max_size=200))
def test_random_bytes(tmp_path: Path, content: bytes) -> None:
    check_never_raises(tmp_path / "fuzz.yaml", content)


@SETTINGS
@given(content=YAMLISH)
def test_random_yaml_like_text(tmp_path: Path, content: str) -> None:
    check_never_raises(tmp_path / "fuzz.yaml", content.encode("utf-8"))


@SETTINGS
@given(position=st.integers(min_value=0, max_value=len(VALID_CARD)), insert=YAMLISH)
def test_corrupted_valid_card(tmp_path: Path, position: int, insert: str) -> None:
    text = VALID_CARD[:position] + insert + VALID_CARD[position:]
    check_never_raises(tmp_path / "fuzz.yaml", text.encode("utf-8"))


@settings(SETTINGS, max_examples=100)
@given(value=YAMLISH.filter(lambda text: "\n" not in text))
def test_any_value_for_each_field(tmp_path: Path, value: str) -> None:
    for field in ("name:", "openness:", "mbti:", "extensions:", "memories:"):
        if field == "mbti:":
            text = VALID_CARD.replace("  big_five:", f"  mbti: {value}\n  big_five:")
        elif field in {"extensions:", "memories:"}:
            text = VALID_CARD + f"{field} {value}\n"
        else:
            text = VALID_CARD.replace(f"{field} ", f"{field} {value} #", 1)
        check_never_raises(tmp_path / "fuzz.yaml", text.encode("utf-8"))
