"""Checks that run before any route: the API key, then the body's size.

Plain ASGI middleware rather than route dependencies, so that they run before FastAPI reads
and parses the body: a client without the key learns nothing about what the server would
accept (401 comes before any 400), and an over-long body is refused without being held in
memory whole.
"""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roleplay.serve.errors import AUTHENTICATION, ApiError

BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


class ApiKeyMiddleware:
    """``Authorization: Bearer KEY`` on every request when the server has a key."""

    def __init__(self, app: ASGIApp, api_key: str | None) -> None:
        self.app = app
        self.key = api_key.encode() if api_key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.key is None:
            await self.app(scope, receive, send)
            return
        header = Headers(scope=scope).get("authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            error = ApiError(
                401,
                "no API key given; send it as 'Authorization: Bearer KEY'",
                type=AUTHENTICATION,
                code="missing_api_key",
            )
        elif scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), self.key
        ):
            error = ApiError(401, "wrong API key", type=AUTHENTICATION, code="invalid_api_key")
        else:
            await self.app(scope, receive, send)
            return
        error.headers["WWW-Authenticate"] = "Bearer"
        await error.response()(scope, receive, send)


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes (413), whether or not they declare a length.

    The body is read here (up to the limit) and handed on whole; after it, the app receives
    what the server sends next, so disconnects still reach it.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in BODYLESS_METHODS:
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._too_large().response()(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before it finished sending
            body = message.get("body", b"")
            size += len(body)
            if size > self.limit:
                await self._too_large().response()(scope, receive, send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self) -> ApiError:
        return ApiError(
            413,
            f"the request body is larger than the server's limit of {self.limit} bytes",
            code="request_too_large",
        )
