"""A multi-character scene: one Conversation per character, one shared engine.

Every turn goes through the chat pipeline (``Conversation.send``), so each character speaks
with its own card prompt, its recalled memories and its own steering (installed only while
it speaks). A character sees what the others said since its last turn as one user message,
each line prefixed with the speaker's name:

    Narrator: The scene: a storm is coming.
    Sable: Then we leave tonight.

Its own earlier lines are its assistant turns. Its system prompt names the others and the
topic and asks for its own next line only (``scene_prompt``); a line that still repeats
another's (``echo_guard`` in data/dialogue.yaml) is generated again, and the least
repetitive version is kept (``LineRetried`` tells a face). The characters' sessions live
in a temporary store unless the caller passes one, so scenes do not clutter the user's
sessions; memory is read, never written (``RecallOnlyMemory``).

``SceneRunner.run()`` yields events as the scene unfolds, so a face can stream it.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from roleplay.cards.loader import load_card
from roleplay.cards.model import Card
from roleplay.dialogue.repetition import echo_overlap
from roleplay.dialogue.settings import DialogueSettings, load_dialogue_settings
from roleplay.dialogue.turns import Line, NextSpeakerScorer, Policy, next_speaker
from roleplay.engine.base import GenerationSettings
from roleplay.errors import RoleplayError
from roleplay.pipeline import (
    ChatPipeline,
    ControlFactory,
    Conversation,
    MemoryFactory,
    ReplyStream,
)
from roleplay.prompting.builder import SceneContext, topic_note_text
from roleplay.sessions import SessionStore


@dataclass(frozen=True)
class SceneSpec:
    """Everything that determines a scene (with the model): its JSON is the resume key."""

    scene_id: str
    characters: tuple[Path, ...]
    topic: str
    turns: int
    policy: Policy = Policy.ROUND_ROBIN
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.turns < 1:
            raise RoleplayError(f"--turns must be at least 1, got {self.turns}")
        if len(self.characters) < 2:
            raise RoleplayError("a scene needs at least two characters")
        if not self.topic.strip():
            raise RoleplayError("the scene topic is empty")

    def describe(self, names: Sequence[str]) -> dict[str, Any]:
        return {
            "scene_id": self.scene_id,
            "characters": list(names),
            "topic": self.topic,
            "turns": self.turns,
            "policy": self.policy.value,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class Utterance:
    scene_id: str
    turn: int  # 0-based
    speaker: str
    text: str
    traits: dict[str, float] = field(default_factory=dict)  # the speaker card's Big Five


@dataclass(frozen=True)
class SpeakerStarted:
    turn: int
    speaker: str


@dataclass(frozen=True)
class TextPiece:
    text: str


@dataclass(frozen=True)
class LineRetried:
    """The line just streamed repeated another speaker's; it is being generated again."""

    turn: int
    speaker: str
    overlap: float  # the share of its word n-grams found in the others' earlier lines


@dataclass(frozen=True)
class UtteranceDone:
    utterance: Utterance


SceneEvent = SpeakerStarted | TextPiece | LineRetried | UtteranceDone


def clean_line(text: str, speaker: str) -> str:
    """The reply as a scene line: surrounding space and an echoed ``Name:`` removed."""
    cleaned = text.strip()
    cleaned = re.sub(rf"^\s*{re.escape(speaker)}\s*:\s*", "", cleaned)
    return cleaned.strip()


class SceneRunner:
    """Plays one scene on an engine. Build it, then iterate ``run()``."""

    def __init__(
        self,
        engine: Any,
        spec: SceneSpec,
        *,
        control_factory: ControlFactory | None = None,
        memory_factory: MemoryFactory | None = None,
        speaker_scorer: NextSpeakerScorer | None = None,
        settings: DialogueSettings | None = None,
        generation: GenerationSettings | None = None,
        store: SessionStore | None = None,
        scene_prompt: bool = True,
        echo_guard: bool = True,
    ) -> None:
        """``scene_prompt`` and ``echo_guard`` switch off the repetition controls (the
        dialogue benchmark measures the scene with and without them)."""
        self.engine = engine
        self.spec = spec
        self.settings = settings or load_dialogue_settings()
        self.cards: list[Card] = [load_card(path) for path in spec.characters]
        self.names = [card.name for card in self.cards]
        if len(set(self.names)) != len(self.names):
            raise RoleplayError("two characters of the scene have the same name")
        if self.settings.narrator in self.names:
            raise RoleplayError(f"a character may not be called {self.settings.narrator!r}")
        self.control_factory = control_factory
        self.memory_factory = memory_factory
        self.speaker_scorer = speaker_scorer
        base = generation or self.settings.generation_settings()
        # A line ends where the model starts writing someone else's line.
        stops = tuple(f"\n{name}:" for name in [*self.names, self.settings.narrator])
        self.generation = replace(base, stop_strings=(*base.stop_strings, *stops))
        self._store = store
        self.scene_prompt = scene_prompt
        self.echo_guard = echo_guard
        self.lines: list[Line] = []

    def participants_label(self, speaker: str) -> str:
        return self.settings.others_label([name for name in self.names if name != speaker])

    def run(self) -> Iterator[SceneEvent]:
        if self._store is not None:
            yield from self._play(self._store)
            return
        with tempfile.TemporaryDirectory(prefix="roleplay-scene-") as folder:
            store = SessionStore(Path(folder) / "scene.sqlite3")
            try:
                yield from self._play(store)
            finally:
                store.close()

    def _play(self, store: SessionStore) -> Iterator[SceneEvent]:
        pipeline = ChatPipeline(
            self.engine,
            store,
            settings=self.generation,
            control_factory=self.control_factory,
            memory_factory=self.memory_factory,
        )
        conversations: dict[str, Conversation] = {
            name: pipeline.start(
                path,
                user_name=self.participants_label(name),
                greeting=False,
                metadata={"scene": self.spec.scene_id},
            )
            for name, path in zip(self.names, self.spec.characters, strict=True)
        }
        if self.scene_prompt:
            for name, conversation in conversations.items():
                others = tuple(other for other in self.names if other != name)
                conversation.scene_context = SceneContext(others, self.spec.topic)
        seen = dict.fromkeys(self.names, 0)  # lines each character has already been shown
        self.lines = [Line(self.settings.narrator, self.settings.opening_line(self.spec.topic))]
        for turn in range(self.spec.turns):
            speaker = next_speaker(
                self.spec.policy, self.names, self.lines, turn, scorer=self.speaker_scorer
            )
            unseen = self.lines[seen[speaker] :]
            message = "\n".join(f"{line.speaker}: {line.text}" for line in unseen)
            seen[speaker] = len(self.lines) + 1  # includes the line it is about to say
            yield SpeakerStarted(turn, speaker)
            seed = None if self.spec.seed is None else self.spec.seed + turn
            conversation = conversations[speaker]
            text = yield from self._line(conversation, conversation.send(message, seed=seed))
            if self.echo_guard:
                text = yield from self._guard_echo(conversation, turn, speaker, text, seed)
            self.lines.append(Line(speaker, text))
            card = self.cards[self.names.index(speaker)]
            yield UtteranceDone(
                Utterance(
                    self.spec.scene_id,
                    turn,
                    speaker,
                    text,
                    card.personality.big_five.as_dict(),
                )
            )

    def _line(
        self, conversation: Conversation, stream: ReplyStream
    ) -> Generator[SceneEvent, None, str]:
        """Stream one reply to the face; return it as a scene line."""
        for piece in stream:
            yield TextPiece(piece)
        result = stream.result
        reply = result.message.content if result and result.message else ""
        return clean_line(reply, conversation.card.name)

    def _guard_echo(
        self, conversation: Conversation, turn: int, speaker: str, text: str, seed: int | None
    ) -> Generator[SceneEvent, None, str]:
        """Generate a line again while it repeats the others' (new seeds); keep the least
        repetitive version, selected as the conversation's head (a swipe)."""
        guard = self.settings.echo_guard
        others = [line.text for line in self.lines if line.speaker != speaker]
        if self.scene_prompt:
            # A line that says the scene's instructions back ("The scene is about: ...")
            # echoes them as it would echo another speaker.
            others.append(topic_note_text(self.spec.topic))
        best_text = text
        best_overlap = echo_overlap(text, others, guard.ngram)
        best_id = conversation.messages()[-1].id
        for attempt in range(1, guard.retries + 1):
            if best_overlap <= guard.max_overlap:
                break
            yield LineRetried(turn, speaker, round(best_overlap, 3))
            retry_seed = None if seed is None else seed + 1000 * attempt
            candidate = yield from self._line(
                conversation, conversation.regenerate(seed=retry_seed)
            )
            overlap = echo_overlap(candidate, others, guard.ngram)
            if overlap < best_overlap:
                best_text, best_overlap = candidate, overlap
                best_id = conversation.messages()[-1].id
        conversation.store.set_head(conversation.session.id, best_id)
        conversation.refresh()
        return best_text
