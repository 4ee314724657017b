"""PNG text chunks: reading, replacing and refusing broken files."""

from __future__ import annotations

import pytest

from roleplay.errors import RoleplayError
from roleplay.interop.images import placeholder_png
from roleplay.interop.png_chunks import (
    PNG_SIGNATURE,
    iter_chunks,
    read_text_chunks,
    with_text_chunks,
)
from tests.interop.conftest import flip_crc


def test_chunks_are_added_before_iend_and_read_back() -> None:
    png = with_text_chunks(placeholder_png("A"), {"chara": b"abc", "ccv3": b"def"})
    kinds = [kind for kind, _ in iter_chunks(png, "x")]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    assert kinds[-3:-1] == [b"tEXt", b"tEXt"]
    assert read_text_chunks(png, "x") == {"chara": b"abc", "ccv3": b"def"}


def test_existing_card_chunks_are_replaced_not_duplicated() -> None:
    once = with_text_chunks(placeholder_png("A"), {"chara": b"old"})
    twice = with_text_chunks(once, {"chara": b"new"})
    assert read_text_chunks(twice, "x") == {"chara": b"new"}
    assert sum(1 for kind, _ in iter_chunks(twice, "x") if kind == b"tEXt") == 1


def test_keywords_match_case_insensitively_and_other_text_is_ignored() -> None:
    png = with_text_chunks(placeholder_png("A"), {"Comment": b"hi", "CHARA": b"card"})
    assert read_text_chunks(png, "x") == {"chara": b"card"}


def test_truncated_png_is_a_clear_error() -> None:
    png = with_text_chunks(placeholder_png("A"), {"chara": b"abc"})
    with pytest.raises(RoleplayError, match="truncated"):
        read_text_chunks(png[:-20], "card.png")


def test_a_chunk_with_a_bad_crc_is_named() -> None:
    png = with_text_chunks(placeholder_png("A"), {"chara": b"abc"})
    for kind in (b"tEXt", b"IHDR", b"IEND"):
        with pytest.raises(RoleplayError) as caught:
            read_text_chunks(flip_crc(png, kind), "card.png")
        message = str(caught.value)
        name = kind.decode()
        assert message.startswith(f"card.png: PNG is corrupt ('{name}' chunk at byte ")
        assert message.endswith("fails its CRC check)") and "\n" not in message


def test_the_crc_covers_the_chunk_type_and_data() -> None:
    png = with_text_chunks(placeholder_png("A"), {"chara": b"abc"})
    tampered = png.replace(b"chara\x00abc", b"chara\x00abd")
    assert tampered != png
    with pytest.raises(RoleplayError, match=r"'tEXt' chunk .* fails its CRC check"):
        read_text_chunks(tampered, "card.png")
    assert read_text_chunks(png, "card.png") == {"chara": b"abc"}


def test_not_a_png() -> None:
    with pytest.raises(RoleplayError, match="not a PNG"):
        list(iter_chunks(b"GIF89a" + b"\x00" * 20, "x"))
    assert placeholder_png("x").startswith(PNG_SIGNATURE)


def test_placeholder_is_deterministic_and_depends_on_the_name() -> None:
    assert placeholder_png("Mira") == placeholder_png("Mira")
    assert placeholder_png("Mira") != placeholder_png("Sable")
