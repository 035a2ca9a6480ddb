"""Each exception of ``app/errors.py`` mapped to its HTTP status, once, and the handlers that
answer a JSON request with it. The page's routes ask :func:`status_of` for the same numbers."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from app.errors import (
    BusyError,
    DivergenceError,
    InvalidInputError,
    NotKeptError,
    NoTrainingRunError,
    PhaseError,
    SessionNotFoundError,
    TooManyRequestsError,
)
from app.limits import MAX_VALIDATION_ERRORS

#: The status of every refusal; a subclass (NotASessionDocumentError) takes its base's.
STATUS: dict[type[Exception], int] = {
    InvalidInputError: 422,
    PhaseError: 409,
    DivergenceError: 409,
    NotKeptError: 404,
    SessionNotFoundError: 404,
    NoTrainingRunError: 404,
    BusyError: 503,
    TooManyRequestsError: 429,
}
#: The exceptions a route may catch to show a refusal instead of answering with an error.
REFUSALS: tuple[type[Exception], ...] = tuple(STATUS)


def status_of(exc: Exception) -> int:
    """The HTTP status of a refusal (500 for anything that is not one: a bug)."""
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 500


#: Seconds a client is asked to wait when the store is busy or unreachable (503).
RETRY_AFTER_SECONDS = 1


def retry_headers(exc: Exception) -> dict[str, str]:
    """``Retry-After`` for a refusal that a later try may meet: the busy error's own wait, else
    the default for any other 503 (store busy or unreachable); nothing for other refusals."""
    if isinstance(exc, BusyError):
        return {"Retry-After": str(exc.retry_after)}
    return {"Retry-After": str(RETRY_AFTER_SECONDS)} if status_of(exc) == 503 else {}


async def _refusal(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status_of(exc), headers=retry_headers(exc))


async def _busy(request: Request, exc: Exception) -> JSONResponse:
    # The SQLite file locked by another process for longer than its timeout: busy, not broken.
    return JSONResponse(
        {"detail": f"the session store is busy ({exc}); try again"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _describe(error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    message = str(error.get("msg", "invalid"))
    return f"{location}: {message}" if location else message


def validation_reply(errors: Sequence[Any]) -> dict[str, Any]:
    """The body of a 422 for a request that does not fit the schema: the first
    MAX_VALIDATION_ERRORS errors (so a hostile body gets a short answer) and how many there were."""
    shown = list(itertools.islice(errors, MAX_VALIDATION_ERRORS))
    detail = "; ".join(_describe(e) for e in shown) or "invalid request"
    if len(errors) > len(shown):
        detail += f"; and {len(errors) - len(shown):,} more errors"
    return {
        "detail": detail,
        "errors": [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in shown],
        "error_count": len(errors),
    }


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(validation_reply(exc.errors()), status_code=422)


#: The status logged for a request whose client went away before it was read whole (nginx's
#: "client closed request"): nobody receives it, and it is neither a refusal nor a server error.
CLIENT_CLOSED = 499


async def _client_gone(request: Request, exc: Exception) -> Response:
    # A client that stopped mid-body (a load tester stopping, a closed tab): nothing to answer,
    # nothing went wrong here, so no traceback and no 500.
    return Response(status_code=CLIENT_CLOSED)


def install(app: FastAPI) -> None:
    """Answer every refusal with its status and ``{"detail": the message}``."""
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for kind in STATUS:
        app.add_exception_handler(kind, _refusal)
    app.add_exception_handler(sqlite3.OperationalError, _busy)
