"""Writes from other sites refused: a request that changes something (POST, PUT, PATCH, DELETE)
under /api/ carrying an ``Origin`` that is neither this server's own nor listed in
``BACKPROP_ALLOWED_ORIGINS`` is answered 403 before it runs. Requests without an ``Origin``
(scripts, notebooks, curl) are unaffected: a browser always sends one with a cross-origin write,
so its absence means no other site's page sent it. The listed origins also get CORS (Starlette's
CORSMiddleware), so their scripts may read the answers.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

#: The methods that change something.
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: What a page elsewhere may send and read, for CORS.
CORS_HEADERS = ["Content-Type", "Content-Encoding", "Idempotency-Key", "Authorization"]
EXPOSED_HEADERS = ["Location", "Retry-After", "Idempotent-Replayed", "Content-Disposition"]


def is_same_origin(origin: str, host: str) -> bool:
    """Whether ``origin`` names the host the request was sent to (its Host header)."""
    return origin != "null" and urlsplit(origin).netloc.lower() == host.lower()


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


class OriginCheck:
    """ASGI middleware: 403 for a write to the API from a foreign origin not allowed."""

    def __init__(self, app: ASGIApp, allowed: tuple[str, ...] = ()) -> None:
        self.app = app
        self.allowed = frozenset(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in UNSAFE and scope["path"].startswith("/api/"):
            origin = _header(scope, b"origin")
            if origin is not None and not self.allows(origin, _header(scope, b"host") or ""):
                refusal = JSONResponse(
                    {
                        "detail": f"a request from the foreign origin {origin[:100]!r} was refused: "
                        "list it in BACKPROP_ALLOWED_ORIGINS to let its pages write"
                    },
                    status_code=403,
                )
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def allows(self, origin: str, host: str) -> bool:
        return origin.lower() in self.allowed or is_same_origin(origin, host)


def install(app: FastAPI, allowed: tuple[str, ...]) -> None:
    """The Origin check, and CORS for the allowed origins (outside it, so a refusal carries CORS
    headers and a preflight is answered)."""
    app.add_middleware(OriginCheck, allowed=allowed)
    if allowed:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(allowed),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=CORS_HEADERS,
            expose_headers=EXPOSED_HEADERS,
            max_age=600,
        )
