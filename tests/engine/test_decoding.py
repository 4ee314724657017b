from __future__ import annotations

from pathlib import Path

from transformers import AutoTokenizer

from roleplay.engine.decoding import IncrementalDetokenizer, StopStringScanner


def test_incremental_detokenizer_reassembles_multibyte_text(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    text = "Café ☕ — naïve 😀 fin."
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    detokenizer = IncrementalDetokenizer(tokenizer)
    pieces = [detokenizer.push(token_id) for token_id in ids]
    assert "".join(pieces) == text
    assert all("\ufffd" not in piece for piece in pieces)


def test_stop_scanner_cuts_at_stop_string_across_pieces() -> None:
    scanner = StopStringScanner(["\nUser:"])
    emitted = [scanner.feed(piece) for piece in ["Hello", " there", "\nUs", "er: hi"]]
    assert "".join(emitted) == "Hello there"
    assert scanner.stopped


def test_stop_scanner_releases_held_prefix_that_was_not_a_stop() -> None:
    scanner = StopStringScanner(["\nUser:"])
    out = scanner.feed("line one\nUs") + scanner.feed("ually fine")
    assert out == "line one\nUsually fine"
    assert not scanner.stopped
    assert scanner.flush() == ""


def test_stop_scanner_flush_returns_pending_tail() -> None:
    scanner = StopStringScanner(["\nUser:"])
    assert scanner.feed("end\nU") == "end"
    assert scanner.flush() == "\nU"


def test_stop_scanner_without_stops_passes_through() -> None:
    scanner = StopStringScanner([])
    assert scanner.feed("abc") == "abc"
