"""The page's cookie: SameSite=Lax by default; SameSite=None; Secure; Partitioned when another
site may frame the pages (BACKPROP_FRAME_ANCESTORS), so it reaches the server from that frame."""

from __future__ import annotations

import pytest
from fastapi import Request, Response

from app import session
from app.main import create_app
from app.settings import Settings
from app.store import MemoryStore
from app.web.deps import COOKIE, set_cookie


def cookie_of(settings: Settings, scheme: str = "http") -> str:
    app = create_app(settings, store=MemoryStore(ttl=60.0, max_sessions=10))
    scope = {"type": "http", "app": app, "scheme": scheme, "server": ("testserver", 80), "path": "/"}
    request = Request({**scope, "headers": [(b"host", b"testserver")], "query_string": b""})
    response = Response()
    set_cookie(response, request, session.create("abc"))
    return response.headers["set-cookie"]


@pytest.mark.parametrize(
    ("frame_ancestors", "scheme", "expected"),
    [
        ((), "http", f"{COOKIE}=abc; HttpOnly; Max-Age=60; Path=/; SameSite=lax"),
        ((), "https", f"{COOKIE}=abc; HttpOnly; Max-Age=60; Path=/; SameSite=lax; Secure"),
        (("'self'",), "http", f"{COOKIE}=abc; HttpOnly; Max-Age=60; Path=/; SameSite=lax"),
        (
            ("https://lms.example.edu",),
            "http",
            f"{COOKIE}=abc; HttpOnly; Max-Age=60; Path=/; SameSite=none; Secure; Partitioned",
        ),
        (
            ("'self'", "https://*.jupyter.example"),
            "https",
            f"{COOKIE}=abc; HttpOnly; Max-Age=60; Path=/; SameSite=none; Secure; Partitioned",
        ),
    ],
)
def test_the_cookie_is_partitioned_when_another_site_may_frame_the_page(
    frame_ancestors: tuple[str, ...], scheme: str, expected: str
) -> None:
    settings = Settings(store="memory", session_ttl=60.0, frame_ancestors=frame_ancestors)
    assert cookie_of(settings, scheme) == expected
