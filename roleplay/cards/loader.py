"""Load and check card files: every problem located as ``PATH:LINE:COL: message``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from roleplay.cards.diagnostics import locate, problems_from_validation, to_plain
from roleplay.cards.model import Card
from roleplay.cards.personality import mbti_contradictions
from roleplay.cards.yaml_reader import read_card_yaml
from roleplay.errors import FileProblemsError, Problem


@dataclass
class CardCheck:
    """The outcome of checking one file. ``card`` is set exactly when there are no errors."""

    card: Card | None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    # The ruamel round-trip tree (with line/column records), for tools that locate more
    # findings (roleplay.cards.lint); None when the file could not be parsed.
    tree: Any = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.errors


def check_card(path: Path | str) -> CardCheck:
    """Read, validate and lint a card file; never raises for a bad file."""
    path = Path(path)
    display = str(path)
    document = read_card_yaml(path)
    tree = document.tree
    if tree is None:
        return CardCheck(None, document.problems)
    if not isinstance(tree, CommentedMap):
        line, column = locate(tree, ())
        found = "a list" if isinstance(tree, CommentedSeq) else "a single value"
        message = (
            f"the top level must be a mapping of card fields (name: ..., description: ...), "
            f"not {found}"
        )
        return CardCheck(None, [Problem(display, line, column, message)])

    errors = list(document.problems)
    try:
        card = Card.model_validate(to_plain(tree))
    except ValidationError as error:
        errors.extend(problems_from_validation(display, tree, error))
        card = None
    if errors:
        ordered = sorted(errors, key=lambda problem: (problem.line, problem.column))
        return CardCheck(None, ordered, tree=tree)
    assert card is not None
    return CardCheck(card, [], _lint(display, tree, card), tree=tree)


def load_card(path: Path | str) -> Card:
    """The validated card at ``path``; raises ``FileProblemsError`` listing every error."""
    check = check_card(path)
    if check.card is None:
        raise FileProblemsError(check.errors)
    return check.card


def _lint(display: str, tree: CommentedMap, card: Card) -> list[Problem]:
    """Things that are valid but probably not what the author meant."""
    warnings = []
    mbti = card.personality.mbti
    if mbti is not None:
        line, column = locate(tree, ("personality", "mbti"))
        for note in mbti_contradictions(card.personality.big_five, mbti):
            warnings.append(Problem(display, line, column, f"personality.mbti: {note}"))
    return warnings
