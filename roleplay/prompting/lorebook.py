"""World info: which lorebook entries fire for this turn, and why.

Each turn the pipeline hands the scanner the conversation (the new user message last). The
scanner looks for every enabled entry's keys in the last ``scan_depth`` messages, applies
SillyTavern's selective logic to the secondary keys, optionally scans the content of the
entries that fired for more keys (recursion, off by default), then keeps what fits the token
budget. The result is a list of ``LoreSnippet``s, in insertion order, that the prompt builder
puts under "World notes"; each carries a human-readable reason (``key 'Kestrel' in message
-1``) that ``roleplay prompt`` prints.

Keys are data from a card: plain keys are matched as text (``re.escape``), regex keys with a
timeout and a time budget per scan, over text bounded in length, so no card can stall a turn.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from roleplay.cards.lore_keys import parse_key
from roleplay.cards.model import Card, Lorebook, LoreEntry
from roleplay.engine.base import ChatMessage
from roleplay.prompting.builder import LoreSnippet

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
# words * 1.3: the cheap estimate used when no tokenizer is given (English averages about
# 1.3 tokens per word with BPE vocabularies).
TOKENS_PER_WORD = 1.3

TokenCounter = Callable[[str], int]


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text.split()) * TOKENS_PER_WORD)


@dataclass(frozen=True)
class _Text:
    """One searchable text: a chat message (``message -1`` is the newest) or fired lore."""

    where: str
    text: str


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
        # Filled by each scan: regex keys that timed out and entries over the budget.
        self.notes: list[str] = []
        self._regex_deadline = 0.0

    def scan(self, messages: Sequence[ChatMessage]) -> list[LoreSnippet]:
        self.notes = []
        self._regex_deadline = time.monotonic() + SCAN_REGEX_BUDGET_S
        window = list(messages)[-self.scan_depth :]
        texts = [
            _Text(f"message {offset - len(window)}", _tail(message.content))
            for offset, message in enumerate(window)
        ]
        texts.reverse()  # newest first, so a reason names the most recent mention
        candidates = [
            (index, entry)
            for index, entry in enumerate(self.book.entries)
            if entry.enabled and entry.content.strip()
        ]
        fired: list[_Fired] = []
        pending = candidates
        for depth in range(1 + (MAX_RECURSION_DEPTH if self.recursive else 0)):
            newly = [
                _Fired(index, entry, reason)
                for index, entry in pending
                if (reason := self._reason(entry, texts, first_pass=depth == 0)) is not None
            ]
            if not newly:
                break
            fired.extend(newly)
            done = {item.index for item in newly}
            pending = [(index, entry) for index, entry in pending if index not in done]
            # Recursion: what fired becomes text to scan (entries listed first, then chat).
            texts = [
                *(
                    _Text(f"lore entry {_label(item.index, item.entry)}", _tail(item.entry.content))
                    for item in newly
                ),
                *texts,
            ]
        return self._within_budget(fired)

    def _reason(self, entry: LoreEntry, texts: Sequence[_Text], *, first_pass: bool) -> str | None:
        if entry.constant:
            return "constant" if first_pass else None
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


def _label(index: int, entry: LoreEntry) -> str:
    return repr(entry.comment) if entry.comment else f"#{index}"


def _tail(text: str) -> str:
    return text[-MAX_SCAN_CHARS:]
