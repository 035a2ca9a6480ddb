"""Refuse a request body larger than the server reads (413), reading no more of it than that."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.limits import MAX_API_BODY_BYTES, MAX_BODY_BYTES, MAX_IMPORT_BYTES

#: Where a whole exported session may be sent (its body may be as large as the largest export).
IMPORT_PATH = "/api/sessions/import"


def body_limit(path: str) -> int:
    """The most bytes a request to ``path`` may send."""
    if path == IMPORT_PATH:
        return MAX_IMPORT_BYTES
    return MAX_API_BODY_BYTES if path.startswith("/api/") else MAX_BODY_BYTES


class BodyTooLargeError(HTTPException):
    """A request body past its limit: 413, and the rest of it is never read."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit // 2**20} MB")


class BodyLimit:
    """ASGI middleware: a declared Content-Length above the limit is answered 413 before any of the
    body is read; a body sent in chunks (or longer than it said) is cut off as soon as the bytes
    received pass the limit (FastAPI passes an HTTPException raised while reading the body on)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["path"])
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await JSONResponse({"detail": BodyTooLargeError(limit).detail}, status_code=413)(
                    scope, receive, send
                )
                return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        await self.app(scope, counted, send)
