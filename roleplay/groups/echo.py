"""The echo guard of a group scene: a reply that repeats the others is generated again.

Small models in a scene tend to say the previous line again. After a character's reply is
generated and before it is stored, ``GuardedReply`` measures how much of it the character
already heard from someone else (from its own seat: what was said while it was present, the
user's lines included, scene events not). Above ``max_overlap`` the reply is generated again
with a new seed (``seed + 1000 * try``, the scene runner's rule), up to ``retries`` times,
and only the least repetitive attempt is stored: a rejected attempt never reaches the
session, the characters' memories or a profile.

The measure and its settings are ``roleplay.dialogue``'s (``repetition.echo_overlap`` and
``echo_guard`` in ``dialogue/data/dialogue.yaml``, as ``roleplay generate scene`` uses
them). That package sits above this one (it imports ``roleplay.groups.speakers``), so a face
hands them in as an ``EchoGuard`` (``roleplay.cli.group_chat.echo_guard``); a scene without
one checks nothing.

Streaming: iterating a ``GuardedReply`` yields every attempt's text pieces, as a
``ReplyStream`` does. ``events()``, or an ``on_event`` listener, tells a face where each
attempt starts, which one was rejected (and how repetitive it was) and which one was kept,
so it can show a rejected attempt as such and end with the kept line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from roleplay.engine.base import GenerationStats
from roleplay.pipeline import PreparedTurn, ReplyStream, StreamConsumedError, TurnResult
from roleplay.sessions import Message

if TYPE_CHECKING:
    from roleplay.groups.scene import SceneMember

# Attempt k (k >= 1) samples with the turn's seed + RETRY_SEED_STEP * k.
RETRY_SEED_STEP = 1000

# (line, the others' earlier lines, n) -> the share of the line's word n-grams among theirs.
OverlapMeasure = Callable[[str, Sequence[str], int], float]


@dataclass(frozen=True)
class EchoGuard:
    """When a reply echoes the others, and how often it is generated again."""

    measure: OverlapMeasure  # roleplay.dialogue.repetition.echo_overlap
    ngram: int
    max_overlap: float  # above this share of repeated n-grams a reply is generated again
    retries: int  # 0: measured, never generated again

    def overlap(self, line: str, heard: Sequence[str]) -> float:
        return self.measure(line, heard, self.ngram)


def retry_seed(seed: int | None, attempt: int) -> int | None:
    """The seed of attempt ``attempt`` (0: the turn's own); None stays None (random)."""
    if seed is None or attempt == 0:
        return seed
    return seed + RETRY_SEED_STEP * attempt


# Events, in order: per attempt AttemptStarted, AttemptText..., then AttemptRejected or
# (for the last one) nothing; finally ReplyKept. A stopped or failed reply ends without
# ReplyKept (the kept attempt is in ``GuardedReply.result`` all the same).


@dataclass(frozen=True)
class AttemptStarted:
    speaker: str
    attempt: int  # 0: the first
    seed: int | None


@dataclass(frozen=True)
class AttemptText:
    speaker: str
    attempt: int
    text: str  # one streamed piece


@dataclass(frozen=True)
class AttemptRejected:
    """The attempt just streamed echoes the others; the next one follows."""

    speaker: str
    attempt: int
    overlap: float  # the share of its word n-grams the speaker heard from others


@dataclass(frozen=True)
class ReplyKept:
    speaker: str
    attempt: int  # the kept attempt; not the last one streamed when that was worse
    attempts: int  # how many were generated
    retries: int  # how many were rejected
    overlap: float | None  # the kept reply's (None: the guard is off)
    result: TurnResult  # the stored reply (``result.message`` is None when it is empty)


ReplyEvent = AttemptStarted | AttemptText | AttemptRejected | ReplyKept
ReplyListener = Callable[[ReplyEvent], None]


@dataclass
class _Attempt:
    index: int
    seed: int | None
    text: str = ""
    stats: GenerationStats = field(default_factory=GenerationStats)
    interrupted: bool = True  # until the pipeline records how it ended
    overlap: float | None = None

    def record(self, text: str, stats: GenerationStats, interrupted: bool) -> None:
        self.text, self.stats, self.interrupted = text, stats, interrupted


class GuardedReply(ReplyStream):
    """One character line of a group scene, generated until it no longer echoes the others.

    A ``ReplyStream`` (iterate it for text pieces; ``result``, ``stats`` and ``prepared``
    as usual, ``stats`` being the kept attempt's), plus ``events()``, ``retries`` (attempts
    rejected), ``attempts`` and ``overlap`` (the kept reply's). ``text()`` returns the kept
    line. Stopping it (a closed iterator, ``cancel``, Ctrl+C) ends the retries: the attempt
    cut short is kept (marked interrupted) when it has text, else the least echoing finished
    one. A failed attempt stores nothing and raises, as a failed reply does.
    """

    def __init__(
        self,
        member: SceneMember,
        parent: Message,
        prepared: PreparedTurn,
        *,
        heard: Sequence[str],
        guard: EchoGuard | None,
        seed: int | None = None,
        cancel: threading.Event | None = None,
        on_event: ReplyListener | None = None,
    ) -> None:
        super().__init__(member, parent, prepared, member._settings(seed), cancel)
        self.member = member
        self.speaker = member.name
        self.parent = parent
        self.heard = list(heard)
        self.guard = guard
        self.seed = seed
        self.on_event = on_event
        self.cancel = cancel
        self.retries = 0
        self.attempts = 0
        self.overlap: float | None = None
        self.kept_attempt: int | None = None
        self._claimed = False

    # Consuming ----------------------------------------------------------------------------

    def events(self) -> Iterator[ReplyEvent]:
        """The reply as events (see the module docstring); like iterating, once only."""
        if self._claimed:
            raise StreamConsumedError(
                "this reply stream was already iterated; it generates one reply only "
                "(reply or regenerate give a new stream)"
            )
        self._claimed = True
        return self._run()

    def __iter__(self) -> Iterator[str]:
        return self._pieces(self.events())

    def _pieces(self, events: Iterator[ReplyEvent]) -> Iterator[str]:
        try:
            for event in events:
                if isinstance(event, AttemptText):
                    yield event.text
        finally:
            _close(events)

    def text(self) -> str:
        """Consume the stream; the kept line ("" when nothing was stored)."""
        for _ in self:
            pass
        return self.kept_text

    @property
    def kept_text(self) -> str:
        result = self.result
        return result.message.content if result is not None and result.message else ""

    # Generating ---------------------------------------------------------------------------

    def _emit(self, event: ReplyEvent) -> ReplyEvent:
        if self.on_event is not None:
            self.on_event(event)
        return event

    def _seed_for(self, attempt: int) -> int | None:
        if attempt == 0:
            return self.seed
        base = self.seed if self.seed is not None else self.member.pipeline.settings.seed
        return retry_seed(base, attempt)

    def _run(self) -> Iterator[ReplyEvent]:
        guard = self.guard
        tries = 1 + (guard.retries if guard is not None else 0)
        best: _Attempt | None = None  # the least echoing finished attempt
        current: _Attempt | None = None
        try:
            for index in range(tries):
                current = _Attempt(index, self._seed_for(index))
                self.attempts = index + 1
                yield self._emit(AttemptStarted(self.speaker, index, current.seed))
                yield from self._attempt(current)
                if current.interrupted or guard is None:
                    break
                overlap = guard.overlap(self.member.clean_reply(current.text), self.heard)
                current.overlap = overlap
                if best is None or best.overlap is None or overlap < best.overlap:
                    best = current
                if overlap <= guard.max_overlap or index + 1 == tries:
                    break
                self.retries += 1
                yield self._emit(AttemptRejected(self.speaker, index, round(overlap, 3)))
        except Exception:
            # Generation failed: nothing is stored (the rejected attempts neither), as a
            # failed reply stores nothing; the user's message stays.
            self._fail(current)
            raise
        except BaseException:  # stopped: a closed generator, Ctrl+C
            self._keep(self._stopped_choice(current, best))
            raise
        if current is not None and current.interrupted:
            kept = self._stopped_choice(current, best)
        else:
            kept = best or current
        result = self._keep(kept)
        if kept is not None and result is not None:
            yield self._emit(
                ReplyKept(
                    self.speaker,
                    kept.index,
                    self.attempts,
                    self.retries,
                    None if kept.overlap is None else round(kept.overlap, 3),
                    result,
                )
            )

    def _attempt(self, attempt: _Attempt) -> Iterator[ReplyEvent]:
        """Stream one attempt; the pipeline hands it to ``attempt.record``, not the store."""
        stream = ReplyStream(
            self.member,
            self.parent,
            self.prepared,
            self.member._settings(attempt.seed),
            self.cancel,
        )
        attempt.stats = self.stats = stream.stats  # a face reading stats live sees this one
        pieces = iter(stream)
        with self.member.drafting(attempt.record):
            try:
                for piece in pieces:
                    yield self._emit(AttemptText(self.speaker, attempt.index, piece))
            finally:
                _close(pieces)  # a stopped attempt records its partial text now

    def _stopped_choice(self, current: _Attempt | None, best: _Attempt | None) -> _Attempt | None:
        """What a stopped reply keeps: the attempt cut short while it was read, if it has
        text; else the least echoing finished one."""
        if current is not None and current.interrupted and self.member.clean_reply(current.text):
            return current
        return best or current

    def _keep(self, attempt: _Attempt | None) -> TurnResult | None:
        """Store ``attempt`` as the reply (once): the session, memories, the safety rating."""
        if attempt is None or self.result is not None:
            return self.result
        self.kept_attempt = attempt.index
        self.overlap = attempt.overlap
        self.stats = attempt.stats
        echo: dict[str, Any] = {}
        if self.retries:
            echo["echo_retries"] = self.retries
            if attempt.overlap is not None:
                echo["echo_overlap"] = round(attempt.overlap, 3)
        self.result = self.member.store_kept(
            self.parent, attempt.text, self.prepared, attempt.stats, attempt.interrupted, echo
        )
        return self.result

    def _fail(self, current: _Attempt | None) -> None:
        """A failed reply: nothing stored, as the pipeline does for one that fails."""
        stats = current.stats if current is not None else self.stats
        self.stats = stats
        self.result = TurnResult(
            message=None, stats=stats, prepared=self.prepared, interrupted=True
        )


def _close(iterator: Iterator[object]) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        close()
