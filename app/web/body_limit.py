"""Refuse a request whose declared body is larger than the server reads (413), unread."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.limits import MAX_BODY_BYTES


class BodyLimit:
    """ASGI middleware: a Content-Length above MAX_BODY_BYTES is answered 413 before any is read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"content-length" and value.isdigit() and int(value) > MAX_BODY_BYTES:
                    response = JSONResponse(
                        {"detail": f"the request body is larger than {MAX_BODY_BYTES // 2**20} MB"},
                        status_code=413,
                    )
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
