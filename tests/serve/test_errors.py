"""Every refusal in OpenAI's error shape, with the status clients act on."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.serve.conftest import ServeFactory

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello?"}]


def _error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert {"message", "type", "code"} <= set(error)
    assert isinstance(error["message"], str) and error["message"]
    return error


def test_bad_json_is_a_400(serve: ServeFactory) -> None:
    with serve().http() as http:
        response = http.post(
            "/v1/chat/completions",
            content=b'{"model": "mira", "messages": [',
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 400
    error = _error(response)
    assert error["type"] == "invalid_request_error" and error["code"] == "invalid_json"


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"temperature": -1}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"n": 2}, "n"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages.0.role"),
        ({"roleplay": {"history": "everything"}}, "roleplay.history"),
        ({"stop": ["a"] * 17}, "stop"),
    ],
)
def test_bad_fields_are_a_400_naming_the_field(
    serve: ServeFactory, change: dict[str, Any], param: str
) -> None:
    with serve().http() as http:
        response = http.post(
            "/v1/chat/completions", json={"model": "mira", "messages": MESSAGES, **change}
        )
    assert response.status_code == 400
    error = _error(response)
    assert error["param"] is not None and error["param"].startswith(param)


def test_a_conversation_must_end_with_the_user(serve: ServeFactory) -> None:
    served = serve()
    with pytest.raises(openai.BadRequestError, match="must be the user's"):
        served.client().chat.completions.create(
            model="mira", messages=[{"role": "assistant", "content": "I was saying"}]
        )


def test_an_unknown_character_is_a_404(serve: ServeFactory) -> None:
    served = serve()
    with pytest.raises(openai.NotFoundError) as raised:
        served.client().chat.completions.create(model="mra", messages=MESSAGES)
    body: Any = raised.value.body
    assert body["code"] == "model_not_found" and "did you mean 'mira'" in body["message"]
    # A path is never a character: a client cannot make the server read a file.
    with served.http() as http:
        response = http.post(
            "/v1/chat/completions",
            json={"model": "characters/mira.yaml", "messages": MESSAGES},
        )
    assert response.status_code == 404 and _error(response)["code"] == "model_not_found"


def test_a_missing_or_wrong_key_is_a_401(serve: ServeFactory) -> None:
    served = serve(api_key="sekrit", replies=["Welcome aboard."])
    with pytest.raises(openai.AuthenticationError):
        served.client(api_key="wrong").chat.completions.create(model="mira", messages=MESSAGES)
    with pytest.raises(openai.AuthenticationError):
        served.client(api_key="wrong").models.list()
    with httpx.Client(base_url=served.url) as http:
        missing = http.post("/v1/chat/completions", content=b"{broken")
    assert missing.status_code == 401  # the key is checked before the body is read
    assert _error(missing)["code"] == "missing_api_key"
    assert missing.headers["www-authenticate"] == "Bearer"
    reply = served.client().chat.completions.create(model="mira", messages=MESSAGES)
    assert reply.choices[0].message.content == "Welcome aboard."


def test_a_body_over_the_limit_is_a_413(serve: ServeFactory) -> None:
    served = serve(max_body_bytes=2048)
    big = [{"role": "user", "content": "x" * 4096}]
    with served.http() as http:
        declared = http.post("/v1/chat/completions", json={"model": "mira", "messages": big})

        def chunks() -> Any:  # no Content-Length: the limit holds while reading
            yield b'{"model": "mira", "messages": [{"role": "user", "content": "'
            for _ in range(8):
                yield b"y" * 1024
            yield b'"}]}'

        streamed = http.post("/v1/chat/completions", content=chunks())
    for response in (declared, streamed):
        assert response.status_code == 413
        assert _error(response)["code"] == "request_too_large"


def test_a_full_queue_is_a_503_with_retry_after(serve: ServeFactory) -> None:
    served = serve(replies=["First.", "Second."], gated=True, queue_limit=1)
    results: dict[str, str] = {}

    def ask(name: str) -> None:
        completion = served.client().chat.completions.create(
            model="mira",
            messages=MESSAGES,
            user=name,
        )
        results[name] = completion.choices[0].message.content or ""

    running = threading.Thread(target=ask, args=("running",))
    running.start()
    _wait_for(lambda: served.engine.active == 1)  # generating, held at the gate
    waiting = threading.Thread(target=ask, args=("waiting",))
    waiting.start()
    _wait_for(lambda: served.worker.waiting == 1)
    with served.http() as http:
        refused = http.post("/v1/chat/completions", json={"model": "mira", "messages": MESSAGES})
    assert refused.status_code == 503
    assert _error(refused)["code"] == "queue_full"
    assert int(refused.headers["retry-after"]) >= 1
    served.engine.gate.set()
    running.join(timeout=10)
    waiting.join(timeout=10)
    assert results == {"running": "First.", "waiting": "Second."}


def _wait_for(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)
