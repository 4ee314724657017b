"""`roleplay persona ...` and `roleplay match`: exit 0 on success, one `error:` line and
exit 2 on a mistake, and `--json` that parses."""

from __future__ import annotations

import json

from roleplay.personas.store import active_persona, get_persona, personas_dir
from tests.personas.conftest import assert_one_line_error, invoke, write_card


def ok(*args: str) -> str:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return str(result.stdout)


def test_add_list_show_edit_use_remove() -> None:
    out = ok(
        "persona",
        "add",
        "--name",
        "Alex",
        "--description",
        "A night-owl student",
        "--big-five",
        "0.85,0.3,0.2,0.8,0.4",
        "--mbti",
        "infp",
        "--use",
    )
    assert "added persona 'Alex' (active)" in out
    scores = "openness=0.2,conscientiousness=0.9,extraversion=0.7,agreeableness=0.5,neuroticism=0.3"
    out = ok("persona", "add", "--name", "Bea", "--big-five", scores)
    assert "roleplay persona use Bea" in out

    table = ok("persona", "list")
    assert "big five (O C E A N)" in table
    assert "│ * │ Alex │ 0.85 0.30 0.20 0.80 0.40 │ INFP │ A night-owl student" in table
    assert "│   │ Bea  │ 0.20 0.90 0.70 0.50 0.30 │" in table
    records = json.loads(ok("persona", "list", "--json"))
    assert [(r["name"], r["active"], r["mbti"]) for r in records] == [
        ("Alex", True, "INFP"),
        ("Bea", False, None),
    ]
    assert records[0]["big_five"]["openness"] == 0.85

    shown = ok("persona", "show", "alex")
    assert shown.startswith("Alex (active)\nA night-owl student\n")
    assert "openness 0.85 (high)" in shown and "mbti: INFP" in shown
    assert json.loads(ok("persona", "show", "BEA", "--json"))["name"] == "Bea"

    out = ok(
        "persona",
        "edit",
        "alex",
        "--name",
        "Alexandra",
        "--mbti",
        "none",
        "--description",
        "A graduate",
    )
    assert "updated persona 'Alexandra' (was 'Alex')" in out
    renamed = get_persona("Alexandra")
    assert renamed.mbti is None and renamed.description == "A graduate"
    assert active_persona() == renamed

    assert "active persona: 'Bea'" in ok("persona", "use", "bea")
    assert "no persona is active now" in ok("persona", "use", "--none")
    assert active_persona() is None
    assert "removed persona 'Bea'" in ok("persona", "remove", "Bea")
    assert [r["name"] for r in json.loads(ok("persona", "list", "--json"))] == ["Alexandra"]


def test_empty_list() -> None:
    assert "No personas yet" in ok("persona", "list")
    assert json.loads(ok("persona", "list", "--json")) == []


def test_mistakes_are_one_line_errors() -> None:
    ok("persona", "add", "--name", "Alex")
    assert_one_line_error(invoke("persona", "add", "--name", "alex"), "a persona named 'Alex'")
    assert_one_line_error(invoke("persona", "show", "Carol"), "unknown persona 'Carol'", "'Alex'")
    assert_one_line_error(invoke("persona", "use", "Carol"), "unknown persona 'Carol'")
    assert_one_line_error(invoke("persona", "remove", "Carol"), "unknown persona 'Carol'")
    assert_one_line_error(invoke("persona", "edit", "Alex"), "nothing to change")
    assert_one_line_error(
        invoke("persona", "add", "--name", "Bea", "--big-five", "0.5,0.5"), "--big-five '0.5,0.5'"
    )
    assert_one_line_error(invoke("persona", "add", "--name", "Bea", "--mbti", "XXXX"), "mbti")
    assert_one_line_error(invoke("persona", "add", "--name", " "), "cannot be empty")
    assert_one_line_error(invoke("persona", "use"), "--none")
    (personas_dir() / "broken.yaml").write_text("name: [x\n", encoding="utf-8")
    assert_one_line_error(invoke("persona", "list"), "broken.yaml: not a persona file")


def test_contradicting_mbti_is_warned() -> None:
    result = invoke(
        "persona", "add", "--name", "Alex", "--big-five", "0.9,0.5,0.1,0.5,0.5", "--mbti", "ENFP"
    )
    assert result.exit_code == 0
    assert "warning: mbti: 'E' (extravert) means high extraversion" in result.stderr


def test_match_table_and_json() -> None:
    write_card("twin", "Twin", (0.9, 0.5, 0.9, 0.9, 0.1), "ENFJ")
    write_card("opposite", "Opposite", (0.1, 0.5, 0.1, 1.0, 0.0), "ISFJ")
    ok(
        "persona",
        "add",
        "--name",
        "Alex",
        "--big-five",
        "0.9,0.5,0.9,0.9,0.1",
        "--mbti",
        "ENFJ",
        "--use",
    )

    table = ok("match")
    assert "Characters for Alex (similar" in table
    assert "│ 1 │ Twin " in table and "Chat with one: roleplay chat -c twin --persona Alex" in table

    report = json.loads(ok("match", "--mode", "complementary", "--limit", "2", "--json"))
    assert report["persona"] == "Alex" and report["mode"] == "complementary"
    assert len(report["matches"]) == 2
    assert report["matches"][0]["card_name"] == "Opposite"
    assert report["matches"][0]["card_ref"] == "opposite"
    assert report["matches"][0]["reason"].startswith("complementary: ")
    assert report["notes"] == []

    ok("persona", "add", "--name", "Sam", "--mbti", "ENFJ")
    report = json.loads(ok("match", "--persona", "sam", "--json"))
    assert report["derived_from_mbti"] and report["matches"][0]["card_name"] == "Twin"


def test_match_mistakes_are_one_line_errors() -> None:
    assert_one_line_error(invoke("match"), "no persona")
    ok("persona", "add", "--name", "Alex")
    assert_one_line_error(invoke("match", "--persona", "Carol"), "unknown persona 'Carol'")
    assert_one_line_error(
        invoke("match", "--persona", "Alex"), "persona 'Alex' has no Big Five or MBTI"
    )
    ok("persona", "edit", "Alex", "--mbti", "INTP")
    assert_one_line_error(invoke("match", "--persona", "Alex", "--mode", "x"), "unknown match mode")
    assert_one_line_error(invoke("match", "--persona", "Alex", "--limit", "0"), "--limit")
