"""Share links in the page: made in the Network tab, opened (or refused) by a visitor."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from app import session, share
from app.datasets import make_dataset
from app.limits import (
    MAX_TOKEN_LENGTH,
)
from app.settings import Settings
from app.store import MemoryStore
from app.web.deps import COOKIE
from app.web.rate_limit import NewSessions
from tests.web.page import (
    HX,
    assert_same_parameters,
    new_cookie,
    page_session,
    text,
    use_session,
)

pytestmark = pytest.mark.anyio


def too_big_for_a_link() -> dict[str, Any]:
    rng = np.random.default_rng(1)
    table = make_dataset(rng.random((256, 8)).tolist(), rng.random((256, 1)).tolist())
    return {"layers": [8, 8, 1], "dataset": table}


async def test_share_link_opens_a_copy_with_identical_weights(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    old = use_session(client, store, layers=[2, 4, 1], dataset="xor", learning_rate=2.0, mode="batch", seed=5)
    for _ in range(7):
        await client.post("/page/step", headers=HX)
    response = await client.get("/page/network/share?tab=network", headers=HX)
    assert response.status_code == 200
    token = share.encode(store.get(old))
    assert f'value="http://testserver/share/{token}" data-share-url' in response.text
    assert f'<a href="/share/{token}">open it</a>' in response.text
    assert response.headers["cache-control"] == "no-store"  # the link names the host asked
    plain = await client.get("/page/network/share?tab=network")
    assert plain.status_code == 200 and "<html" in plain.text and token in plain.text
    assert plain.headers["cache-control"] == "no-store"

    opened = await client.get(f"/share/{token}", follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == "/"
    sid = new_cookie(opened)
    assert sid != old
    copy, original = store.get(sid), store.get(old)
    assert copy.config == original.config
    assert_same_parameters(copy, original)
    assert np.array_equal(copy.data.inputs, original.data.inputs) and copy.data.name == "xor"
    assert (copy.step, original.step) == (0, 7)  # a fresh session: no history
    api = [(await client.get(f"/api/sessions/{s}")).json() for s in (old, sid)]
    assert api[0]["weights"] == api[1]["weights"] and api[0]["biases"] == api[1]["biases"]


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("!!!", "the token may hold only letters, digits"),
        ("abc", "share link: the token"),
        ("A" * (MAX_TOKEN_LENGTH + 1), f"at most {MAX_TOKEN_LENGTH} are accepted"),
        ("eJyLjgUAARUAuQ", "share link: the token does not hold a JSON object"),  # zlib of "[]"
    ],
)
async def test_a_bad_share_link_is_a_page_with_the_reason(
    client: httpx.AsyncClient, store: MemoryStore, token: str, message: str
) -> None:
    sid = use_session(client, store)
    count = store.count()
    response = await client.get(f"/share/{token}", follow_redirects=False)
    assert response.status_code == 422
    assert "<html" in response.text
    assert "This share link cannot be opened: share link:" in text(response)
    assert message in text(response)
    assert "set-cookie" not in response.headers
    assert store.count() == count and client.cookies[COOKIE] == sid
    client.cookies.clear()  # a visitor with no session of their own: the default network, and the message
    fresh = await client.get(f"/share/{token}")
    assert fresh.status_code == 422 and message in text(fresh)
    assert "set-cookie" not in fresh.headers and 'data-session-id=""' in fresh.text
    assert store.count() == count


async def test_a_session_too_big_for_a_link_says_so(client: httpx.AsyncClient, store: MemoryStore) -> None:
    sid = use_session(client, store, **too_big_for_a_link())
    response = await client.get("/page/network/share?tab=network", headers=HX)
    assert response.status_code == 200
    assert "share link: this session needs" in response.text
    assert "export it as a file instead" in response.text
    api = await client.get(f"/api/sessions/{sid}/share")
    assert api.status_code == 422
    assert api.json()["detail"].startswith("share link: this session needs")


async def test_a_share_link_from_another_site_asks_first(client: httpx.AsyncClient) -> None:
    mine = await page_session(client)
    token = (await client.get(f"/api/sessions/{mine}/share")).json()["token"]
    asked = await client.get(
        f"/share/{token}", headers={"Sec-Fetch-Site": "cross-site"}, follow_redirects=False
    )
    assert asked.status_code == 200
    assert "set-cookie" not in asked.headers
    assert f'action="/share/{token}"' in asked.text and "Open the shared network" in asked.text
    foreign = await client.post(f"/share/{token}", headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    assert client.cookies["bpv_session"] == mine
    confirmed = await client.post(
        f"/share/{token}", headers={"Origin": "http://testserver"}, follow_redirects=False
    )
    assert confirmed.status_code == 303
    assert client.cookies["bpv_session"] != mine


async def test_a_share_link_is_on_the_public_url_when_there_is_one(app: FastAPI, store: MemoryStore) -> None:
    app.state.settings = Settings(store="memory", public_url="https://backprop.example.org")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        use_session(http, store)
        response = await http.get("/page/network/share?tab=network", headers={**HX, "Host": "evil.test"})
    token = share.encode(store.get(http.cookies[COOKIE]))
    assert f'value="https://backprop.example.org/share/{token}" data-share-url' in response.text


async def test_opening_share_links_past_the_rate_limit_is_refused(
    client: httpx.AsyncClient, store: MemoryStore, app: FastAPI
) -> None:
    app.state.new_sessions = NewSessions("2/minute")
    token = share.encode(session.create("x", seed=4))
    for _ in range(2):
        assert (await client.get(f"/share/{token}", follow_redirects=False)).status_code == 303
    refused = await client.get(f"/share/{token}", follow_redirects=False)
    assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
    assert "This share link cannot be opened: too many new sessions from your address" in text(refused)
    assert store.count() == 2
