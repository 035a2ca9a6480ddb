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
    """Every method the most specific routes at the request's path take, in a fixed order: a
    path written out (``/api/sessions/import``) is that resource, not a value of a parameter
    (``/api/sessions/{session_id}``) whose routes would only say there is no such session."""
    found = list(routes_at(routes, scope))
    fewest = min((parameters for _, parameters, _ in found), default=0)
    return sorted(set().union(*(methods for _, parameters, methods in found if parameters == fewest)))


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
