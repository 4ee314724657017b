"""benchmarks/persona_fidelity.py's options: the cross-talk diagnostic's trait list and the
result file it writes (never the published run's)."""

from __future__ import annotations

import pytest

from benchmarks.persona_fidelity import _arguments, result_name, steered_traits


def test_steered_traits_are_parsed_and_checked() -> None:
    assert steered_traits(None) is None
    assert steered_traits(" neuroticism, agreeableness ") == ["neuroticism", "agreeableness"]
    with pytest.raises(SystemExit, match="--steered-traits: expected some of openness"):
        steered_traits("neuroticism,humour")
    with pytest.raises(SystemExit, match="--steered-traits"):
        steered_traits(" , ")


def test_the_diagnostic_writes_its_own_result_file() -> None:
    assert result_name(_arguments([])) == "persona_fidelity"
    diagnostic = _arguments(["--steered-traits", "neuroticism"])
    assert result_name(diagnostic) == "persona_fidelity_steered_neuroticism"
