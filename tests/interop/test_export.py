"""`export_card`: valid SillyTavern cards, and our own cards survive a trip through them."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from roleplay.cards.loader import load_card
from roleplay.cards.model import Card
from roleplay.errors import RoleplayError
from roleplay.interop.exporter import EXPORT_FORMATS, export_card
from roleplay.interop.importer import import_card
from roleplay.interop.png_chunks import read_text_chunks
from tests.interop.conftest import DEFAULT_CARDS

V2_REQUIRED = (
    "name",
    "description",
    "personality",
    "scenario",
    "first_mes",
    "mes_example",
    "creator_notes",
    "system_prompt",
    "post_history_instructions",
    "alternate_greetings",
    "tags",
    "creator",
    "character_version",
    "extensions",
)


def _bundled(characters_dir: Path) -> list[Card]:
    return [load_card(path) for path in sorted(characters_dir.glob("*.yaml"))]


def _chunk_json(png: bytes, keyword: str) -> dict[str, object]:
    return json.loads(base64.b64decode(read_text_chunks(png, "x")[keyword]))


def test_v2_json_has_every_field_the_spec_requires(characters_dir: Path) -> None:
    card = load_card(characters_dir / "mira.yaml")
    exported = json.loads(export_card(card, "ccv2-json"))
    assert exported["spec"] == "chara_card_v2" and exported["spec_version"] == "2.0"
    data = exported["data"]
    assert all(key in data for key in V2_REQUIRED)
    assert all(isinstance(data[key], str) for key in V2_REQUIRED[:9] + V2_REQUIRED[11:13])
    assert exported["name"] == card.name  # V1 copies for old readers
    ours = data["extensions"]["roleplay"]
    assert ours["personality"]["big_five"] == card.personality.big_five.as_dict()
    assert ours["personality"]["mbti"] == "ISTJ"
    assert data["mes_example"].startswith("<START>\n{{user}}: ")


def test_v3_json_has_the_v3_envelope(characters_dir: Path) -> None:
    exported = json.loads(export_card(load_card(characters_dir / "mira.yaml"), "ccv3-json"))
    assert exported["spec"] == "chara_card_v3" and exported["spec_version"] == "3.0"
    assert exported["data"]["group_only_greetings"] == []


@pytest.mark.parametrize("export_format", ["ccv2-png", "ccv3-png"])
def test_png_carries_both_chunks(characters_dir: Path, export_format: str) -> None:
    png = export_card(load_card(characters_dir / "mira.yaml"), export_format)
    assert _chunk_json(png, "chara")["spec"] == "chara_card_v2"
    assert _chunk_json(png, "ccv3")["spec"] == "chara_card_v3"
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (400, 600)  # the placeholder


def test_png_uses_the_given_image(characters_dir: Path, tmp_path: Path) -> None:
    picture = tmp_path / "face.jpg"
    Image.new("RGB", (64, 96), (200, 10, 10)).save(picture)
    png = export_card(load_card(characters_dir / "mira.yaml"), "ccv3-png", image=picture)
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (64, 96)
        assert image.getpixel((5, 5))[0] > 150


def test_bad_image_and_image_for_json_are_errors(characters_dir: Path, tmp_path: Path) -> None:
    card = load_card(characters_dir / "mira.yaml")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    with pytest.raises(RoleplayError, match="not an image"):
        export_card(card, "ccv2-png", image=junk)
    with pytest.raises(RoleplayError, match="only applies to the PNG"):
        export_card(card, "ccv2-json", image=junk)
    with pytest.raises(RoleplayError, match="unknown format"):
        export_card(card, "ccv4-json")


@pytest.mark.parametrize("export_format", EXPORT_FORMATS)
def test_bundled_cards_survive_export_and_import(
    characters_dir: Path, tmp_path: Path, export_format: str
) -> None:
    for index, card in enumerate(_bundled(characters_dir)):
        exported = tmp_path / f"{index}.{export_format.split('-')[1]}"
        exported.write_bytes(export_card(card, export_format))
        back = import_card(exported, tmp_path / "out" / str(index)).card
        assert back == card


@pytest.mark.parametrize("path", DEFAULT_CARDS, ids=lambda path: path.stem)
@pytest.mark.parametrize("export_format", EXPORT_FORMATS)
def test_default_cards_import_export_import(path: Path, export_format: str, tmp_path: Path) -> None:
    first = import_card(path, tmp_path / "first").card
    exported = tmp_path / f"card.{export_format.split('-')[1]}"
    exported.write_bytes(export_card(first, export_format))
    assert import_card(exported, tmp_path / "second").card == first


def test_sillytavern_legacy_fields_are_given_back(tmp_path: Path) -> None:
    card = import_card(DEFAULT_CARDS[1], tmp_path).card  # Flux the Cat
    exported = json.loads(export_card(card, "ccv2-json"))
    assert exported["creatorcomment"] == "ST Default Bot contest winner: creative prompts category"
    assert exported["data"]["extensions"]["talkativeness"] == "0.5"
    assert exported["data"]["creator"] == "@kallmeflocc on Discord"
