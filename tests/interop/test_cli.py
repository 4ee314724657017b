"""`roleplay card import|export` through the real CLI: output, exit codes, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roleplay import paths
from roleplay.cards.loader import load_card
from roleplay.cli.main import app
from roleplay.pipeline import ChatPipeline
from roleplay.prompting.lorebook import make_lore_factory
from roleplay.sessions import SessionStore
from tests.helpers.scripted_engine import ScriptedEngine
from tests.interop.conftest import DEFAULT_CARDS, b64_json, flip_crc, png_with, v2_card, write

runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


def test_import_writes_to_the_user_characters_folder_and_says_where() -> None:
    code, out, _ = _invoke("card", "import", str(DEFAULT_CARDS[2]))
    assert code == 0
    written = list(paths.user_characters_dir().glob("*.yaml"))
    assert len(written) == 1
    assert f"imported Seraphina (Character Card V2) -> {written[0]}" in out
    assert "neutral placeholders" in out
    # ...and the registry finds it by name.
    code, out, _ = _invoke("characters", "--json")
    assert any(entry["name"] == "Seraphina" for entry in json.loads(out))


def test_import_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    args = ("card", "import", str(DEFAULT_CARDS[0]), "--out", str(tmp_path))
    assert _invoke(*args)[0] == 0
    code, _, err = _invoke(*args)
    assert code == 2
    assert err.startswith("error: ") and "already exists; use --force" in err
    assert _invoke(*args, "--force")[0] == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (png_with({}), "holds no character card"),
        (png_with({"chara": b"%%%"}), "not base64"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "truncated"),
        (flip_crc(png_with({"chara": b64_json(v2_card())}), b"tEXt"), "fails its CRC check"),
        (b"PK\x03\x04garbage", "not a readable zip"),
    ],
)
def test_bad_files_exit_2_with_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = write(tmp_path / "bad.png", content)
    code, _, err = _invoke("card", "import", str(path), "--out", str(tmp_path / "out"))
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_bad_crc_names_the_file_and_the_chunk(tmp_path: Path) -> None:
    card = png_with({"chara": b64_json(v2_card())})
    path = write(tmp_path / "kira.png", flip_crc(card, b"tEXt"))
    code, _, err = _invoke("card", "import", str(path), "--out", str(tmp_path / "out"))
    assert code == 2
    assert err.strip().startswith(f"error: {path}: PNG is corrupt ('tEXt' chunk at byte ")
    # The same card with intact CRCs imports.
    write(path, card)
    assert _invoke("card", "import", str(path), "--out", str(tmp_path / "out"))[0] == 0


def test_export_every_format(tmp_path: Path) -> None:
    for export_format, suffix in [
        ("ccv2-json", "json"),
        ("ccv3-json", "json"),
        ("ccv2-png", "png"),
        ("ccv3-png", "png"),
    ]:
        target = tmp_path / f"mira-{export_format}.{suffix}"
        code, out, err = _invoke(
            "card", "export", "mira", "--format", export_format, "--out", str(target)
        )
        assert code == 0, err
        assert f"-> {target}" in out and target.stat().st_size > 0
    code, _, err = _invoke(
        "card",
        "export",
        "mira",
        "--format",
        "ccv2-json",
        "--out",
        str(tmp_path / "mira-ccv2-json.json"),
    )
    assert code == 2 and "already exists" in err


def test_export_errors_exit_2(tmp_path: Path) -> None:
    code, _, err = _invoke("card", "export", "nobody", "--format", "ccv2-json")
    assert code == 2 and "unknown character" in err
    code, _, err = _invoke(
        "card", "export", "mira", "--format", "ccv2-json", "--image", str(tmp_path / "x.png")
    )
    assert code == 2 and "--image only applies" in err
    code, _, _ = _invoke("card", "export", "mira", "--format", "ccv9")
    assert code == 2


def test_export_default_name_in_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, _ = _invoke("card", "export", "mira", "--format", "ccv3-png")
    assert code == 0
    [written] = tmp_path.glob("*.png")
    assert written.name.startswith("captain-mira-voss-")


@pytest.mark.parametrize("path", DEFAULT_CARDS, ids=lambda path: path.stem)
def test_default_cards_chat_within_budget(path: Path, tmp_path: Path) -> None:
    code, _, err = _invoke("card", "import", str(path), "--out", str(tmp_path))
    assert code == 0, err
    [card_path] = tmp_path.glob("*.yaml")
    engine = ScriptedEngine(("*nods*",), context_window=2048)
    pipeline = ChatPipeline(
        engine, SessionStore(tmp_path / "s.sqlite3"), lore_factory=make_lore_factory()
    )
    conversation = pipeline.start(card_path, user_name="Ann")
    reply = conversation.send("Tell me about the forest and the beasts.").text()
    assert reply == "*nods*"
    prompt = engine.prompts[-1]
    built_tokens = engine.count_tokens(prompt)
    assert built_tokens <= 2048 - pipeline.settings.max_new_tokens
    card = load_card(card_path)
    assert card.name in prompt
    assert "{{char}}" not in prompt and "{{user}}" not in prompt
    if card.lorebook is not None:  # Seraphina: "forest" and "beasts" are lore keys
        assert "# World notes" in prompt
        assert "Eldoria is here, all of the woods." in prompt
    if card.post_history_instructions:  # Flux: sent after the history
        assert prompt.rstrip().endswith("<assistant>")
        assert prompt.index("Tell me about the forest") < prompt.index("[System note:")


def test_bad_input_never_leaves_a_partial_file(tmp_path: Path) -> None:
    path = write(tmp_path / "x.json", v2_card(extensions={"blob": list(range(20_000))}))
    code, _, err = _invoke("card", "import", str(path), "--out", str(tmp_path / "out"))
    assert code == 2 and "would not load" in err
    assert list((tmp_path / "out").iterdir()) == []
