"""The route class of the JSON API: a body that is not UTF-8 is refused as invalid input (422,
saying so) before anything tries to read it as JSON, and so is JSON that Python's parser gives up
on (nested thousands deep, a number of thousands of digits).

FastAPI itself answers those with an undocumented 400; every other fault of a body (not JSON, the
wrong shape, the wrong types) is already a 422 with the field named, so these are too.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

#: The error a body that is not UTF-8 gets, as a validation error's entry.
NOT_UTF8 = {"type": "utf8", "loc": ("body",), "msg": "the body is not UTF-8 text (JSON must be UTF-8)"}


def unreadable(cause: BaseException | None) -> RequestValidationError:
    """The 422 of JSON the parser gave up on, saying why."""
    why = "it is nested too deeply" if isinstance(cause, RecursionError) else str(cause)[:200]
    return RequestValidationError(
        [{"type": "json_invalid", "loc": ("body",), "msg": f"the body cannot be read as JSON: {why}"}]
    )


def check_utf8(body: bytes) -> None:
    """RequestValidationError unless ``body`` is UTF-8 (RFC 8259: JSON exchanged is UTF-8)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestValidationError([dict(NOT_UTF8)]) from None


class JsonRoute(APIRoute):
    """An API route; one that takes a JSON body reads it as UTF-8 first (422 when it is not)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def route(request: Request) -> Response:
            # The BodyLimit middleware has bounded it; FastAPI reads the same cached bytes next.
            check_utf8(await request.body())
            try:
                return await handler(request)
            except HTTPException as exc:
                # FastAPI's answer when its JSON parser raised anything but a decode error.
                if exc.status_code == 400 and exc.__cause__ is not None:
                    raise unreadable(exc.__cause__) from exc
                raise

        return route
