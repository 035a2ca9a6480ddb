"""Embedding the pages in a frame of another site (an LMS, a Jupyter page): the pages' CSP says
``frame-ancestors 'none'`` unless ``BACKPROP_FRAME_ANCESTORS`` names who may frame them.

Every page sets its CSP in app/web/templating.py (and /docs its own); this middleware rewrites
the one directive, so the rule lives here once. The cookie that a third-party frame needs
(``SameSite=None; Secure; Partitioned``) is set in app/web/deps.py.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The directive every page is written with.
DEFAULT = b"frame-ancestors 'none'"


def directive(sources: tuple[str, ...]) -> bytes:
    """The frame-ancestors directive for these sources ('none' when there are none)."""
    return b"frame-ancestors " + (" ".join(sources).encode("ascii") if sources else b"'none'")


class FrameAncestors:
    """ASGI middleware: the CSP of every answer lets ``sources`` frame it."""

    def __init__(self, app: ASGIApp, sources: tuple[str, ...]) -> None:
        self.app = app
        self.directive = directive(sources)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def framed(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [
                        (name, value.replace(DEFAULT, self.directive))
                        if name.lower() == b"content-security-policy"
                        else (name, value)
                        for name, value in message.get("headers", [])
                    ],
                }
            await send(message)

        await self.app(scope, receive, framed)
