"""Helpers for the tests of the page's routes: a session behind the page's cookie, the page's
regions and elements in an answer."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any

import httpx
import numpy as np

from app import session
from app.store import MemoryStore
from app.web.deps import COOKIE
from app.web.replies import state_of
from app.web.templating import REGIONS

HX = {"HX-Request": "true"}


def use_session(client: httpx.AsyncClient, store: MemoryStore, **fields: Any) -> str:
    """Put a new session in the store and make it the page's (as the cookie would)."""
    created = session.create(f"s{store.count()}", **fields)
    store.add(created)
    client.cookies.clear()
    client.cookies.set(COOKIE, created.id, domain="testserver.local")
    return created.id


async def open_page(client: httpx.AsyncClient) -> tuple[str, str]:
    """A visitor with a fresh cookie jar opens the page and acts once (choosing the mode it is
    already in, which changes nothing): the session is kept then. Returns its id and the page."""
    client.cookies.clear()
    shown = await client.get("/")
    assert shown.status_code == 200 and COOKIE not in client.cookies
    first = await client.post("/page/data/mode", data={"mode": "sgd"}, follow_redirects=False)
    assert first.status_code == 303, first.text
    sid = client.cookies[COOKIE]
    response = await client.get("/")
    assert response.status_code == 200
    return sid, response.text


async def page_session(client: httpx.AsyncClient) -> str:
    """GET / with a fresh cookie jar; returns the session id."""
    sid, _ = await open_page(client)
    return sid


async def api_state(client: httpx.AsyncClient, sid: str) -> dict[str, Any]:
    response = await client.get(f"/api/sessions/{sid}")
    assert response.status_code == 200
    state: dict[str, Any] = response.json()
    return state


def text(response: httpx.Response) -> str:
    return html.unescape(response.text)


class Elements(HTMLParser):
    """Every start tag with its attributes, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(page)
    return parser.tags


def with_attr(page: str, name: str) -> list[dict[str, str | None]]:
    return [attrs for _, attrs in elements(page) if name in attrs]


def region_ids(fragment: str) -> list[tuple[str, bool]]:
    """The page regions in an htmx answer, in order: (id, swapped out of band)."""
    regions = "|".join(REGIONS)
    found = re.findall(rf'<\w+ id="({regions})"([^>]*)>', fragment)
    return [(rid, "hx-swap-oob=" in rest) for rid, rest in found]


def new_cookie(response: httpx.Response) -> str:
    """The session id of the cookie an answer sets."""
    match = re.match(rf"{COOKIE}=([^;]+);", response.headers["set-cookie"])
    assert match is not None
    return match.group(1)


def comparable(current: session.Session) -> dict[str, Any]:
    """The API state without the id."""
    state = state_of(current, follow_url="").model_dump()
    del state["id"], state["follow_url"]
    return state


def assert_same_parameters(ours: session.Session, theirs: session.Session) -> None:
    for a, b in zip(
        ours.params.weights + ours.params.biases, theirs.params.weights + theirs.params.biases, strict=True
    ):
        assert a.dtype == b.dtype and np.array_equal(a, b)
