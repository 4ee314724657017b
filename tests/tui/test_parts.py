"""The TUI's pure parts: bars, turn info, export, key labels, the pipeline thread, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roleplay.cards.loader import load_card
from tests.tui.helpers import MIRA, REPO_ROOT
from tui.backend import Abandoned, ConversationView, MessageView, PipelineThread
from tui.bars import bar, shorten, signed_bar
from tui.export import conversation_markdown, export_conversation
from tui.keys import CHAT_KEYS, HELP_SECTIONS, MESSAGE_KEYS, Key
from tui.turn_info import decoding_summary, from_metadata, steering_strengths, toxicity_of


def test_bars_have_a_fixed_width_and_clamp() -> None:
    assert bar(0.0, 8) == "·" * 8
    assert bar(1.0, 8) == "█" * 8
    assert bar(0.5, 8) == "████····"
    assert bar(2.0, 4) == "████" and bar(-1, 4) == "····" and bar(float("nan"), 4) == "····"
    assert len(bar(0.33, 10)) == 10
    assert signed_bar(0.0, 7) == "···│···"
    assert signed_bar(1.0, 7) == "···│███"
    assert signed_bar(-0.5, 7, limit=1.0) == "·██│···"
    assert signed_bar(5, 7, limit=2.0) == "···│███"
    assert shorten("a  b\nc", 10) == "a b c" and shorten("abcdefghij", 5) == "abcd…"


def test_turn_info_from_stored_metadata() -> None:
    info = from_metadata(
        {
            "tokens": 20,
            "seconds": 0.5,
            "prompt_tokens": 300,
            "stop_reason": "eos",
            "memories": [{"id": "m1", "score": 0.7}, "junk"],
            "mood": {"joy": 0.5, "fear": "high", "anger": True},
            "controls": {"steering": {"strengths": {"warmth": 0.3}}},
            "toxicity": {"score": 0.2, "flagged": False, "scorer": "detoxify"},
        }
    )
    assert info.tokens_per_second == 40.0 and info.prompt_tokens == 300
    assert [(m.score, m.text) for m in info.memories] == [(0.7, "m1")]
    assert info.mood == {"joy": 0.5}  # non-numbers are not scores
    assert info.toxicity is not None and not info.toxicity.flagged
    assert from_metadata({}).toxicity is None and from_metadata({}).memories == ()
    assert toxicity_of({"toxicity": "bad"}) is None


def test_steering_strengths_from_either_shape() -> None:
    nested = {"steering": {"strengths": {"warmth": 0.4, "x": "no"}, "max_strength": 2.0}}
    assert steering_strengths(nested) == ({"warmth": 0.4}, 2.0)
    assert steering_strengths({"formality": -1.5}) == ({"formality": -1.5}, 1.5)
    assert steering_strengths({}) == ({}, 1.0)
    decoding = {"decoding": {"frequency_penalty": 0.3, "grammar": None, "banned_phrases": ["a"]}}
    assert decoding_summary(decoding) == ["frequency penalty: 0.3", "banned phrases: 1 phrases"]


def _view(character: str = "Captain Mira Voss") -> ConversationView:
    return ConversationView(
        session_id="abc123def456",
        character=character,
        user_name="Ann",
        model_id="tiny",
        context_window=2048,
        card=load_card(MIRA),
        messages=(
            MessageView(1, None, "assistant", "*Looks up.* Report.", 1, 2),
            MessageView(2, 1, "user", "All quiet.", 1, 1),
        ),
    )


def test_export_markdown_and_a_safe_file_name(tmp_path: Path) -> None:
    text = conversation_markdown(_view(), exported_at=datetime(2025, 1, 2, 3, 4))
    assert text.splitlines()[0] == "# Captain Mira Voss and Ann"
    assert "**Captain Mira Voss:** *(alternative 1 of 2)*" in text
    assert "**Ann:**\n\nAll quiet." in text and "exported 2025-01-02 03:04" in text
    path = export_conversation(_view("../../etc/evil\x00name"), tmp_path / "exports")
    assert path.parent == tmp_path / "exports"
    assert path.name.startswith("etc-evil-name-") and path.name.endswith("-abc123def456.md")


def test_key_labels_and_every_chat_action_is_documented() -> None:
    assert Key("ctrl+r", "x", "X").label == "^R"
    assert Key("left,minus", "x", "X").label == "← / -"
    documented = {key.action for _, keys in HELP_SECTIONS for key in keys}
    assert {key.action for key in CHAT_KEYS + MESSAGE_KEYS} <= documented


def test_pipeline_thread_runs_jobs_on_one_thread_and_can_be_abandoned() -> None:
    pipeline_thread = PipelineThread()
    names = {pipeline_thread.run(lambda: threading.current_thread().name) for _ in range(3)}
    assert names == {"roleplay-pipeline"}
    with pytest.raises(ValueError):
        pipeline_thread.run(lambda: int("x"))
    release = threading.Event()
    with pytest.raises(Abandoned):
        pipeline_thread.run(lambda: release.wait(5), abandoned=lambda: True)
    release.set()
    assert pipeline_thread.run(lambda: 42) == 42  # the abandoned job finished; the next ran
    pipeline_thread.shutdown(1.0)


def test_roleplay_tui_is_a_registered_command() -> None:
    from roleplay.cli.main import app

    result = CliRunner().invoke(app, ["tui", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--character", "--session", "--model", "--user"):
        assert option in result.output


def test_loading_the_command_imports_nothing_heavy() -> None:
    # The core CLI loads tui.cli for every `roleplay` command; Textual and torch must wait.
    code = (
        "import sys, json, tui.cli, tui.app\n"
        "print(json.dumps({m: m in sys.modules for m in "
        "('textual', 'torch', 'transformers', 'chromadb')}))"
    )
    probe = "import sys, json, tui.cli\nprint(json.dumps('textual' in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    assert json.loads(out.stdout) is False
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    loaded = json.loads(out.stdout)
    assert loaded == {"textual": True, "torch": False, "transformers": False, "chromadb": False}


def test_a_bad_steer_option_is_a_usage_error_before_anything_starts() -> None:
    from roleplay.cli.main import app

    result = CliRunner().invoke(app, ["tui", "--steer", "bogus=1"])
    assert result.exit_code == 2
    assert "unknown attribute 'bogus'" in result.output


def test_the_panel_says_how_steering_reached_the_model() -> None:
    from tui.turn_info import steering_method, steering_strengths

    vectors = {"steering": {"method": "control_vectors", "strengths": {"sentiment": 0.5}}}
    assert steering_method(vectors) == "as llama.cpp control vectors"
    assert steering_strengths(vectors)[0] == {"sentiment": 0.5}
    # On a server the strengths are requested and given as words: they are shown too.
    prompt = {"steering": {"method": "prompt", "strengths": {}, "requested": {"sentiment": -1}}}
    assert steering_method(prompt) == "as prompt guidance (no hidden states)"
    assert steering_strengths(prompt)[0] == {"sentiment": -1.0}
    assert steering_method({"steering": {"strengths": {}}}) == ""


def test_panel_lines_keep_every_bundled_name_whole_within_the_panel() -> None:
    from roleplay.control.attributes import bundled_attributes_dir
    from tui.widgets.turn_panel import PANEL_TEXT_WIDTH, big_five_meters, steering_lines

    card = load_card(MIRA)
    meters = big_five_meters(card).plain.splitlines()
    assert [line.split()[0] for line in meters] == [
        "openness",
        "conscientiousness",
        "extraversion",
        "agreeableness",
        "neuroticism",
    ]
    assert all(len(line) == PANEL_TEXT_WIDTH for line in meters)

    names = sorted(path.stem for path in bundled_attributes_dir().glob("*.yaml"))
    assert "conscientiousness" in names
    for subset in (names, [n for n in names if len(n) <= 13], ["warmth", "formality"]):
        strengths = {name: 0.25 for name in subset}
        lines = [line.plain for line in steering_lines(strengths, 1.0, selected=0)]
        assert all(len(line) <= PANEL_TEXT_WIDTH for line in lines), lines
        for name in subset:
            assert any(name in line[1:].split() for line in lines), name  # after the ▸
        assert "…" not in "".join(lines)
        assert sum("│" in line for line in lines) == len(subset)  # one bar each
    # Short names share a line with their bar; a 17-letter one puts every bar underneath.
    assert len(steering_lines({"agreeableness": 0.5}, 1.0)) == 1
    assert len(steering_lines({"conscientiousness": 0.5, "warmth": 0.1}, 1.0)) == 4
