"""World info: which lorebook entries fire for this turn, and why.

Each turn the pipeline hands the scanner the conversation (the new user message last). The
scanner looks for every enabled entry's keys in the last ``scan_depth`` messages (the book's,
or the entry's own), applies SillyTavern's selective logic to the secondary keys, optionally
scans the content of the entries that fired for more keys (recursion, off by default), then
keeps what fits the token budget. The result is a list of ``LoreSnippet``s, in insertion
order, each with its placement (position, depth, role) and a human-readable reason
(``key 'Kestrel' in message -1``) that ``roleplay prompt`` prints.

SillyTavern's per-entry settings are followed as SillyTavern's ``checkWorldInfo`` does, each
round (the chat, then each recursion round): entries that fired are first narrowed to one
per inclusion group (``group_override`` -> the highest ``insertion_order``, else a draw
weighted by ``group_weight``), then those with a ``probability`` below 100 are rolled for.
Draws and rolls come from a generator seeded with a hash of the scanned messages, so the
same conversation always gives the same lore (``roleplay prompt`` is reproducible). In
recursion rounds ``exclude_recursion`` entries are held back, ``delay_until_recursion``
entries take part (level by level), and ``prevent_recursion`` entries' content is not
scanned. What is left out, and why, goes to ``notes``.

Keys are data from a card: plain keys are matched as text (``re.escape``), regex keys with a
timeout and a time budget per scan, over text bounded in length, so no card can stall a turn.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from roleplay.cards.lore_keys import parse_key
from roleplay.cards.model import Card, Lorebook, LoreEntry
from roleplay.engine.base import ChatMessage
from roleplay.prompting.builder import DEFAULT_LORE_DEPTH, LoreSnippet

# SillyTavern's default: the new message and the one before it.
DEFAULT_SCAN_DEPTH = 2
# A quarter of the default 2048-token context, as SillyTavern's default budget (25%).
DEFAULT_TOKEN_BUDGET = 512
# With recursive_scanning on: how many rounds of "entries that fired trigger more entries".
MAX_RECURSION_DEPTH = 3
# Only the newest characters of each scanned text are searched: bounds every search.
MAX_SCAN_CHARS = 20_000
# A single regex search may take this long; all regex searches of one scan together this.
REGEX_TIMEOUT_S = 0.05
SCAN_REGEX_BUDGET_S = 0.25
# SillyTavern's weight of an entry in its inclusion group's draw when it sets none.
DEFAULT_GROUP_WEIGHT = 100
# words * 1.3: the cheap estimate used when no tokenizer is given (English averages about
# 1.3 tokens per word with BPE vocabularies).
TOKENS_PER_WORD = 1.3

TokenCounter = Callable[[str], int]


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text.split()) * TOKENS_PER_WORD)


@dataclass(frozen=True)
class _Text:
    """One searchable text: a chat message (``message -1`` is the newest) or fired lore.

    ``age`` is a message's place counting back from the newest (1), None for lore."""

    where: str
    text: str
    age: int | None = None


@dataclass(frozen=True)
class _Found:
    key: str
    where: str


@dataclass(frozen=True)
class _Fired:
    index: int
    entry: LoreEntry
    reason: str


class LorebookScanner:
    """Implements the pipeline's ``LorePort`` for one card's lorebook."""

    def __init__(self, book: Lorebook, *, count_tokens: TokenCounter = estimate_tokens) -> None:
        self.book = book
        self.count_tokens = count_tokens
        self.scan_depth = book.scan_depth or DEFAULT_SCAN_DEPTH
        self.token_budget = book.token_budget or DEFAULT_TOKEN_BUDGET
        self.recursive = bool(book.recursive_scanning)
        # Filled by each scan: regex keys that timed out, entries that lost an inclusion
        # group or a probability roll, entries over the budget.
        self.notes: list[str] = []
        self._regex_deadline = 0.0

    def scan(self, messages: Sequence[ChatMessage]) -> list[LoreSnippet]:
        self.notes = []
        self._regex_deadline = time.monotonic() + SCAN_REGEX_BUDGET_S
        candidates = [
            (index, entry)
            for index, entry in enumerate(self.book.entries)
            if entry.enabled and entry.content.strip()
        ]
        deepest = max([self.scan_depth, *(entry.scan_depth or 0 for _, entry in candidates)])
        window = list(messages)[-deepest:]
        texts = [
            _Text(f"message {offset - len(window)}", _tail(message.content), len(window) - offset)
            for offset, message in enumerate(window)
        ]
        texts.reverse()  # newest first, so a reason names the most recent mention
        rng = random.Random(_seed(window))
        # SillyTavern's "delay until recursion" levels: the lowest is open from the first
        # recursion round; the next opens when a scan would otherwise end.
        levels = sorted({_delay_level(entry) for _, entry in candidates} - {0})
        level = levels.pop(0) if levels else 0
        fired: list[_Fired] = []
        won: dict[str, str] = {}  # inclusion group -> the entry that got in
        pending = candidates
        first, rounds = True, 0
        while True:
            newly = [
                _Fired(index, entry, reason)
                for index, entry in pending
                if not self._held_back(entry, first=first, level=level)
                and (reason := self._reason(entry, texts)) is not None
            ]
            done = {item.index for item in newly}
            pending = [(index, entry) for index, entry in pending if index not in done]
            kept = self._by_probability(self._by_inclusion_group(newly, won, rng), rng)
            for item in kept:
                for group in _groups(item.entry):
                    won.setdefault(group, _label(item.index, item.entry))
            fired.extend(kept)
            feed = [item for item in kept if not item.entry.prevent_recursion]
            if self.recursive and feed and rounds < MAX_RECURSION_DEPTH:
                rounds += 1
            elif levels and pending:
                level = levels.pop(0)
            else:
                break
            first = False
            # Recursion: what fired becomes text to scan (entries listed first, then chat).
            texts = [
                *(
                    _Text(f"lore entry {_label(item.index, item.entry)}", _tail(item.entry.content))
                    for item in feed
                ),
                *texts,
            ]
        return self._within_budget(fired)

    def _held_back(self, entry: LoreEntry, *, first: bool, level: int) -> bool:
        """Whether this round may not fire ``entry`` (SillyTavern's recursion flags)."""
        delay = _delay_level(entry)
        if delay and (first or delay > level):
            return True
        return not first and self.recursive and bool(entry.exclude_recursion)

    def _reason(self, entry: LoreEntry, texts: Sequence[_Text]) -> str | None:
        if entry.constant:
            return "constant"
        depth = self.scan_depth if entry.scan_depth is None else entry.scan_depth
        if depth == 0:  # SillyTavern: nothing to search, not even fired lore
            return None
        texts = [text for text in texts if text.age is None or text.age <= depth]
        primary = self._find_any(entry, entry.keys, texts)
        if primary is None:
            return None
        reason = f"key {primary.key!r} in {primary.where}"
        if not (entry.selective and entry.secondary_keys):
            return reason
        found = [self._find(entry, key, texts) for key in entry.secondary_keys]
        present = [hit for hit in found if hit is not None]
        missing = [key for key, hit in zip(entry.secondary_keys, found, strict=True) if not hit]
        logic = entry.selective_logic
        if logic == "and_any" and present:
            return f"{reason} and secondary key {present[0].key!r} in {present[0].where}"
        if logic == "and_all" and not missing:
            return f"{reason} and all {len(present)} secondary keys"
        if logic == "not_any" and not present:
            return f"{reason} and none of the secondary keys"
        if logic == "not_all" and missing:
            return f"{reason} and secondary key {missing[0]!r} absent"
        return None

    def _by_inclusion_group(
        self, newly: list[_Fired], won: dict[str, str], rng: random.Random
    ) -> list[_Fired]:
        """One entry per inclusion group, as SillyTavern's ``filterByInclusionGroups``:
        a group that got an entry in an earlier round takes no more; else an entry with
        ``group_override`` wins (the highest insertion order first), else a draw weighted
        by ``group_weight``. Each group is decided among all its members that fired, so an
        entry in several groups must win each."""
        # SillyTavern's order: higher insertion order first, then the books' order.
        ordered = sorted(newly, key=lambda item: (-item.entry.insertion_order, item.index))
        members: dict[str, list[_Fired]] = {}
        for item in ordered:
            for group in _groups(item.entry):
                members.setdefault(group, []).append(item)
        alive = {item.index: item for item in newly}

        def lose(item: _Fired, group: str, winner: str) -> None:
            if alive.pop(item.index, None) is not None:
                self._leave_out(item, f"lost inclusion group {group!r} to {winner}")

        for group, contenders in members.items():
            if group in won:
                for item in contenders:
                    lose(item, group, won[group])
                continue
            if len(contenders) <= 1:
                continue
            overrides = [item for item in contenders if item.entry.group_override]
            if overrides:
                winner, how = overrides[0], "override"
            else:
                winner, how = _weighted_draw(contenders, rng), f"draw among {len(contenders)}"
            for item in contenders:
                if item is not winner:
                    lose(item, group, _label(winner.index, winner.entry))
            if winner.index in alive:
                ahead = alive[winner.index]
                alive[winner.index] = replace(
                    ahead, reason=f"{ahead.reason}; won inclusion group {group!r} ({how})"
                )
        return [alive[item.index] for item in newly if item.index in alive]

    def _by_probability(self, items: list[_Fired], rng: random.Random) -> list[_Fired]:
        """Entries with a probability below 100 (and use_probability not off) are rolled for."""
        kept = []
        for item in items:
            chance = item.entry.probability
            if chance is None or chance >= 100 or item.entry.use_probability is False:
                kept.append(item)
            elif rng.random() * 100 < chance:
                kept.append(replace(item, reason=f"{item.reason}; {chance}% roll passed"))
            else:
                self._leave_out(item, f"probability {chance}% roll failed")
        return kept

    def _leave_out(self, item: _Fired, why: str) -> None:
        self._note(f"lore entry {_label(item.index, item.entry)} left out: {why}")

    def _find_any(
        self, entry: LoreEntry, keys: Sequence[str], texts: Sequence[_Text]
    ) -> _Found | None:
        for key in keys:
            found = self._find(entry, key, texts)
            if found is not None:
                return found
        return None

    def _find(self, entry: LoreEntry, key: str, texts: Sequence[_Text]) -> _Found | None:
        spec = parse_key(key)  # validated when the card was loaded
        for text in texts:
            if spec.pattern is not None:
                if self._regex_search(spec.pattern, key, text.text):
                    return _Found(key, text.where)
            elif _plain_matcher(key, bool(entry.case_sensitive), bool(entry.match_whole_words))(
                text.text
            ):
                return _Found(key, text.where)
        return None

    def _regex_search(self, pattern: Any, key: str, text: str) -> bool:
        remaining = self._regex_deadline - time.monotonic()
        if remaining <= 0:
            self._note(f"regex key {key!r} skipped: this turn's regex time budget is spent")
            return False
        try:
            return pattern.search(text, timeout=min(REGEX_TIMEOUT_S, remaining)) is not None
        except TimeoutError:
            self._note(f"regex key {key!r} timed out; treated as not found")
            return False

    def _within_budget(self, fired: list[_Fired]) -> list[LoreSnippet]:
        # Constant entries first, then higher priority, then higher insertion order (closer to
        # the chat, so SillyTavern keeps it first), then file order.
        by_importance = sorted(
            fired,
            key=lambda item: (
                not item.entry.constant,
                -(item.entry.priority or 0),
                -item.entry.insertion_order,
                item.index,
            ),
        )
        kept: list[tuple[int, _Fired]] = []
        used = 0
        for rank, item in enumerate(by_importance):
            cost = self.count_tokens(item.entry.content)
            if used + cost > self.token_budget:
                self._note(
                    f"lore entry {_label(item.index, item.entry)} left out: {cost} tokens, "
                    f"{self.token_budget - used} left of the lorebook's {self.token_budget}"
                )
                continue
            used += cost
            kept.append((rank, item))
        kept.sort(key=lambda pair: (pair[1].entry.insertion_order, pair[1].index))
        return [
            LoreSnippet(
                content=item.entry.content,
                reason=item.reason,
                name=_label(item.index, item.entry),
                rank=rank,
                position=item.entry.position or "after_char",
                depth=DEFAULT_LORE_DEPTH if item.entry.depth is None else item.entry.depth,
                role=item.entry.role or "system",
            )
            for rank, item in kept
        ]

    def _note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)


def combine_lorebooks(embedded: Lorebook | None, attached: Sequence[Lorebook]) -> Lorebook | None:
    """One book to scan: the card's embedded entries, then each attached book's, in order.

    SillyTavern scans every active book together with one set of settings, and so does this:
    the entries share one token budget (the tie-break among equally important entries is
    this order), and scan depth, budget and recursion are the first that is set, looking at
    the embedded book, then the attached ones in order (else the defaults). An attached
    entry is labelled ``BOOK/COMMENT`` (or ``BOOK/#N``) so ``roleplay prompt`` says where it
    came from. An attached book whose name repeats an earlier one is scanned once.
    """
    if not attached:
        return embedded
    books = [embedded] if embedded is not None else []
    seen: set[str] = set()
    entries = list(embedded.entries) if embedded is not None else []
    for book in attached:
        key = (book.name or "").casefold()
        if key and key in seen:
            continue
        seen.add(key)
        books.append(book)
        for index, entry in enumerate(book.entries):
            label = entry.comment or f"#{index}"
            named = f"{book.name}/{label}" if book.name else label
            entries.append(entry.model_copy(update={"comment": named}))
    settings: dict[str, Any] = {
        field: next(
            (getattr(book, field) for book in books if getattr(book, field) is not None), None
        )
        for field in ("scan_depth", "token_budget", "recursive_scanning")
    }
    name = embedded.name if embedded is not None else None
    return Lorebook(name=name, entries=entries, **settings)


def make_lore_factory(
    count_tokens: TokenCounter | None = None,
    *,
    attached: Sequence[Lorebook] = (),
    card_books: Callable[[Card], Sequence[Lorebook]] | None = None,
) -> Callable[[Card], LorebookScanner | None]:
    """The pipeline's ``lore_factory``: a scanner for cards that have lore.

    ``attached``: standalone books for every card (``--lorebook``); ``card_books``: the books
    a card names itself (scanned before ``attached``). See ``combine_lorebooks``.
    """

    def factory(card: Card) -> LorebookScanner | None:
        extra = [*(card_books(card) if card_books is not None else ()), *attached]
        book = combine_lorebooks(card.lorebook, extra)
        if book is None or not any(entry.enabled for entry in book.entries):
            return None
        return LorebookScanner(book, count_tokens=count_tokens or estimate_tokens)

    return factory


@lru_cache(maxsize=4096)
def _plain_matcher(key: str, case_sensitive: bool, whole_words: bool) -> Callable[[str], bool]:
    if whole_words:
        flags = 0 if case_sensitive else re.IGNORECASE
        # Lookarounds instead of \b so keys that start or end with punctuation still work.
        compiled = re.compile(rf"(?<!\w){re.escape(key)}(?!\w)", flags)
        return lambda text: compiled.search(text) is not None
    if case_sensitive:
        return lambda text: key in text
    folded = key.casefold()
    return lambda text: folded in text.casefold()


def _seed(messages: Sequence[ChatMessage]) -> int:
    """The same number for the same scanned messages, in any process (unlike ``hash``)."""
    digest = hashlib.sha256()
    for message in messages:
        digest.update(f"{message.role}\x00{message.content}\x01".encode("utf-8", "replace"))
    return int.from_bytes(digest.digest()[:8], "big")


def _groups(entry: LoreEntry) -> list[str]:
    """The entry's inclusion groups: SillyTavern splits ``group`` at commas."""
    if not entry.group:
        return []
    return list(dict.fromkeys(name for name in re.split(r",\s*", entry.group) if name))


def _delay_level(entry: LoreEntry) -> int:
    """0: not delayed; else the recursion level (true is level 1)."""
    delay = entry.delay_until_recursion
    if delay is None or delay is False:
        return 0
    return 1 if delay is True else int(delay)


def _weighted_draw(items: Sequence[_Fired], rng: random.Random) -> _Fired:
    weights = [
        DEFAULT_GROUP_WEIGHT if item.entry.group_weight is None else item.entry.group_weight
        for item in items
    ]
    roll = rng.random() * sum(weights)
    total = 0
    for item, weight in zip(items, weights, strict=True):
        total += weight
        if roll <= total:
            return item
    return items[-1]


def _label(index: int, entry: LoreEntry) -> str:
    return repr(entry.comment) if entry.comment else f"#{index}"


def _tail(text: str) -> str:
    return text[-MAX_SCAN_CHARS:]
