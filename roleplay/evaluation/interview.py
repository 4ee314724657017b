"""Interview one character with the questionnaire, through the chat pipeline's prompt path.

Each item is put to the character by ``Conversation.prepare`` (card system prompt, recalled
memories in the memory condition, the question as the user turn), in a session of a
temporary store that is deleted afterwards, so interviews never show up among the user's
sessions. The controller's steering hooks are installed around the forward passes exactly
as around chat generation. Nothing is generated token by token: each method reads what it
needs from one batched forward pass (see ``forward.py``):

- expected-likert and grammar: the next-token distribution after each question;
- likelihood: ``log P(statement | "describe yourself")`` for every item statement, with the
  same quantity under a neutral role-player (computed once per model) as the baseline.

On an OpenAI-compatible server (the openai backend) no text can be scored, but the server
reports the most likely first tokens of a reply (``top_logprobs``): expected-likert asks each
item as a chat request for one token and reads the answer digits' probabilities from them
(an item whose top 20 tokens hold no answer digit counts as the middle answer, and is
counted in ``unanswered``). Likelihood and grammar need a local backend.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roleplay.engine.base import ChatMessage, capabilities_of
from roleplay.engine.forward import RowsDone
from roleplay.engine.scorer import LogprobScorer, scorer_for
from roleplay.errors import RoleplayError
from roleplay.evaluation import parts
from roleplay.evaluation.drift import load_drift_script, play_turns
from roleplay.evaluation.plan import Condition, Method, uses_controller, uses_memory
from roleplay.evaluation.questionnaire import (
    InterviewSettings,
    Questionnaire,
    load_interview_settings,
    load_questionnaire,
)
from roleplay.pipeline import ChatPipeline, Conversation
from roleplay.prompting.builder import DEFAULT_MEMORY_POSITION, MemoryPosition, PromptLayout
from roleplay.sessions import Message, SessionStore

if TYPE_CHECKING:
    from roleplay.control.config import Scope
    from roleplay.control.vectors import Combination
    from roleplay.memory.settings import RememberPolicy

LIKERT_METHODS = (Method.EXPECTED_LIKERT, Method.GRAMMAR)


@dataclass
class ItemResponses:
    """What one character "answered", per item id, under one condition."""

    option_probabilities: dict[int, list[float]] = field(default_factory=dict)
    grammar_answers: dict[int, int] = field(default_factory=dict)
    log_likelihoods: dict[int, float] = field(default_factory=dict)
    neutral_log_likelihoods: dict[int, float] = field(default_factory=dict)
    controls: dict[str, Any] = field(default_factory=dict)  # controller.describe(), if any
    recalled_memories: int = 0  # memories in the prompts (memory condition), summed over items
    # history messages the likelihood prompt left out to fit the context (oldest first)
    dropped_messages: int = 0
    unanswered: int = 0  # server interviews: items with no answer digit among the top tokens

    @property
    def likelihood_differences(self) -> dict[int, float]:
        return {
            item: value - self.neutral_log_likelihoods[item]
            for item, value in self.log_likelihoods.items()
        }


@dataclass(frozen=True)
class HistoryView:
    """A drift diagnostic's view of a played conversation (``Interviewer.
    interview_history_views``): which of its messages the interview's prompt shows,
    whether the character's note joins them (it does in chat once there is history), and
    which of a written note's parts it says (``NOTE_PARTS``; None: chat's)."""

    messages: Callable[[list[Message]], list[Message]]
    character_note: bool = True
    note_parts: frozenset[str] | None = None


@dataclass(frozen=True)
class HistoryViewAnswers:
    """A drift diagnostic's answers: at the start, and per view of the played history; with
    the neutral role-player's likelihoods given each view's history (per view, per item)."""

    start: ItemResponses
    views: dict[str, ItemResponses]
    neutral_with_history: dict[str, dict[int, float]]
    # Per view, the messages of its history the character's prompt kept within the context
    # (the neutral role-player is given those); fewer than the view's when the chat is long.
    kept_messages: dict[str, int] = field(default_factory=dict)


def reads_top_tokens_only(engine: object) -> bool:
    """True for a backend that reports only the likeliest next tokens (a server): the
    interview then runs expected-likert from them, and nothing that scores text."""
    capabilities = capabilities_of(engine)
    return capabilities.top_logprobs and not capabilities.logprobs


def unsupported_reason(engine: object, method: Method) -> str | None:
    """Why this backend cannot run ``method`` (None when it can)."""
    if reads_top_tokens_only(engine):
        if method is Method.EXPECTED_LIKERT:
            return None
        return (
            f"the {method.value} method needs log-probabilities of arbitrary text, which the "
            f"{capabilities_of(engine).backend} backend does not report; use --method "
            "expected-likert"
        )
    if method is Method.GRAMMAR and not scorer_for(engine).supports_grammar_method:
        return "the grammar method needs the transformers backend"
    return None


def server_option_probabilities(
    alternatives: dict[str, float], options: Sequence[str]
) -> list[float] | None:
    """Each option's share of the probability the top tokens give to the options (a token
    counts for an option when it spells it, with or without spaces); None when no top token
    is an option."""
    mass = [0.0] * len(options)
    for text, logprob in alternatives.items():
        answer = text.strip()
        if answer in options:
            mass[options.index(answer)] += math.exp(logprob)
    total = sum(mass)
    return [value / total for value in mass] if total > 0 else None


def token_ids(engine: object, text: str) -> list[int]:
    return scorer_for(engine).token_ids(text)


def option_token_ids(scorer: LogprobScorer, options: Sequence[str]) -> list[list[int]]:
    """For each answer option, the single tokens that spell it (``"3"`` and ``" 3"``).

    A model may start its answer with or without a space; both count for the option.
    """
    result = []
    for option in options:
        ids: list[int] = []
        for variant in (option, f" {option}"):
            token = scorer.single_token(variant)
            if token is not None and token not in ids:
                ids.append(token)
        if not ids:
            raise RoleplayError(
                f"the model's tokenizer has no single token for the answer {option!r}; "
                "use the likelihood method with this model"
            )
        result.append(ids)
    return result


class Interviewer:
    """Runs interviews on one engine; the neutral baseline is computed once and reused."""

    def __init__(
        self,
        engine: object,
        *,
        questionnaire: Questionnaire | None = None,
        settings: InterviewSettings | None = None,
        batch_size: int | None = None,
        rows_done: RowsDone | None = None,
        prompt_layout: PromptLayout = "system",
        character_notes: bool = True,
        note_depth: int | None = None,
        note_parts: frozenset[str] | None = None,
        remember_policy: RememberPolicy | None = None,
        memory_pools: bool = False,
        memory_position: MemoryPosition = DEFAULT_MEMORY_POSITION,
        recalled_memories: int | None = None,
        steering_combination: Combination | None = None,
        steering_scope: Scope | None = None,
        steering_max_combined_strength: float | None = None,
        steered_traits: Sequence[str] | None = None,
        strengths_by_character: Mapping[str, Mapping[str, float]] | None = None,
        conversation_seed: int | None = None,
        decouple_traits: bool | None = None,
        reply_half_life: float | None = None,
    ) -> None:
        """Ablations (``benchmarks/persona_drift.py``): ``character_notes=False`` leaves the
        character's note out of every prompt, ``note_depth`` places it that many messages
        from the end instead of chat's 1, ``note_parts`` has a written note say only those
        of its parts (``NOTE_PARTS``; default: chat's); ``remember_policy`` overrides what a drift
        run's turns leave in memory; ``memory_pools`` recalls what the user said apart from
        the card's memories; ``memory_position`` places the recalled memories in the system
        block (``roleplay.prompting.builder``); ``recalled_memories`` is how many a turn
        recalls (default: chat's); ``steering_combination`` how the traits' steering vectors
        make one (``roleplay.control.vectors``; default: steering.yaml's);
        ``steering_scope`` which tokens they act on (``all`` or ``reply``; likewise);
        ``steering_max_combined_strength`` the bound on their sum's norm (likewise);
        ``steered_traits`` steers only those Big Five traits (default: all five);
        ``strengths_by_character`` steers the named characters at those strengths instead
        of their cards'; ``decouple_traits`` steers the Big Five at the strengths that
        cancel the vectors' cross-talk, or at the cards' (default: steering.yaml's);
        ``reply_half_life`` decays the vectors over each generated reply (tokens; default:
        steering.yaml's); ``conversation_seed`` samples the scripted conversation's replies
        from another seed (default: the script's), to measure how much fidelity depends on
        the one conversation sampled."""
        self.engine: Any = engine
        self.prompt_layout = prompt_layout
        self.character_notes = character_notes
        self.note_depth = note_depth
        self.note_parts = note_parts
        self.remember_policy = remember_policy
        self.memory_pools = memory_pools
        self.memory_position = memory_position
        self.recalled_memories = recalled_memories
        self.steering_combination = steering_combination
        self.steering_scope = steering_scope
        self.steering_max_combined_strength = steering_max_combined_strength
        self.steered_traits = steered_traits
        self.strengths_by_character = strengths_by_character
        self.conversation_seed = conversation_seed
        self.decouple_traits = decouple_traits
        self.reply_half_life = reply_half_life
        self.top_tokens_only = reads_top_tokens_only(engine)
        self._scorer = None if self.top_tokens_only else scorer_for(engine)
        self.questionnaire = questionnaire or load_questionnaire()
        self.settings = settings or load_interview_settings()
        self.batch_size = batch_size or self.settings.batch_size
        self.rows_done = rows_done
        self._neutral: dict[int, float] | None = None
        self._options: list[list[int]] | None = None
        self.drift = load_drift_script()

    @property
    def scorer(self) -> LogprobScorer:
        if self._scorer is None:
            backend = capabilities_of(self.engine).backend
            raise RoleplayError(
                f"the {backend} backend reports no log-probabilities of arbitrary text; "
                "on a server, use --method expected-likert"
            )
        return self._scorer

    def rows(self, methods: Sequence[Method]) -> int:
        """Forward-pass rows one interview needs (for a progress bar)."""
        count = len(self.questionnaire.items)
        likert = any(method in LIKERT_METHODS for method in methods)
        return count * (int(likert) + int(Method.LIKELIHOOD in methods))

    def neutral_rows(self) -> int:
        return len(self.questionnaire.items) if self._neutral is None else 0

    def interview(
        self, card_path: Path, condition: Condition, methods: Sequence[Method]
    ) -> ItemResponses:
        """The character's answers at the start of a conversation."""
        return self.interview_over_turns(card_path, condition, methods, [0])[0]

    def interview_over_turns(
        self,
        card_path: Path,
        condition: Condition,
        methods: Sequence[Method],
        checkpoints: Sequence[int],
        *,
        turn_done: Callable[[int], None] | None = None,
    ) -> dict[int, ItemResponses]:
        """The answers after each number of turns of the scripted conversation (``drift``);
        checkpoint 0 is the start, with no history. One conversation is played up to the
        last checkpoint and interviewed on the way; memory writes go to a scratch store."""
        answers: dict[int, ItemResponses] = {}
        with self._scratch_conversation(card_path, condition, any(checkpoints)) as conversation:
            played = 0
            for turns in sorted(set(checkpoints)):
                play_turns(
                    conversation,
                    played,
                    turns,
                    self.drift,
                    seed=self.conversation_seed,
                    turn_done=turn_done,
                )
                played = turns
                history = conversation.messages() if turns else []
                answers[turns] = self._answers(conversation, methods, history)
        return answers

    def played_conversation(
        self, card_path: Path, condition: Condition, turns: int
    ) -> list[Message]:
        """The messages of the scripted conversation's first ``turns`` turns, played as a
        drift run plays them (memory written to a scratch store and forgotten)."""
        with self._scratch_conversation(card_path, condition, True) as conversation:
            play_turns(conversation, 0, turns, self.drift, seed=self.conversation_seed)
            return conversation.messages()

    def interview_history_views(
        self,
        card_path: Path,
        condition: Condition,
        turns: int,
        views: Mapping[str, HistoryView],
        *,
        turn_done: Callable[[int], None] | None = None,
    ) -> HistoryViewAnswers:
        """A diagnostic of drift (``benchmarks/drift_sources.py``): the likelihood interview
        at the start, then after ``turns`` scripted turns played once, with each view of the
        conversation's history in the interview's prompt (the memories it left and the
        controller stay as played). Each view is also scored against the neutral
        role-player given that same history, which tells a change of the character apart
        from one any role-player shows after such a conversation."""
        methods = [Method.LIKELIHOOD]
        with self._scratch_conversation(card_path, condition, True) as conversation:
            start = self._answers(conversation, methods, [])
            play_turns(
                conversation, 0, turns, self.drift, seed=self.conversation_seed, turn_done=turn_done
            )
            played = conversation.messages()
            answers: dict[str, ItemResponses] = {}
            neutral: dict[str, dict[int, float]] = {}
            kept_messages: dict[str, int] = {}
            builder = conversation.pipeline.builder
            played_with_notes, played_note_parts = builder.character_notes, builder.note_parts
            for name, view in views.items():
                history = view.messages(played)
                builder.character_notes = played_with_notes and view.character_note
                if view.note_parts is not None:
                    builder.note_parts = view.note_parts
                try:
                    answers[name] = self._answers(conversation, methods, history)
                finally:
                    builder.character_notes = played_with_notes
                    builder.note_parts = played_note_parts
                # The neutral role-player reads what the character's prompt kept of the view
                # (the oldest messages go first when the context is full).
                kept = history[answers[name].dropped_messages :]
                neutral[name] = self.neutral_log_likelihoods(kept)
                kept_messages[name] = len(kept)
        return HistoryViewAnswers(start, answers, neutral, kept_messages)

    @contextlib.contextmanager
    def _scratch_conversation(
        self, card_path: Path, condition: Condition, writes_memory: bool
    ) -> Iterator[Conversation]:
        """A conversation in a throwaway session store; with ``writes_memory`` its memory
        writes go to a scratch store, forgotten afterwards (else memory is recall-only)."""
        with tempfile.TemporaryDirectory(prefix="roleplay-interview-") as folder:
            store = SessionStore(Path(folder) / "interview.sqlite3")
            scratch = Path(folder) / "memory" if writes_memory else None
            try:
                yield self._conversation(store, card_path, condition, scratch)
            finally:
                store.close()
                if scratch is not None:
                    parts.forget_scratch_memory(scratch)

    def _answers(
        self, conversation: Conversation, methods: Sequence[Method], history: list[Message]
    ) -> ItemResponses:
        responses = ItemResponses()
        controller = conversation.controller
        if controller is not None:
            responses.controls = controller.describe()
        steering = controller.steering() if controller else contextlib.nullcontext()
        with steering:
            if any(method in LIKERT_METHODS for method in methods):
                self._likert(conversation, methods, responses, history)
            if Method.LIKELIHOOD in methods:
                self._likelihood(conversation, responses, history)
        if Method.LIKELIHOOD in methods:
            responses.neutral_log_likelihoods = self.neutral_log_likelihoods()
        return responses

    def _conversation(
        self,
        store: SessionStore,
        card_path: Path,
        condition: Condition,
        scratch_memory: Path | None = None,
    ) -> Conversation:
        """``scratch_memory``: a folder for a memory that is written (a drift run's), else
        memory is recalled only (the interview leaves the user's memories untouched)."""
        control_factory = memory_factory = None
        if uses_controller(condition):
            control_factory = parts.controller_factory(
                self.engine,
                self.steering_combination,
                self.steering_scope,
                self.steering_max_combined_strength,
                self.steered_traits,
                self.strengths_by_character,
                decouple_traits=self.decouple_traits,
                reply_half_life=self.reply_half_life,
            )
            if control_factory is None:
                raise RoleplayError(
                    parts.missing_reason(
                        f"condition {condition.value!r} needs roleplay.control",
                        parts.controller_missing(),
                    )
                )
        if uses_memory(condition):
            memory_factory = (
                parts.scratch_memory_factory(
                    scratch_memory,
                    self.remember_policy,
                    memory_pools=self.memory_pools,
                    recalled_memories=self.recalled_memories,
                )
                if scratch_memory is not None
                else parts.memory_factory(self.recalled_memories)
            )
            if memory_factory is None:
                raise RoleplayError(
                    parts.missing_reason(
                        f"condition {condition.value!r} needs roleplay.memory",
                        parts.memory_missing(),
                    )
                )
        pipeline = ChatPipeline(
            self.engine,
            store,
            # A drift run's replies are sampled as the script says; a turn-0 interview
            # generates nothing and keeps the chat's defaults (and so its token budget).
            settings=self.drift.settings() if scratch_memory is not None else None,
            control_factory=control_factory,
            memory_factory=memory_factory,
            prompt_layout=self.prompt_layout,
            character_notes=self.character_notes,
            memory_position=self.memory_position,
            note_depth=self.note_depth,
        )
        if self.note_parts is not None:
            pipeline.builder.note_parts = self.note_parts
        return pipeline.start(card_path, user_name=self.settings.interviewer_name, greeting=False)

    def _prompt_ids(
        self, conversation: Conversation, question: str, history: list[Message]
    ) -> tuple[list[int], int]:
        prepared = conversation.prepare(question, history=history)
        return self.scorer.token_ids(prepared.prompt.text), len(prepared.prompt.memories)

    def _likert(
        self,
        conversation: Conversation,
        methods: Sequence[Method],
        responses: ItemResponses,
        history: list[Message],
    ) -> None:
        items = self.questionnaire.items
        if self.top_tokens_only:
            self._likert_from_top_tokens(conversation, responses, history)
            return
        prompts = []
        for item in items:
            ids, memories = self._prompt_ids(conversation, self.settings.likert.ask(item), history)
            prompts.append(ids)
            responses.recalled_memories += memories
        logprobs = self.scorer.next_token_logprobs(
            prompts, batch_size=self.batch_size, rows_done=self.rows_done
        )
        if Method.EXPECTED_LIKERT in methods:
            options = self._option_ids()
            probabilities = logprobs.exp()
            for row, item in enumerate(items):
                mass = [float(probabilities[row, ids].sum()) for ids in options]
                total = sum(mass)
                responses.option_probabilities[item.id] = [p / total for p in mass]
        if Method.GRAMMAR in methods:
            answers = self._grammar_answers(logprobs, [prompt[-1:] for prompt in prompts])
            for item, answer in zip(items, answers, strict=True):
                responses.grammar_answers[item.id] = answer

    def _likert_from_top_tokens(
        self, conversation: Conversation, responses: ItemResponses, history: list[Message]
    ) -> None:
        """expected-likert on a server: one request per item, for one token."""
        options = list(self.settings.likert.options)
        middle = [1.0 if index == len(options) // 2 else 0.0 for index in range(len(options))]
        for item in self.questionnaire.items:
            prepared = conversation.prepare(self.settings.likert.ask(item), history=history)
            responses.recalled_memories += len(prepared.prompt.memories)
            alternatives = self.engine.next_token_alternatives(prepared.prompt.messages)
            probabilities = server_option_probabilities(alternatives, options)
            if probabilities is None:
                responses.unanswered += 1
                probabilities = middle
            responses.option_probabilities[item.id] = probabilities
            if self.rows_done is not None:
                self.rows_done(1)

    def _grammar_answers(self, logprobs: Any, last_tokens: list[list[int]]) -> list[int]:
        """The greedy first token each row may produce under the Likert grammar."""
        import torch

        if not self.scorer.supports_grammar_method:
            raise RoleplayError(
                f"the grammar method needs the transformers backend (this is {self.scorer.backend}"
                "); use the likelihood or expected-likert method"
            )
        processor = parts.likert_grammar_processor(
            self.engine.tokenizer, self.settings.likert.grammar
        )
        if processor is None:
            raise RoleplayError(
                parts.missing_reason(
                    "the grammar method needs roleplay.control.grammar",
                    parts.grammar_missing(),
                )
            )
        # One fresh processor for the whole batch: on its first call transformers-cfg only
        # needs the batch size from input_ids, and it masks every row with the grammar.
        masked = processor(torch.tensor(last_tokens), logprobs.clone())
        options = list(self.settings.likert.options)
        answers = []
        for token in masked.argmax(dim=-1).tolist():
            text = self.engine.tokenizer.decode([int(token)]).strip()
            if text not in options:
                raise RoleplayError(
                    f"grammar {self.settings.likert.grammar!r} allowed {text!r}, "
                    f"which is not one of the options {options}"
                )
            answers.append(options.index(text) + 1)
        return answers

    def _statements(self) -> list[list[int]]:
        return [self.scorer.token_ids(item.statement) for item in self.questionnaire.items]

    def _likelihood(
        self, conversation: Conversation, responses: ItemResponses, history: list[Message]
    ) -> None:
        prepared = conversation.prepare(self.settings.likelihood.request, history=history)
        responses.recalled_memories += len(prepared.prompt.memories) * len(self.questionnaire.items)
        responses.dropped_messages = prepared.prompt.dropped_messages
        context = self.scorer.token_ids(prepared.prompt.text)
        responses.log_likelihoods.update(self._statement_scores(context))

    def neutral_log_likelihoods(self, history: Sequence[Message] = ()) -> dict[int, float]:
        """``log P(statement | neutral role-player asked to describe itself)`` per item.

        Never steered and without memory: it is the baseline every character and every
        condition is compared with. ``history`` (a drift diagnostic's) puts a conversation
        before the request; the baseline without one is computed once and reused.
        """
        if history:
            return self._neutral_scores(history)
        if self._neutral is None:
            self._neutral = self._neutral_scores(())
        return dict(self._neutral)

    def _neutral_scores(self, history: Sequence[Message]) -> dict[int, float]:
        likelihood = self.settings.likelihood
        prompt = self.engine.render_chat(
            [
                ChatMessage("system", likelihood.neutral_system_prompt),
                *(ChatMessage(message.role, message.content) for message in history),
                ChatMessage("user", likelihood.request),
            ]
        )
        return self._statement_scores(self.scorer.token_ids(prompt))

    def _statement_scores(self, context: list[int]) -> dict[int, float]:
        """``log P(statement | context)`` per item id."""
        statements = self._statements()
        scores = self.scorer.continuation_logprobs(
            [context] * len(statements),
            statements,
            batch_size=self.batch_size,
            rows_done=self.rows_done,
        )
        items = self.questionnaire.items
        return {item.id: score for item, score in zip(items, scores, strict=True)}

    def _option_ids(self) -> list[list[int]]:
        if self._options is None:
            self._options = option_token_ids(self.scorer, self.settings.likert.options)
        return self._options
