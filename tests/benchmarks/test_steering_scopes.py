"""benchmarks/steering_llama_cpp.py --scopes: which tokens are steered, side by side."""

from __future__ import annotations

import pytest

from benchmarks.steering_llama_cpp import parse_scopes, row_label


def test_scopes_are_read_in_one_order_and_marked_in_the_rows() -> None:
    assert parse_scopes("all") == ["all"]
    assert parse_scopes("reply, all") == ["all", "reply"]
    assert row_label("extraversion", "all") == "extraversion"  # the published rows' names
    assert row_label("extraversion", "reply") == "extraversion, reply only"


@pytest.mark.parametrize("text", ["prompt", "", "all,prompt", " , "])
def test_an_unknown_scope_stops_the_run_naming_the_known_ones(text: str) -> None:
    with pytest.raises(SystemExit, match="use one or more of all, reply"):
        parse_scopes(text)
