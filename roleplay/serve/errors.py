"""Errors in OpenAI's shape, ``{"error": {"message", "type", "code", "param"}}``.

Clients (the ``openai`` library, SillyTavern) read ``error.message`` to show the user what
went wrong and the status to decide whether to retry, so every failure the server reports,
from a middleware, a route or the model's worker, goes through ``ApiError``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from roleplay.serve.schemas import ErrorBody, ErrorResponse

log = logging.getLogger("roleplay.serve")

INVALID_REQUEST = "invalid_request_error"
AUTHENTICATION = "authentication_error"
SERVER_ERROR = "server_error"


class ApiError(Exception):
    """A failure to report to the client with ``status``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = INVALID_REQUEST,
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = dict(headers or {})

    def body(self) -> ErrorResponse:
        return ErrorResponse(
            error=ErrorBody(message=self.message, type=self.type, code=self.code, param=self.param)
        )

    def response(self) -> JSONResponse:
        return JSONResponse(self.body().model_dump(), status_code=self.status, headers=self.headers)


def _validation_error(error: RequestValidationError) -> ApiError:
    problems = list(error.errors())
    if not problems:
        return ApiError(400, "the request is not valid", code="invalid_request")
    first = problems[0]
    if first.get("type") == "json_invalid":
        detail = first.get("ctx", {}).get("error") or first.get("msg", "")
        return ApiError(400, f"the body is not valid JSON ({detail})", code="invalid_json")
    location = [str(part) for part in first.get("loc", ()) if part != "body"]
    where = ".".join(location)
    message = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg"))
    more = len(problems) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ApiError(400, message, code="invalid_request", param=where or None)


def install_error_handlers(app: FastAPI) -> None:
    """Every error the app raises leaves in OpenAI's shape."""

    async def api_error(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ApiError)
        return error.response()

    async def invalid(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        return _validation_error(error).response()

    async def http_error(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        code = "not_found" if error.status_code == 404 else None
        return ApiError(
            error.status_code, str(error.detail), code=code, headers=error.headers
        ).response()

    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=error)
        return ApiError(500, "internal server error", type=SERVER_ERROR).response()

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
