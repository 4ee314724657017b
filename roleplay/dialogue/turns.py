"""Turn-taking: who speaks next in a scene.

- ``round-robin``: the characters in the order given, over and over.
- ``next-speaker``: never the one who just spoke; among the others,
  1. a character the last line addressed by name (the earliest name mentioned wins), else
  2. a character left out for more than two rounds (silent for the last ``2 * (n - 1)``
     character lines, n characters), so that no one is starved, else
  3. the character whose name the model finds most likely to open the next line of the
     transcript (``log P("Name:" | transcript)``), when a model is available, else
  4. the character who has waited longest since they last spoke (never spoken = longest).
  Ties keep the order the characters were given in.

Pure functions over the transcript, so the policy is tested without a model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from roleplay.errors import RoleplayError
from roleplay.groups.speakers import titles  # words of a name that identify no one alone

# Scores candidates (names) for the next line; higher is more likely.
NextSpeakerScorer = Callable[[Sequence["Line"], Sequence[str]], dict[str, float]]


class Policy(StrEnum):
    ROUND_ROBIN = "round-robin"
    NEXT_SPEAKER = "next-speaker"


def parse_policy(value: str) -> Policy:
    try:
        return Policy(value.strip().lower())
    except ValueError:
        known = ", ".join(policy.value for policy in Policy)
        raise RoleplayError(f"unknown turn-taking policy {value!r}; choose from {known}") from None


@dataclass(frozen=True)
class Line:
    """One line of the transcript."""

    speaker: str
    text: str


def name_aliases(participants: Sequence[str]) -> dict[str, list[str]]:
    """Ways to address each participant: the full name and each word of it that is not a
    title and belongs to no other participant ("Captain Mira Voss" -> "Mira", "Voss")."""
    words = {name: [w for w in re.findall(r"[\w'-]+", name) if len(w) > 1] for name in participants}
    aliases: dict[str, list[str]] = {}
    for name in participants:
        others = {w.casefold() for other in participants if other != name for w in words[other]}
        ignored = others | titles()
        own = [w for w in words[name] if w.casefold() not in ignored]
        aliases[name] = list(dict.fromkeys([name, *own]))
    return aliases


def addressed(line: Line, participants: Sequence[str]) -> list[str]:
    """Participants the line mentions by name, earliest mention first (never its speaker)."""
    first_mention: dict[str, int] = {}
    for name, aliases in name_aliases(participants).items():
        if name == line.speaker:
            continue
        for alias in aliases:
            match = re.search(rf"(?<![\w]){re.escape(alias)}(?![\w])", line.text)
            if match is not None:
                first_mention[name] = min(first_mention.get(name, match.start()), match.start())
    return sorted(first_mention, key=lambda name: (first_mention[name], participants.index(name)))


def silent_lines(lines: Sequence[Line], participants: Sequence[str]) -> dict[str, int]:
    """Per participant, the participants' lines since they last spoke (or since the start)."""
    spoken = [line.speaker for line in lines if line.speaker in participants]
    silence = {}
    for name in participants:
        last = max((i for i, speaker in enumerate(spoken) if speaker == name), default=-1)
        silence[name] = len(spoken) - 1 - last
    return silence


def longest_waiting(lines: Sequence[Line], candidates: Sequence[str]) -> str:
    silence = silent_lines(lines, candidates)
    return max(candidates, key=lambda name: (silence[name], -candidates.index(name)))


def next_speaker(
    policy: Policy,
    participants: Sequence[str],
    lines: Sequence[Line],
    turn: int,
    *,
    scorer: NextSpeakerScorer | None = None,
) -> str:
    """The speaker of turn ``turn`` (0-based) after the transcript ``lines``.

    ``lines`` may start with lines by someone outside ``participants`` (the narrator).
    """
    if len(participants) < 2:
        raise RoleplayError("a scene needs at least two characters")
    if policy is Policy.ROUND_ROBIN:
        return participants[turn % len(participants)]
    last = lines[-1].speaker if lines else None
    candidates = [name for name in participants if name != last]
    if lines:
        for name in addressed(lines[-1], participants):
            if name in candidates:
                return name
    starved_after = 2 * (len(participants) - 1)
    silence = silent_lines(lines, participants)
    starved = [name for name in candidates if silence[name] >= starved_after]
    if starved:
        return longest_waiting(lines, starved)
    if scorer is not None and lines:
        scores = scorer(lines, candidates)
        return max(candidates, key=lambda name: (scores[name], -candidates.index(name)))
    return longest_waiting(lines, candidates)
