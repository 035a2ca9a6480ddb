"""``Allow`` right on every 405: every method the path takes, not only the first route's.

Starlette answers a method no route of a path takes with the methods of the first route that
matched the path alone, so ``PUT /api/sessions/{id}`` said ``Allow: GET`` although PATCH and
DELETE are there too (three routes share the path). This middleware puts the union in.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.web.route_table import routes_at


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route takes at the request's path, in a fixed order."""
    return sorted(set().union(*(methods for _, methods in routes_at(routes, scope))))


class AllowHeader:
    """ASGI middleware: a 405's Allow lists every method of every route at that path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        asked = dict(scope)  # as sent: routing rewrites the scope's root_path on the way in

        async def send_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                allow = ", ".join(allowed_methods(asked["app"].routes, asked)).encode("latin-1")
                headers = [(n, v) for n, v in message.get("headers", []) if n.lower() != b"allow"]
                message = {**message, "headers": [*headers, (b"allow", allow)]}
            await send(message)

        await self.app(scope, receive, send_allow)
