"""Grammar-constrained decoding with transformers-cfg 0.2.7, made to work offline here.

transformers-cfg recognises tokenizers by their class and, for byte-level BPE tokenizers
(GPT-2 style, like SmolLM2's), asks the hub for the GPT-2 tokenizer to get its
byte-to-unicode table. Under transformers 5 a tokenizer loaded with ``AutoTokenizer`` is a
plain ``TokenizersBackend`` ("not supported"), and the hub is unreachable. This adapter
builds the two pieces transformers-cfg derives from the tokenizer itself (the token ->
bytes mapping and the byte trie) and passes them in, so neither the class check nor the
download ever happens:

- byte-level tokenizers: transformers-cfg's own ``GPT2TokenizerMiddleMapping``, whose
  ``ByteProxyMapping`` is given an object carrying the byte tables (``byte_encoder``,
  ``byte_decoder``, ``is_fast = False``) instead of the hub's GPT-2 tokenizer;
- SentencePiece-style tokenizers (``▁`` word marks, ``<0x..>`` byte tokens): its
  ``LLAMA1TokenizerMiddleMapping``, which needs nothing from the hub.

Special and added tokens (``<|im_end|>``, ``<repo_name>``...) never enter the trie, so a
grammar cannot spell them; EOS is allowed exactly when the grammar is complete.

transformers-cfg's ``parse_ebnf`` logs a parse error and returns an empty grammar; we parse
rule by rule ourselves to turn a bad grammar into a one-line ``ControlError`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from roleplay.control.errors import ControlError, did_you_mean

if TYPE_CHECKING:
    from transformers import LogitsProcessor, PreTrainedTokenizerBase

TokenizerKind = Literal["byte_level", "sentencepiece"]
GRAMMAR_SUFFIXES = (".ebnf", ".gbnf")


@dataclass(frozen=True)
class Grammar:
    name: str
    text: str
    rules: tuple[str, ...]  # rule names, for describe()


def bundled_grammars_dir() -> Path:
    return Path(str(resources.files("roleplay.control") / "data" / "grammars"))


def bundled_grammars() -> dict[str, Path]:
    return {path.stem: path for path in sorted(bundled_grammars_dir().glob("*.ebnf"))}


def _short(text: str, limit: int = 40) -> str:
    flat = text.replace("\n", "⏎")
    return flat if len(flat) <= limit else flat[:limit] + "…"


def parse_grammar(text: str, name: str = "grammar") -> Grammar:
    """Validate EBNF ``text`` the way transformers-cfg reads it; ``ControlError`` if bad."""
    from transformers_cfg.parser import ParseState, parse_rule, remove_leading_white_space

    state = ParseState()
    remaining = remove_leading_white_space(text, True)
    if not remaining:
        raise ControlError(f"grammar {name!r} is empty; it needs at least 'root ::= ...'")
    while remaining:
        line = text[: len(text) - len(remaining)].count("\n") + 1
        try:
            remaining = parse_rule(state, remaining)
        except (IndexError, KeyError):  # the parser ran off the end of the text
            raise ControlError(
                f"grammar {name!r} line {line}: unexpected end of the rule {_short(remaining)!r}"
            ) from None
        except (RuntimeError, AssertionError, ValueError) as error:
            reason = str(error).split(" at ", 1)[0].strip() or "syntax error"
            raise ControlError(
                f"grammar {name!r} line {line}: {reason} near {_short(remaining)!r}"
            ) from None
    defined = set(state.grammar_rules)
    undefined = sorted(n for n, i in state.symbol_table.items() if i not in defined)
    if undefined:
        raise ControlError(f"grammar {name!r}: rule {undefined[0]!r} is used but never defined")
    if "root" not in state.symbol_table:
        raise ControlError(f"grammar {name!r} has no 'root' rule (generation starts there)")
    return Grammar(name=name, text=text, rules=tuple(state.symbol_table))


def load_grammar(reference: str) -> Grammar:
    """A bundled grammar by name (``likert``), an ``.ebnf``/``.gbnf`` file, or EBNF text."""
    bundled = bundled_grammars()
    if reference in bundled:
        return parse_grammar(bundled[reference].read_text(encoding="utf-8"), reference)
    if "::=" in reference:
        return parse_grammar(reference, "inline")
    path = Path(reference).expanduser()
    if path.suffix in GRAMMAR_SUFFIXES:
        if not path.is_file():
            raise ControlError(f"{path}: no such grammar file")
        return parse_grammar(path.read_text(encoding="utf-8"), path.name)
    raise ControlError(
        f"unknown grammar {reference!r}{did_you_mean(reference, bundled)}; "
        "give a bundled name, an .ebnf file or EBNF text"
    )


@cache
def gpt2_byte_tables() -> tuple[dict[int, str], dict[str, int]]:
    """GPT-2's reversible byte <-> printable-character tables (``bytes_to_unicode``).

    Every byte-level BPE vocabulary (GPT-2, SmolLM2, Llama 3, Qwen) spells bytes with
    these characters: printable Latin-1 bytes stand for themselves, the other 68 bytes are
    shifted to code points 256 and up. Kept here because transformers moves the function
    between modules across versions.
    """
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    shift = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + shift)
            shift += 1
    encoder = {byte: chr(code) for byte, code in zip(printable, codes, strict=True)}
    return encoder, {char: byte for byte, char in encoder.items()}


class _ByteTables:
    """Stands in for the hub's slow GPT-2 tokenizer in ``ByteProxyMapping``."""

    is_fast = False

    def __init__(self) -> None:
        self.byte_encoder, self.byte_decoder = gpt2_byte_tables()


def tokenizer_kind(tokenizer: PreTrainedTokenizerBase) -> TokenizerKind:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None and (
        "ByteLevel" in repr(backend.pre_tokenizer) or "ByteLevel" in repr(backend.decoder)
    ):
        return "byte_level"
    vocab = tokenizer.get_vocab()
    if any(token.startswith("▁") for token in vocab):
        return "sentencepiece"
    encoder, _ = gpt2_byte_tables()
    if all(char in vocab for char in encoder.values()):
        return "byte_level"
    raise ControlError(
        f"grammar-constrained output does not support the {type(tokenizer).__name__} "
        "tokenizer (neither byte-level BPE nor SentencePiece)"
    )


def _token_mapping(tokenizer: PreTrainedTokenizerBase, kind: TokenizerKind) -> Any:
    from transformers_cfg.tokenization.middle.ByteProxyMapping import ByteProxyMapping
    from transformers_cfg.tokenization.middle.TokenizerMiddleMapping import (
        GPT2TokenizerMiddleMapping,
        LLAMA1TokenizerMiddleMapping,
        TokenizerMiddleMapping,
    )

    if kind == "sentencepiece":
        return LLAMA1TokenizerMiddleMapping(tokenizer)

    class OfflineGPT2Mapping(GPT2TokenizerMiddleMapping):  # type: ignore[misc]
        def __init__(self, hf_tokenizer: Any) -> None:
            # Skip GPT2TokenizerMiddleMapping.__init__: it would fetch "gpt2" from the hub.
            TokenizerMiddleMapping.__init__(self, hf_tokenizer)
            self.byte_proxy_mapper = ByteProxyMapping(_ByteTables())

    return OfflineGPT2Mapping(tokenizer)


def _byte_trie(tokenizer: PreTrainedTokenizerBase, mapping: Any) -> Any:
    from transformers_cfg.tokenization.byte_trie import ByteTrie

    excluded = set(tokenizer.all_special_ids) | set(tokenizer.get_added_vocab().values())
    vocab_size = len(tokenizer.get_vocab())
    trie = ByteTrie()
    for token_id in range(vocab_size):
        if token_id not in excluded:
            trie.insert(mapping.map(token_id), token_id)
    trie.vocab_size = vocab_size
    return trie


class GrammarCompiler:
    """Turns grammars into logits processors for one tokenizer.

    The token mapping and byte trie (about a second for a 49k vocabulary) are built on first
    use and shared; each ``processor()`` call returns a fresh, single-use processor, since
    transformers-cfg's processors keep the parse state of one generation.
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        if tokenizer.eos_token_id is None:
            raise ControlError("grammar-constrained output needs a tokenizer with an EOS token")
        self.tokenizer = tokenizer
        self.kind = tokenizer_kind(tokenizer)
        self._mapping: Any = None
        self._trie: Any = None

    def _prepare(self) -> None:
        if self._trie is None:
            self._mapping = _token_mapping(self.tokenizer, self.kind)
            self._trie = _byte_trie(self.tokenizer, self._mapping)

    def processor(self, grammar: Grammar | str) -> LogitsProcessor:
        from transformers_cfg.generation.logits_process import GrammarConstrainedLogitsProcessor
        from transformers_cfg.grammar_utils import IncrementalGrammarConstraint

        chosen = grammar if isinstance(grammar, Grammar) else load_grammar(grammar)
        self._prepare()
        constraint = IncrementalGrammarConstraint(
            chosen.text, "root", self.tokenizer, trie=self._trie, homomorphism=self._mapping
        )
        return GrammarConstrainedLogitsProcessor(constraint)

    def accepts(self, grammar: Grammar | str, text: str) -> bool:
        """Whether ``text`` is a complete sentence of ``grammar`` (for checks and tests)."""
        from transformers_cfg.parser import parse_ebnf
        from transformers_cfg.recognizer import StringRecognizer

        chosen = grammar if isinstance(grammar, Grammar) else load_grammar(grammar)
        parsed = parse_ebnf(chosen.text)
        recognizer = StringRecognizer(parsed.grammar_encoding, parsed.symbol_table["root"])
        return bool(recognizer._accept_string(text))
