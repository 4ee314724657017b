"""Rule-based extraction of facts the user states about themselves.

Not a language model: a message is cut into sentences and clauses, and a clause yields a
fact only when the whole clause matches one of the first-person patterns of
``data/statement_patterns.yaml`` ("I live in ...", "I've moved to ...", "I'm vegetarian",
"I work as ...", "my name is ...", "call me ...", "I'm 34 years old", "my cat is called
...", "I love ...", "I hate ..."; docs/profile.md lists them). What it deliberately leaves
alone:

- questions: a clause that starts like one ("Am I vegetarian", "Do you live in Oslo") and
  the last clause of a sentence ending with "?";
- hypotheticals, wishes, plans and the past ("if I lived in Oslo", "I'd love to be vegan",
  "I'm going to move", "I used to live in Bergen"): the data file's ``skip`` words;
- other people ("my sister is vegetarian", "she thinks I'm vegan"): a pattern must match
  from the clause's first word, and those clauses start with someone else;
- narration between asterisks (``*smiles*``).

Values keep the user's casing; trailing punctuation, "now"/"anymore"-style words and
trailing clauses ("... because", "... with my wife" for a home) are trimmed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from roleplay.profile.rules import KEY_SEPARATOR, Polarity, ProfileRules, load_rules

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})
_ACTION = re.compile(r"\*[^*\n]*\*")
_QUOTE = re.compile(r'"([^"]*)"')
_SPEECH_VERB = (
    r"(?:said|says|say|told|tells|asked|asks|replied|replies|wrote|writes|whispered"
    r"|shouted|yelled|thinks|thought)"
)
# Someone other than "I" speaking: '... ," she said' / 'my sister said: "..."'.
_SAID_AFTER = re.compile(rf"^\s*[,.!?]?\s*(?!I\b)\w[\w' ]{{0,29}}? {_SPEECH_VERB}\b", re.IGNORECASE)
_SAID_BEFORE = re.compile(rf"(?<!\bI )\b{_SPEECH_VERB}(?: \w+)?\s*[:,]?\s*$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?\u2026])\s+|\n+")
# Clause boundaries: semicolons, colons, dashes and commas (commas are merged back below
# when the words after them do not start a clause), and a conjunction before "I"/"my".
_CLAUSE_BREAK = re.compile(r"\s*[;:,]\s*|\s+[\u2014\u2013-]\s+")
_CONJUNCTION_BREAK = re.compile(
    r"\s+(?=(?:and|but|so|or|because|though|although|while|whereas|yet|plus)\s+"
    r"(?:I|I'm|I've|I'd|I'll|my)\b)",
    re.IGNORECASE,
)
_FIRST_WORD = re.compile(r"[\w']+")
_EDGE_JUNK = re.compile(r"^[\s\"'(\[]+|[\s\W_]+$")
_LIST_SPLIT = re.compile(r"\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+")
_WORD = re.compile(r"[\w'-]+")


@dataclass(frozen=True)
class Statement:
    """One fact the user stated: ``slot`` (``diet``, ``pet:cat``), its ``value`` (None: a
    negation naming no value, "I quit my job"), the clause as written and the polarity
    (``stated``: a new value; ``negated``: the matching current value is retired)."""

    slot: str
    value: str | None
    text: str
    polarity: Polarity


def extract_statements(text: str, rules: ProfileRules | None = None) -> list[Statement]:
    """Every statement the user makes about themselves in ``text``, in order."""
    rules = rules or load_rules()
    found: list[Statement] = []
    for sentence in _sentences(text):
        clauses = _clauses(sentence, rules)
        is_question = sentence.rstrip().endswith("?")
        for index, clause in enumerate(clauses):
            if _starts_question(clause, rules):
                break
            if is_question and index == len(clauses) - 1:
                break
            found.extend(_clause_statements(clause, rules))
    return found


def _sentences(text: str) -> list[str]:
    """Sentences of the narration and of each quoted line, apart; a quote attributed to
    someone else ("... ," she said) is dropped."""
    text = _ACTION.sub(" ", text.translate(_APOSTROPHES))
    pieces: list[str] = []
    end = 0
    for quote in _QUOTE.finditer(text):
        pieces.append(text[end : quote.start()])
        before, after = text[: quote.start()], text[quote.end() :]
        if not (_SAID_BEFORE.search(before) or _SAID_AFTER.match(after)):
            pieces.append(quote.group(1))
        end = quote.end()
    pieces.append(text[end:])
    return [
        sentence.strip()
        for piece in pieces
        for sentence in _SENTENCE_END.split(piece)
        if sentence.strip()
    ]


def _clauses(sentence: str, rules: ProfileRules) -> list[str]:
    clauses: list[str] = []
    for piece in _CLAUSE_BREAK.split(sentence):
        for part in _CONJUNCTION_BREAK.split(piece):
            part = part.strip()
            if not part:
                continue
            if clauses and _first_word(part) not in rules.clause_starters:
                clauses[-1] = f"{clauses[-1]}, {part}"  # "I like jazz, blues and rock"
            else:
                clauses.append(part)
    return clauses


def _first_word(text: str) -> str:
    match = _FIRST_WORD.match(text.lstrip("\"'(["))
    return match.group(0).casefold() if match else ""


def _starts_question(clause: str, rules: ProfileRules) -> bool:
    return _first_word(_strip_lead_in(clause, rules)) in rules.question_starters


def _strip_lead_in(clause: str, rules: ProfileRules) -> str:
    match = rules.lead_in.match(clause)
    return clause[match.end() :] if match else clause


def _strip_trailing(text: str, rules: ProfileRules) -> str:
    text = _EDGE_JUNK.sub("", text)
    while True:
        trimmed = _EDGE_JUNK.sub("", rules.trailing.sub("", text))
        if trimmed == text:
            return text
        text = trimmed


def _clause_statements(clause: str, rules: ProfileRules) -> list[Statement]:
    if rules.skip_words.search(clause):
        return []
    said = _strip_lead_in(clause, rules).strip()  # the user's words, "and" dropped
    body = _strip_trailing(said, rules)
    if not body:
        return []
    for pattern in rules.patterns:
        match = pattern.regex.fullmatch(body)
        if match is None:
            continue
        spec = pattern.spec
        slot_spec = rules.slots[spec.slot]
        groups = match.groupdict()
        slot = spec.slot
        if slot_spec.keyed:
            key = (groups.get("key") or "").strip().casefold()
            if not key:
                return []
            slot = f"{slot}{KEY_SEPARATOR}{key}"
        raw = spec.value if spec.value is not None else groups.get("value")
        if raw is None:
            if spec.polarity == "negated":
                return [Statement(slot, None, said, spec.polarity)]
            return []
        values = _clean_values(raw, spec.slot, rules, fixed=spec.value is not None)
        if spec.capitalized:
            values = [value for value in values if value[:1].isupper()]
        return [Statement(slot, value, said, spec.polarity) for value in values]
    return []


def _clean_values(raw: str, slot: str, rules: ProfileRules, *, fixed: bool) -> list[str]:
    """The value(s) of a match: cut at a trailing clause, trimmed, checked; a multi-valued
    slot splits a list with commas ("jazz, blues and rock")."""
    if fixed:
        return [raw]
    value = rules.cut_words.sub("", raw)
    slot_cut = rules.slot_cut_words.get(slot)
    if slot_cut is not None:
        value = slot_cut.sub("", value)
    value = _strip_trailing(value, rules)
    spec = rules.slots[slot]
    parts = [value]
    if spec.kind == "multi" and "," in value:
        parts = [_strip_trailing(part, rules) for part in _LIST_SPLIT.split(value)]
    return [part for part in parts if _acceptable(part, spec.max_words, rules)]


def _acceptable(value: str, max_words: int, rules: ProfileRules) -> bool:
    words = _WORD.findall(value)
    if not words or len(words) > max_words:
        return False
    return not (
        words[0].casefold() in rules.empty_words or words[-1].casefold() in rules.empty_words
    )
