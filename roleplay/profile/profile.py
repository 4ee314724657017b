"""What one character knows about one user: ``roleplay.pipeline.ProfilePort``.

``observe_user_message`` extracts statements from a committed user message and records
them (a contradiction supersedes the old fact); ``facts_for_turn`` gives the current facts
as short third-person sentences, most relevant to the message first. Deterministic: the
same store and message give the same facts in the same order.
"""

from __future__ import annotations

import re
from datetime import datetime

from roleplay.profile.extraction import extract_statements
from roleplay.profile.rules import ProfileRules, split_slot
from roleplay.profile.store import Fact, ProfileStore

DEFAULT_K = 6
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


class UserProfile:
    """The profile ``character`` keeps of ``user`` (both exactly as given: the card's
    display name and the session's user name)."""

    def __init__(self, store: ProfileStore, user: str, character: str, *, k: int = DEFAULT_K):
        self.store = store
        self.user = user
        self.character = character
        self.k = k

    @property
    def rules(self) -> ProfileRules:
        return self.store.rules

    def observe_user_message(self, text: str, *, session_id: str, message_id: int) -> None:
        """Learn from a message the user committed: record what it states, retire what it
        negates."""
        for statement in extract_statements(text, self.rules):
            if statement.polarity == "negated":
                self.store.retire(self.user, self.character, statement.slot, statement.value)
            elif statement.value is not None:
                self.store.record(
                    self.user,
                    self.character,
                    statement.slot,
                    statement.value,
                    statement=statement.text,
                    source="stated",
                    session_id=session_id,
                    message_id=message_id,
                )

    def current(self) -> list[Fact]:
        return self.store.current(self.user, self.character)

    def facts_for_turn(self, query: str) -> list[str]:
        """At most ``k`` current facts as sentences: those sharing words with ``query`` (the
        slot's keywords or the value's words), best first and then newest first; then the
        standing facts (name, diet, ...) that are not among them, up to ``standing_max``."""
        return [self.sentence(fact) for fact in self.select(query)]

    def select(self, query: str) -> list[Fact]:
        facts = self.current()
        wanted = self._tokens(query)
        scored = [(len(wanted & self._fact_tokens(fact)), fact) for fact in facts]
        relevant = [
            fact
            for score, fact in sorted(
                scored, key=lambda pair: (-pair[0], -pair[1].created_at, -pair[1].id)
            )
            if score > 0
        ]
        chosen = {fact.id for fact in relevant}
        standing = sorted(
            (fact for fact in facts if fact.id not in chosen and self._standing(fact) is not None),
            key=lambda fact: (self._standing(fact), -fact.created_at, -fact.id),
        )[: self.rules.standing_max]
        return [*relevant, *standing][: self.k]

    def sentence(self, fact: Fact) -> str:
        """``Lena lives in Oslo (since 2026-12-04)``."""
        base, key = split_slot(fact.slot)
        template = self.rules.slots[base].template
        text = template.format_map(
            {
                "user": self.user,
                "value": fact.value,
                "a_value": _with_article(fact.value),
                "key": key or "",
            }
        )
        since = datetime.fromtimestamp(fact.created_at).date().isoformat()
        return f"{text} (since {since})"

    def _standing(self, fact: Fact) -> int | None:
        return self.rules.slots[split_slot(fact.slot)[0]].standing

    def _fact_tokens(self, fact: Fact) -> set[str]:
        base, key = split_slot(fact.slot)
        words = [*self.rules.slots[base].keywords, key or "", fact.value]
        return self._tokens(" ".join(words))

    def _tokens(self, text: str) -> set[str]:
        tokens = set()
        for word in _TOKEN.findall(text.casefold()):
            if word in self.rules.stop_words:
                continue
            tokens.add(word)
            if len(word) > 3 and word.endswith("s"):  # "mornings" meets "morning"
                tokens.add(word[:-1])
        return tokens


def _with_article(value: str) -> str:
    first = value.split(maxsplit=1)[0].casefold() if value.strip() else ""
    if first in {"a", "an", "the"}:
        return value
    return f"{'an' if first[:1] in set('aeiou') else 'a'} {value}"
