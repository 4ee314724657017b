"""The expected-likert interview over a real OpenAI-compatible server (llama-cpp-python's, on
loopback, the embedded default model) reads what the model in process reads.

The server reports only its top 20 first tokens, so digits outside them count for nothing:
the served answers must equal the in-process model's top 20 read the same way (same weights,
card and question; the server applies the GGUF's own chat template, as our llama.cpp backend
does). Against the full-vocabulary reading they are coarser, which the second test bounds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import pytest

from roleplay.engine.base import Capabilities, ChatMessage
from roleplay.engine.llama_cpp_engine import LlamaCppEngine
from roleplay.engine.openai_engine import MAX_TOP_LOGPROBS, OpenAIEngine
from roleplay.engine.scorer import scorer_for
from roleplay.evaluation.interview import Interviewer, ItemResponses
from roleplay.evaluation.plan import Condition, Method
from roleplay.evaluation.questionnaire import Item, Questionnaire, load_questionnaire
from roleplay.evaluation.scoring import expected_answer
from tests.conftest import REPO_ROOT
from tests.helpers.llama_server import Server, model_file, start_server, stop_server

pytestmark = pytest.mark.server
CONTEXT = 2048


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    started = start_server(log, "--n_ctx", str(CONTEXT))
    yield started
    stop_server(started.process)


def _short_questionnaire() -> Questionnaire:
    """Two items a trait, one keyed each way (20 requests instead of 50)."""
    chosen: list[Item] = []
    for item in load_questionnaire().items:
        if not any(c.trait == item.trait and c.keyed == item.keyed for c in chosen):
            chosen.append(item)
    return Questionnaire(items=tuple(chosen))


class InProcessTopTokens:
    """The in-process llama.cpp engine shown the way a server shows it: the top tokens only."""

    capabilities = Capabilities(backend="openai", steering="prompt", top_logprobs=True)

    def __init__(self, engine: LlamaCppEngine) -> None:
        self.engine = engine
        self.scorer = scorer_for(engine)
        self.model_id = engine.model_id
        self.context_window = engine.context_window

    def render_chat(self, messages: Sequence[ChatMessage]) -> str:
        return self.engine.render_chat(messages)

    def count_tokens(self, text: str) -> int:
        return self.engine.count_tokens(text)

    def next_token_alternatives(
        self, messages: Sequence[ChatMessage], count: int = MAX_TOP_LOGPROBS
    ) -> dict[str, float]:
        ids = self.scorer.token_ids(self.engine.render_chat(messages))
        logprobs = self.scorer.next_token_logprobs([ids], batch_size=1, rows_done=None)[0]
        values, tokens = logprobs.topk(count)
        alternatives: dict[str, float] = {}
        for value, token in zip(values.tolist(), tokens.tolist(), strict=True):
            text = self.scorer.decode(int(token))
            alternatives[text] = max(float(value), alternatives.get(text, float(value)))
        return alternatives


@pytest.fixture(scope="module")
def answers(server: Server) -> dict[str, ItemResponses]:
    """Mira's answers to the short questionnaire: served, in-process read through its top 20
    tokens, and in-process from the full vocabulary."""
    questionnaire = _short_questionnaire()
    card = REPO_ROOT / "characters" / "mira.yaml"
    local = LlamaCppEngine.load(str(model_file()), context_window=CONTEXT, threads=1)
    engines = {
        "served": OpenAIEngine(server.url, context_window=CONTEXT, timeout=60),
        "top": InProcessTopTokens(local),
        "full": local,
    }
    return {
        name: Interviewer(engine, questionnaire=questionnaire).interview(
            card, Condition.PROMPT, [Method.EXPECTED_LIKERT]
        )
        for name, engine in engines.items()
    }


def test_served_answers_are_the_models_top_tokens_read_as_answers(
    answers: dict[str, ItemResponses],
) -> None:
    served, top = answers["served"], answers["top"]
    assert len(served.option_probabilities) == 10
    assert served.option_probabilities.keys() == top.option_probabilities.keys()
    assert served.unanswered == top.unanswered == 0  # the default model answers with a digit
    for item, probabilities in served.option_probabilities.items():
        assert sum(probabilities) == pytest.approx(1.0)
        assert probabilities == pytest.approx(top.option_probabilities[item], abs=0.02)


def test_reading_only_the_top_tokens_moves_answers_little(
    answers: dict[str, ItemResponses],
) -> None:
    """Digits outside the top 20 are the unlikely ones, so dropping them pulls the expected
    answer toward the likeliest digit by a fraction of one Likert step (measured on the default
    model: 0.23-0.47 step, mean 0.39, over these 10 items)."""
    served, full = answers["served"], answers["full"]
    shifts = [
        abs(expected_answer(p) - expected_answer(full.option_probabilities[item]))
        for item, p in served.option_probabilities.items()
    ]
    assert max(shifts) < 0.75
    assert sum(shifts) / len(shifts) < 0.5


def test_eval_persona_over_a_server_runs_expected_likert_only(server: Server) -> None:
    from typer.testing import CliRunner

    from roleplay.cli.main import app

    runner = CliRunner()
    base = ["eval", "persona", "-c", "mira", "--conditions", "prompt"]
    remote = ["--backend", "openai", "--base-url", server.url, "--resamples", "0"]
    refused = runner.invoke(app, [*base, *remote, "--method", "likelihood"])
    assert refused.exit_code == 2
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in refused.stderr  # one line, no traceback
    assert "use --method expected-likert" in errors[0]
    default = runner.invoke(app, [*base, *remote, "--json"])
    assert default.exit_code == 0, default.stderr
    assert "likelihood method skipped" in default.stderr
    payload = json.loads(default.stdout)
    assert [r["method"] for r in payload["results"]] == ["expected-likert"]


def test_a_drift_run_plays_its_turns_through_the_server(server: Server) -> None:
    remote = OpenAIEngine(server.url, context_window=CONTEXT, timeout=60)
    interviewer = Interviewer(remote, questionnaire=_short_questionnaire())
    played: list[int] = []
    answers = interviewer.interview_over_turns(
        REPO_ROOT / "characters" / "mira.yaml",
        Condition.PROMPT,
        [Method.EXPECTED_LIKERT],
        [0, 2],
        turn_done=played.append,
    )
    assert played == [1, 2]
    assert answers.keys() == {0, 2}
    for responses in answers.values():
        assert len(responses.option_probabilities) == 10
    # Two turns of pulling away are in the prompt now: the answers are not the same.
    assert answers[2].option_probabilities != answers[0].option_probabilities
