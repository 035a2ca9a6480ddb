"""The route class of the JSON API: a body that is not UTF-8 is refused as invalid input (422,
saying so), before anything tries to read it as JSON.

FastAPI itself answers such a body with an undocumented 400; every other fault of a body (not
JSON, the wrong shape, the wrong types) is already a 422 with the field named, so this one is too.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

#: The error a body that is not UTF-8 gets, as a validation error's entry.
NOT_UTF8 = {"type": "utf8", "loc": ("body",), "msg": "the body is not UTF-8 text (JSON must be UTF-8)"}


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
            return await handler(request)

        return route
