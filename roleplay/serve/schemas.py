"""OpenAI's chat completion format, as far as the server reads and writes it.

Requests accept the fields front ends send; fields the server does not use (``logit_bias``,
``presence_penalty``, ``tools``...) are accepted and ignored, because SillyTavern and others
send many of them on every request and refusing them would break those clients. Fields the
server uses are checked: a bad value is a 400, never a silent default.

One extension, ``roleplay`` (an object), chooses what the server keeps from the client's
messages and what it rebuilds from the card (docs/serve.md):

* ``history``: ``"client"`` (default) - the client's user and assistant messages are the
  conversation; they are matched against the stored session (new ones are stored, an edited
  or regenerated turn becomes a branch or a swipe). ``"server"`` - only the client's last
  user message is used; the stored session is the history (for clients that keep none).
* ``system``: ``"replace"`` (default) - the client's system messages are dropped and the
  card's system block (card, personality guidance, mood, memories, lore) takes their place.
  ``"keep"`` - their text is kept too, placed after the card's opening instruction.
* ``user_name``: the user's name in the role-play ({{user}}) when a new session is created.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

HistoryPolicy = Literal["client", "server"]
SystemPolicy = Literal["replace", "keep"]
MessageRole = Literal["system", "developer", "user", "assistant"]

MAX_STOP_STRINGS = 16
MAX_IDENTITY_LENGTH = 256


class ContentPart(BaseModel):
    """One part of a multi-part message; only text parts can be role-played."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class RequestMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")  # name, tool_calls... carry nothing we use

    role: MessageRole
    content: str | list[ContentPart] | None = None

    @field_validator("content")
    @classmethod
    def _text_only(cls, value: str | list[ContentPart] | None) -> str | list[ContentPart] | None:
        if isinstance(value, list):
            for part in value:
                if part.type != "text" or part.text is None:
                    raise ValueError(f"only text content is supported, not {part.type!r} parts")
        return value

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text or "" for part in self.content)


class RoleplayOptions(BaseModel):
    """The ``roleplay`` request extension (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")  # a typo here should not be silently ignored

    history: HistoryPolicy = "client"
    system: SystemPolicy = "replace"
    user_name: str | None = Field(default=None, min_length=1, max_length=64)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=200)
    messages: list[RequestMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    # Not OpenAI's, but sent by SillyTavern and accepted by llama.cpp's server.
    top_k: int | None = Field(default=None, ge=0)
    repetition_penalty: float | None = Field(default=None, gt=0, le=3)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int = Field(default=1, ge=1, le=1)
    user: str | None = Field(default=None, max_length=MAX_IDENTITY_LENGTH)
    roleplay: RoleplayOptions = Field(default_factory=RoleplayOptions)

    @field_validator("stop")
    @classmethod
    def _few_stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and len(value) > MAX_STOP_STRINGS:
            raise ValueError(f"at most {MAX_STOP_STRINGS} stop strings")
        return value

    def stop_strings(self) -> tuple[str, ...]:
        """The stop strings; empty ones (some front ends send them) mean nothing."""
        given = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return tuple(text for text in given if text)

    def reply_tokens(self) -> int | None:
        """The reply budget: ``max_completion_tokens`` (the newer name) wins."""
        return self.max_completion_tokens or self.max_tokens

    def sampling_seed(self) -> int | None:
        """The seed; a negative one (SillyTavern's -1) means "random", like no seed."""
        if self.seed is None or self.seed < 0:
            return None
        return self.seed % (2**31 - 1)


# Responses --------------------------------------------------------------------------------


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ResponseMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: ResponseMessage
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class TurnInfo(BaseModel):
    """Where the reply went: the stored session and message (a server extension)."""

    session: str
    message_id: int | None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    roleplay: TurnInfo


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop", "length"] | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None


class ModelEntry(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "roleplay"
    name: str  # the card's display name (a server extension)


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelEntry]


class ErrorBody(BaseModel):
    message: str
    type: str
    code: str | None = None
    param: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


def chunk_json(chunk: ChatCompletionChunk) -> str:
    """A chunk as SSE data: unset fields left out, as in OpenAI's own chunks, except
    ``finish_reason``, which clients read on every chunk (null until the last)."""
    data: dict[str, Any] = chunk.model_dump(exclude_none=True)
    for choice in data["choices"]:
        choice.setdefault("finish_reason", None)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
