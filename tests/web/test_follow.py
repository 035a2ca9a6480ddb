"""The follow view's routes (app/web/follow.py): a read-only view under an id of its own, its
server-sent events over a real server on loopback, the presenter's follow link and QR code."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from app.settings import Settings
from app.store import MemoryStore
from app.web.deps import COOKIE
from app.web.live import Hub
from tests.browser import LiveServer, start_server, stop_server
from tests.web.page import HX, elements, open_page, use_session

#: Longest the loopback tests wait for an event or a condition (a guard against hanging, not a speed test).
WAIT_SECONDS = 10.0
WRITES = ["forward", "backward", "update", "step", "substep", "reset", "undo"]


async def new_session(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/api/sessions")
    assert response.status_code == 201
    state: dict[str, Any] = response.json()
    return state


def follow_id_of(state: dict[str, Any]) -> str:
    match = re.fullmatch(r"/follow/([A-Za-z0-9_-]{22})", state["follow_url"])
    assert match is not None, state["follow_url"]
    return match.group(1)


def data_attributes(page: str, marker: str) -> list[dict[str, str | None]]:
    return [
        {k: v for k, v in attrs.items() if k.startswith("data-")}
        for _, attrs in elements(page)
        if marker in attrs
    ]


# --------------------------------------------------------------------------------------------
# The follow link in the state JSON, and what it opens
# --------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_state_carries_a_follow_url_of_its_own(client: httpx.AsyncClient) -> None:
    first, second = await new_session(client), await new_session(client)
    link = follow_id_of(first)
    assert link != first["id"] and first["id"] not in first["follow_url"]
    assert follow_id_of(second) != link
    stepped = await client.post(f"/api/sessions/{first['id']}/step")
    assert stepped.json()["follow_url"] == first["follow_url"]  # a session keeps its link
    read = await client.get(f"/api/sessions/{first['id']}")
    assert read.json()["follow_url"] == first["follow_url"]
    for answer in (stepped, read, await client.get(f"/api/sessions/{first['id']}/share")):
        assert answer.headers["cache-control"] == "no-store"


@pytest.mark.anyio
async def test_writes_with_the_follow_id_are_refused(client: httpx.AsyncClient, store: MemoryStore) -> None:
    state = await new_session(client)
    link = follow_id_of(state)
    for action in WRITES:
        assert (await client.post(f"/api/sessions/{link}/{action}")).status_code == 404
    assert (await client.patch(f"/api/sessions/{link}", json={"learning_rate": 1.0})).status_code == 404
    assert (await client.delete(f"/api/sessions/{link}")).status_code == 404
    assert (await client.post(f"/api/sessions/{link}/train", json={"epochs": 3})).status_code == 404
    for path in (f"/follow/{link}", f"/follow/{link}/events", f"/follow/{link}/forward"):
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            refused = await client.request(method, path)
            assert refused.status_code == 403, (method, path)
            assert refused.json() == {"detail": "a follow link is read-only: it cannot change the session"}
    # The page's routes take the session from the cookie: a follow id there is no session at all,
    # so a page action is a visitor's first action: it starts a session of its own.
    for action in WRITES:
        client.cookies.set(COOKIE, link, domain="testserver.local")
        answer = await client.post(f"/page/{action}", headers=HX)
        assert answer.status_code < 400
        given = answer.headers.get("set-cookie", "").split(";")[0].removeprefix(f"{COOKIE}=")
        assert given not in (link, state["id"])  # a new session of the visitor's own, or none
    after = store.get(state["id"])
    assert (after.step, after.phase) == (0, "idle")


@pytest.mark.anyio
async def test_the_follow_view_shows_the_presenters_diagram_without_controls(
    client: httpx.AsyncClient,
) -> None:
    sid, _ = await open_page(client)
    await client.post("/page/forward", headers=HX)
    page = (await client.get("/")).text
    state = (await client.get(f"/api/sessions/{sid}")).json()
    client.cookies.clear()  # a student: no session of the presenter's
    response = await client.get(state["follow_url"])
    assert response.status_code == 200
    view = response.text
    for marker in ("data-node", "data-edge", "data-target"):
        assert data_attributes(view, marker) == data_attributes(page, marker), marker
    assert f'data-loss="{state["forward"]["loss"]!r}"' in view
    assert 'data-quantity="L"' in view  # the working of what the last step computed: the loss
    assert 'data-step="0"' in view and 'data-next="backward"' in view
    tags = {tag for tag, _ in elements(view)}
    assert not tags & {"button", "form", "input", "a"}  # nothing to press, nothing to open
    assert "hx-post" not in view and "/page/" not in view
    assert f'sse-connect="/follow/{follow_id_of(state)}/events"' in view
    assert sid not in view  # the page never names the session it shows
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "script-src 'self'" in response.headers["content-security-policy"]


@pytest.mark.anyio
async def test_a_follow_view_opens_before_any_step(client: httpx.AsyncClient) -> None:
    state = await new_session(client)
    view = (await client.get(state["follow_url"])).text
    assert "Nothing computed yet" in view and "data-loss" not in view


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/follow/{}", "/follow/{}/events"])
async def test_a_wrong_or_ended_follow_link_opens_nothing(client: httpx.AsyncClient, path: str) -> None:
    state = await new_session(client)
    assert (await client.get(path.format("not-a-follow-id"))).status_code == 404
    assert (await client.get(path.format(state["id"]))).status_code == 404  # the session id is no follow id
    await client.delete(f"/api/sessions/{state['id']}")
    assert (await client.get(path.format(follow_id_of(state)))).status_code == 404


# --------------------------------------------------------------------------------------------
# The presenter's follow link and QR code
# --------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_follow_link_region_has_the_absolute_address_and_a_qr_code(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    sid, page = await open_page(client)
    assert 'hx-get="/page/follow-link"' in page and '<div id="follow" class="follow-slot"></div>' in page
    response = await client.get("/page/follow-link", headers=HX)
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    path = (await client.get(f"/api/sessions/{sid}")).json()["follow_url"]
    region = response.text
    assert region.lstrip().startswith('<div id="follow" class="follow-slot">')
    assert f'href="http://testserver{path}" data-follow-url' in region
    assert re.search(
        r'<div class="qr" role="img" aria-label="[^"]+"><svg viewBox="0 0 (\d+) \1" class="qr">', region
    )
    hidden = await client.get("/page/follow-link?hide=1", headers=HX)
    assert hidden.text.strip() == '<div id="follow" class="follow-slot"></div>'
    plain = await client.get("/page/follow-link")  # without JavaScript: a page of its own
    assert "<!doctype html>" in plain.text and f"http://testserver{path}" in plain.text


@pytest.mark.anyio
async def test_the_public_url_setting_makes_the_address() -> None:
    store = MemoryStore(ttl=3600.0, max_sessions=10)
    app = create_app(Settings(store="memory", public_url="https://backprop.example.org/course"), store=store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://10.0.0.5:8000") as client:
        sid, _ = await open_page(client)
        path = (await client.get(f"/api/sessions/{sid}")).json()["follow_url"]
        region = (await client.get("/page/follow-link", headers=HX)).text
        assert f'href="https://backprop.example.org/course{path}"' in region


@pytest.mark.anyio
async def test_a_lost_page_session_asking_for_the_follow_link_starts_again(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    use_session(client, store)
    client.cookies.set(COOKIE, "gone", domain="testserver.local")
    response = await client.get("/page/follow-link", headers=HX)
    assert (response.status_code, response.headers["hx-redirect"]) == (204, "/")


# --------------------------------------------------------------------------------------------
# Server-sent events, on a real server over loopback
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    live = start_server()
    yield live
    stop_server(live)


def hub_of(live: LiveServer) -> Hub:
    app = live.server.config.app
    assert isinstance(app, FastAPI)
    hub: Hub = app.state.live
    return hub


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


class Events:
    """The events of an SSE stream, read one at a time."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.iter_lines()

    def next(self) -> dict[str, str]:
        """The next event with a name (keep-alive comments and the retry hint are skipped)."""
        while True:
            fields: dict[str, str] = {}
            for line in self.lines:
                if line == "":
                    break
                name, _, value = line.partition(": ")
                if name == "data":
                    fields["data"] = fields["data"] + "\n" + value if "data" in fields else value
                elif name:
                    fields[name] = value
            if "event" in fields:
                return fields


def test_a_follower_sees_each_step_and_leaving_releases_it(server: LiveServer) -> None:
    hub = hub_of(server)
    with httpx.Client(base_url=server.url, timeout=WAIT_SECONDS) as http:
        state = http.post("/api/sessions").json()
        sid = state["id"]
        with http.stream("GET", f"{state['follow_url']}/events") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-store"
            events = Events(response)
            first = events.next()
            assert first["event"] == "update" and 'data-step="0"' in first["data"]
            assert "data-activation" not in first["data"]
            assert hub.subscriber_count(sid) == 1
            forward = http.post(f"/api/sessions/{sid}/forward").json()
            update = events.next()
            assert update["event"] == "update"
            assert f'data-loss="{forward["forward"]["loss"]!r}"' in update["data"]
            assert (
                '<p id="follow-announce" hx-swap-oob="innerHTML">Update 0. Forward pass done'
                in update["data"]
            )
            http.post(f"/api/sessions/{sid}/step")
            assert 'data-step="1"' in events.next()["data"]
        # The connection is closed: the hub lets go of it and of the session's watcher.
        wait_until(lambda: hub.subscriber_count() == 0 and hub.watcher_count() == 0)


def test_followers_of_a_session_that_ends_are_told_so(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, timeout=WAIT_SECONDS) as http:
        state = http.post("/api/sessions").json()
        with http.stream("GET", f"{state['follow_url']}/events") as response:
            events = Events(response)
            assert events.next()["event"] == "update"
            assert http.delete(f"/api/sessions/{state['id']}").status_code == 204
            gone = events.next()
            assert gone["event"] == "gone" and "This session has ended" in gone["data"]
            assert list(events.lines) == []  # and the stream ends
