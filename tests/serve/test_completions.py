"""Chat completions through the official openai client and a raw SSE read, on the scripted
engine: the reply, its usage, the prompt the card builds, and where the turn is stored."""

from __future__ import annotations

import json
from typing import Any

from openai.types.chat import ChatCompletionMessageParam
from typer.testing import CliRunner

from roleplay.cards.registry import resolve_card
from roleplay.cli.main import app as cli_app
from tests.serve.conftest import ServeFactory

USER_TEXT = "Captain, the engines are failing."


def _user(text: str = USER_TEXT) -> ChatCompletionMessageParam:
    return {"role": "user", "content": text}


def test_models_are_the_characters_by_their_cli_names(serve: ServeFactory) -> None:
    served = serve()
    models = served.client().models.list()
    ids = [model.id for model in models.data]
    assert "mira" in ids and len(ids) >= 5
    for model_id in ids:
        assert resolve_card(model_id).stem == model_id  # what `roleplay chat -c` takes
    mira = served.client().models.retrieve("mira")
    assert mira.owned_by == "roleplay"


def test_a_whole_completion_has_the_reply_usage_and_is_stored(serve: ServeFactory) -> None:
    served = serve(replies=["Engines hold, for now."])
    completion = served.client().chat.completions.create(model="mira", messages=[_user()])
    choice = completion.choices[0]
    assert choice.message.content == "Engines hold, for now."
    assert choice.finish_reason == "stop"
    assert completion.model == "mira" and completion.object == "chat.completion"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 4
    assert completion.usage.prompt_tokens > 20  # the card's system block is in there
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    store = served.store()
    [session] = store.list_sessions()
    assert session.character == "Captain Mira Voss"
    assert session.metadata["serve_client"] == "default"
    assert [(m.role, m.content) for m in store.branch(session.id)] == [
        ("user", USER_TEXT),
        ("assistant", "Engines hold, for now."),
    ]
    extra: Any = completion.model_extra
    assert extra["roleplay"]["session"] == session.id


def test_served_sessions_are_listed_by_roleplay_sessions(serve: ServeFactory) -> None:
    served = serve(replies=["Aye."])
    served.client().chat.completions.create(model="mira", messages=[_user()], user="ann")
    result = CliRunner().invoke(cli_app, ["sessions", "list", "--json"])
    assert result.exit_code == 0, result.stderr
    [listed] = json.loads(result.stdout)
    assert listed["character"] == "Captain Mira Voss" and listed["messages"] == 2


def test_streaming_with_the_openai_client(serve: ServeFactory) -> None:
    served = serve(replies=["Steady as she goes, crew."])
    stream = served.client().chat.completions.create(
        model="mira",
        messages=[_user()],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Steady as she goes, crew."
    assert chunks[0].choices[0].delta.role == "assistant"
    finishing = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finishing] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 5
    assert len({c.id for c in chunks}) == 1


def test_raw_sse_is_openai_chunks_ending_with_done(serve: ServeFactory) -> None:
    served = serve(replies=["One two three."])
    body = {"model": "mira", "messages": [_user()], "stream": True}
    with (
        served.http() as http,
        http.stream("POST", "/v1/chat/completions", json=body) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        session = response.headers["x-roleplay-session"]
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines), lines
    payloads = [line.removeprefix("data: ") for line in lines]
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(payload) for payload in payloads[:-1]]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == (
        "One two three."
    )
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    assert served.store().get_session(session).character == "Captain Mira Voss"


def test_the_prompt_is_built_from_the_card_and_the_client_system_prompt_replaced(
    serve: ServeFactory,
) -> None:
    served = serve(replies=["Aye."])
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "You are SillyTavern's idea of Mira. SECRET-ST-PROMPT"},
        _user(),
    ]
    served.client().chat.completions.create(model="mira", messages=messages)
    prompt = served.engine.prompts[-1]
    assert "Captain Mira Voss" in prompt and "# Personality" in prompt
    assert USER_TEXT in prompt
    assert "SECRET-ST-PROMPT" not in prompt
    # The reply stops where the model would start writing the user's lines.
    assert "\nUser:" in served.engine.settings[-1].stop_strings


def test_system_keep_adds_the_client_system_text_after_the_opening(serve: ServeFactory) -> None:
    served = serve(replies=["Aye."])
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "Write in present tense. KEEP-ME"},
        _user(),
    ]
    served.client().chat.completions.create(
        model="mira",
        messages=messages,
        extra_body={"roleplay": {"system": "keep"}},
    )
    prompt = served.engine.prompts[-1]
    assert "KEEP-ME" in prompt
    assert prompt.index("Stay in character") < prompt.index("KEEP-ME") < prompt.index("# Who")


def test_request_settings_reach_the_engine(serve: ServeFactory) -> None:
    served = serve(replies=["one two three four five six"])
    completion = served.client().chat.completions.create(
        model="Captain Mira Voss",  # the display name works too
        messages=[_user()],
        max_tokens=3,
        temperature=0.2,
        top_p=0.5,
        stop=["###"],
        seed=42,
    )
    settings = served.engine.settings[-1]
    assert (settings.max_new_tokens, settings.temperature, settings.top_p) == (3, 0.2, 0.5)
    assert settings.seed == 42 and "###" in settings.stop_strings
    assert completion.choices[0].message.content == "one two three"
    assert completion.model == "mira"


def test_client_history_is_matched_against_the_store(serve: ServeFactory) -> None:
    served = serve(replies=["First reply.", "Second reply.", "Second, again."])
    client = served.client()
    client.chat.completions.create(model="mira", messages=[_user("One?")], user="ann")
    history: list[ChatCompletionMessageParam] = [
        _user("One?"),
        {"role": "assistant", "content": "First reply."},
        _user("Two?"),
    ]
    client.chat.completions.create(model="mira", messages=history, user="ann")
    # A swipe: the same history again gives a new reply, kept as a sibling.
    client.chat.completions.create(model="mira", messages=history, user="ann")
    store = served.store()
    [session] = store.list_sessions()
    branch = store.branch(session.id)
    assert [m.content for m in branch] == ["One?", "First reply.", "Two?", "Second, again."]
    assert [m.content for m in store.siblings(branch[-1].id)] == ["Second reply.", "Second, again."]
    assert store.count_messages(session.id) == 5  # nothing stored twice
    # The prompt's history is the client's: the earlier turn is in the last prompt.
    assert served.engine.prompts[-1].index("One?") < served.engine.prompts[-1].index("Two?")


def test_an_edited_reply_from_the_client_becomes_a_branch(serve: ServeFactory) -> None:
    served = serve(replies=["Original reply.", "After the edit."])
    client = served.client()
    client.chat.completions.create(model="mira", messages=[_user("One?")])
    edited: list[ChatCompletionMessageParam] = [
        _user("One?"),
        {"role": "assistant", "content": "Edited reply."},
        _user("Two?"),
    ]
    client.chat.completions.create(model="mira", messages=edited)
    store = served.store()
    [session] = store.list_sessions()
    branch = store.branch(session.id)
    assert [m.content for m in branch] == ["One?", "Edited reply.", "Two?", "After the edit."]
    assert branch[1].metadata == {"from_client": True}
    assert [m.content for m in store.siblings(branch[1].id)] == [
        "Original reply.",
        "Edited reply.",
    ]


def test_server_history_uses_the_stored_session_and_only_the_last_message(
    serve: ServeFactory,
) -> None:
    served = serve(replies=["Stored one.", "Stored two."])
    client = served.client()
    options = {"roleplay": {"history": "server", "user_name": "Ann"}}
    client.chat.completions.create(model="mira", messages=[_user("One?")], extra_body=options)
    ignored: list[ChatCompletionMessageParam] = [
        _user("IGNORED-HISTORY"),
        {"role": "assistant", "content": "x"},
        _user("Two?"),
    ]
    client.chat.completions.create(model="mira", messages=ignored, extra_body=options)
    prompt = served.engine.prompts[-1]
    assert "IGNORED-HISTORY" not in prompt
    assert prompt.index("One?") < prompt.index("Stored one.") < prompt.index("Two?")
    store = served.store()
    [session] = store.list_sessions()
    assert session.user_name == "Ann"
    branch = store.branch(session.id)
    assert branch[0].role == "assistant"  # a server-history session starts with the greeting
    assert [m.content for m in branch[1:]] == ["One?", "Stored one.", "Two?", "Stored two."]


def test_a_session_is_continued_through_user_or_the_header(serve: ServeFactory) -> None:
    served = serve(replies=["A.", "B.", "C.", "D."])
    client = served.client()
    server_history = {"roleplay": {"history": "server"}}

    def ask(text: str, **kwargs: Any) -> str:
        completion = client.chat.completions.create(
            model="mira", messages=[_user(text)], extra_body=server_history, **kwargs
        )
        extra: Any = completion.model_extra
        return str(extra["roleplay"]["session"])

    alice = ask("Hello from Alice.", user="alice")
    bob = ask("Hello from Bob.", user="bob")
    assert alice != bob
    assert ask("Alice again.", user="alice") == alice
    # The header names the conversation too, and a session id continues that session.
    assert ask("Via the header.", extra_headers={"X-Roleplay-Session": bob}) == bob
    store = served.store()
    assert [m.content for m in store.branch(alice) if m.role == "user"] == [
        "Hello from Alice.",
        "Alice again.",
    ]
    assert [m.content for m in store.branch(bob) if m.role == "user"] == [
        "Hello from Bob.",
        "Via the header.",
    ]
