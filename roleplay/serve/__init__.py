"""`roleplay serve`: the platform behind an OpenAI-compatible HTTP endpoint.

Front ends people already use (SillyTavern, Agnai, RisuAI, anything built on the ``openai``
client) talk to characters as if they were models; the server answers through the same
``ChatPipeline`` as ``roleplay chat``, so prompts, memory, steering and the session store
behave the same in every face (docs/serve.md).

    app.py           the FastAPI app: routes, error shape, SSE
    schemas.py       request and response models (OpenAI's chat completion format)
    middleware.py    API key and body size checks, before any route runs
    catalog.py       characters as models
    sessions.py      which stored session a request continues
    history.py       the client's messages matched against the stored message tree
    turns.py         one reply, run on the model's worker thread
    queue.py         the model's worker thread and its bounded waiting line
"""

from __future__ import annotations

from roleplay.serve.app import create_app

__all__ = ["create_app"]
