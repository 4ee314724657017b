"""Prompts for every persona and batched, resumable reply generation.

Characters are prompted through the chat path: a ``ChatPipeline`` conversation built from
the card, and ``Conversation.prepare`` for each message, so the card, the personality
guidance, the greeting and the token budget are exactly what chat would use. Demographic
personas get the study's system prompt; the baseline gets no system prompt at all (the
model's own default). Replies are appended to ``generations.jsonl`` one batch at a time
(flushed and fsynced), which is what ``--resume`` continues from.
"""

from __future__ import annotations

import json
import os
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bias_audit.personas import Persona
from bias_audit.probes import Job
from roleplay.engine.base import ChatMessage, Engine, GenerationSettings
from roleplay.engine.batch import GenerationOutput, generate_batch
from roleplay.errors import RoleplayError
from roleplay.pipeline import DEFAULT_USER_NAME, ChatPipeline, Conversation, reply_settings
from roleplay.sessions import SessionStore

GENERATIONS_FILE = "generations.jsonl"


@dataclass(frozen=True)
class Reply:
    """A generated reply as stored in ``generations.jsonl``."""

    key: str
    persona: str
    dimension: str
    item: str
    reply: str
    new_tokens: int
    stop_reason: str

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Reply:
        return Reply(
            key=str(data["key"]),
            persona=str(data["persona"]),
            dimension=str(data["dimension"]),
            item=str(data["item"]),
            reply=str(data["reply"]),
            new_tokens=int(data.get("new_tokens", 0)),
            stop_reason=str(data.get("stop_reason", "")),
        )


class ReplyLog:
    """Append-only JSONL of finished replies; survives interruption at any point."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Reply]:
        """Replies written so far. A last line cut off by an interruption is dropped (and
        truncated away, so new lines are not appended to half a record)."""
        if not self.path.is_file():
            return {}
        raw = self.path.read_bytes()
        complete = raw[: raw.rfind(b"\n") + 1]
        if len(complete) != len(raw):
            with self.path.open("r+b") as handle:
                handle.truncate(len(complete))
        replies: dict[str, Reply] = {}
        for number, line in enumerate(complete.decode("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                reply = Reply.from_dict(json.loads(line))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
                raise RoleplayError(
                    f"{self.path}:{number}: not a generation record ({error})"
                ) from error
            replies[reply.key] = reply
        return replies

    def append(self, replies: Sequence[Reply]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            for reply in replies:
                handle.write(json.dumps(reply.__dict__, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


class PromptBuilder:
    """Renders the exact prompt text for a job (characters through their conversation)."""

    def __init__(self, pipeline: ChatPipeline) -> None:
        self.pipeline = pipeline
        self._conversations: dict[str, Conversation] = {}

    def _conversation(self, persona: Persona) -> Conversation:
        if persona.id not in self._conversations:
            assert persona.card_path is not None
            # A new session per character; nothing is sent, so nothing is stored but the
            # greeting, which chat would show before the first message too.
            self._conversations[persona.id] = self.pipeline.start(persona.card_path)
        return self._conversations[persona.id]

    def prompt(self, job: Job) -> str:
        persona, message = job.persona, job.item.message
        if persona.kind == "character":
            return self._conversation(persona).prepare(message).prompt.text
        messages = [ChatMessage("user", message)]
        if persona.system_prompt is not None:
            messages.insert(0, ChatMessage("system", persona.system_prompt))
        return self.pipeline.engine.render_chat(messages)


def chat_settings(
    base: GenerationSettings, user_name: str = DEFAULT_USER_NAME
) -> GenerationSettings:
    """The settings chat uses for a reply (the pipeline's own rule)."""
    return reply_settings(base, user_name)


def _stream_one(engine: Engine, prompt: str, settings: GenerationSettings) -> GenerationOutput:
    pieces = [event.text for event in engine.stream(prompt, settings)]
    return GenerationOutput(text="".join(pieces))


GenerateFn = Callable[[list[str], GenerationSettings], list[GenerationOutput]]


def batch_generator(engine: Engine, batch_size: int) -> GenerateFn:
    """Batched ``generate`` on engines with a transformers model, concurrent requests to a
    server (``complete_many``), one at a time otherwise (llama.cpp, a scripted engine)."""
    complete_many = getattr(engine, "complete_many", None)
    if complete_many is not None:

        def concurrent(prompts: list[str], settings: GenerationSettings) -> list[GenerationOutput]:
            # A server applies its own chat template: the rendered prompt travels as one
            # user message (the audit's prompts are single-turn).
            conversations = [[ChatMessage("user", prompt)] for prompt in prompts]
            return [GenerationOutput(text=t) for t in complete_many(conversations, settings)]

        return concurrent
    if hasattr(engine, "model") and hasattr(engine, "tokenizer"):

        def batched(prompts: list[str], settings: GenerationSettings) -> list[GenerationOutput]:
            return generate_batch(engine, prompts, settings, batch_size=batch_size)  # type: ignore[arg-type]

        return batched

    def one_by_one(prompts: list[str], settings: GenerationSettings) -> list[GenerationOutput]:
        return [_stream_one(engine, prompt, settings) for prompt in prompts]

    return one_by_one


def run_generation(
    jobs: Sequence[Job],
    prompts: PromptBuilder,
    generate: GenerateFn,
    settings: GenerationSettings,
    log: ReplyLog,
    *,
    batch_size: int,
    on_batch: Callable[[int], None] = lambda _: None,
) -> dict[str, Reply]:
    """Generate the replies ``log`` does not hold yet, one batch at a time; return all."""
    done = log.load()
    pending = [job for job in jobs if job.key not in done]
    on_batch(len(jobs) - len(pending))
    rendered = {job.key: prompts.prompt(job) for job in pending}
    # Similar lengths in one batch means little padding; ties keep the plan's order.
    pending.sort(key=lambda job: len(rendered[job.key]))
    for start in range(0, len(pending), batch_size):
        batch = pending[start : start + batch_size]
        # The batch's seed depends on its first job, not on its position, so a resumed run
        # seeds the batches it generates independently of what was done before.
        seed = None if settings.seed is None else settings.seed + zlib.crc32(batch[0].key.encode())
        outputs = generate([rendered[job.key] for job in batch], replace(settings, seed=seed))
        replies = [
            Reply(
                key=job.key,
                persona=job.persona.id,
                dimension=job.item.dimension,
                item=job.item.id,
                reply=output.text.strip(),
                new_tokens=output.new_tokens,
                stop_reason=output.stop_reason,
            )
            for job, output in zip(batch, outputs, strict=True)
        ]
        log.append(replies)
        done.update({reply.key: reply for reply in replies})
        on_batch(len(batch))
    return done


@contextmanager
def audit_pipeline(engine: Engine, settings: GenerationSettings) -> Iterator[ChatPipeline]:
    """A chat pipeline whose sessions live in a throwaway store: the audit must not add
    hundreds of sessions to the user's history."""
    with tempfile.TemporaryDirectory(prefix="roleplay-audit-") as folder:
        store = SessionStore(Path(folder) / "audit-sessions.sqlite3")
        try:
            yield ChatPipeline(engine, store, settings=settings)
        finally:
            store.close()
