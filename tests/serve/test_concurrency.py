"""Several clients at once, and a client that leaves mid-reply."""

from __future__ import annotations

import contextlib
import json
import threading
import time

import httpx

from tests.serve.conftest import ServeFactory

REPLIES = [
    "Alpha one, engines are holding steady now.",
    "Bravo two, the crew is below decks.",
    "Charlie three, set course for the northern reach.",
    "Delta four, lanterns lit and sails trimmed.",
]


def test_four_concurrent_clients_get_whole_replies_of_their_own(serve: ServeFactory) -> None:
    served = serve(replies=REPLIES, delay=0.01)
    texts: dict[str, str] = {}
    failures: list[BaseException] = []

    def chat(name: str) -> None:
        try:
            stream = served.client().chat.completions.create(
                model="mira",
                messages=[{"role": "user", "content": f"Report, {name}."}],
                user=name,
                stream=True,
            )
            texts[name] = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        except BaseException as error:  # surfaced below, with the others' results
            failures.append(error)

    threads = [threading.Thread(target=chat, args=(f"client-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not failures, failures
    assert sorted(texts.values()) == sorted(REPLIES)  # each whole, none mixed, none twice
    assert served.engine.most_active == 1  # never two replies on the one model at once
    store = served.store()
    sessions = store.list_sessions()
    assert len(sessions) == 4
    for session in sessions:
        user, reply = store.branch(session.id)
        # Each client's reply is stored in that client's own session.
        assert user.content == f"Report, {session.metadata['serve_client']}."
        assert reply.content == texts[session.metadata["serve_client"]]


def test_a_client_that_disconnects_stops_generation_and_nothing_partial_is_stored(
    serve: ServeFactory,
) -> None:
    words = 300
    served = serve(replies=[" ".join(f"word{i}" for i in range(words))], delay=0.01)
    body = {
        "model": "mira",
        "messages": [{"role": "user", "content": "Tell me everything."}],
        "stream": True,
    }
    received = 0
    # Leaving the block closes the connection mid-stream.
    with (
        served.http() as http,
        http.stream("POST", "/v1/chat/completions", json=body) as response,
    ):
        session_id = response.headers["x-roleplay-session"]
        for line in response.iter_lines():
            if line.startswith("data: {"):
                chunk = json.loads(line.removeprefix("data: "))
                if chunk["choices"][0]["delta"].get("content"):
                    received += 1
            if received >= 3:
                break
    left_at = time.monotonic()
    served.wait_idle()
    stopped_after = time.monotonic() - left_at
    assert served.engine.yielded < words // 3, served.engine.yielded  # stopped early
    assert stopped_after < 2.0
    branch = served.store().branch(session_id)
    assert [(m.role, m.content) for m in branch] == [("user", "Tell me everything.")]
    assert served.store().count_messages(session_id) == 1  # no partial reply anywhere


def test_a_client_that_leaves_a_whole_completion_early_stops_it_too(serve: ServeFactory) -> None:
    words = 300
    served = serve(replies=[" ".join(f"w{i}" for i in range(words))], delay=0.01)
    body = {"model": "mira", "messages": [{"role": "user", "content": "Go on."}]}
    # The client gives up after half a second and hangs up.
    with (
        httpx.Client(base_url=served.url, timeout=0.5) as http,
        contextlib.suppress(httpx.ReadTimeout),
    ):
        http.post("/v1/chat/completions", json=body)
    served.wait_idle()
    assert served.engine.yielded < words // 2
    store = served.store()
    [session] = store.list_sessions()
    assert [m.role for m in store.branch(session.id)] == ["user"]
