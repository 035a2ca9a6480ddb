"""The Origin check of the API: a write from a foreign origin is refused (403) and changes nothing,
unless BACKPROP_ALLOWED_ORIGINS lists it (which also gives it CORS); reads, requests without an
Origin (scripts, notebooks) and same-origin requests pass."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app.main import create_app
from app.settings import Settings
from app.store import MemoryStore
from app.web.origins import is_same_origin

pytestmark = pytest.mark.anyio

FOREIGN = {"Origin": "https://evil.example"}
LMS = "https://lms.example.edu"


@pytest.fixture
async def allowing(store: MemoryStore) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that lets the LMS's pages write."""
    app = create_app(Settings(store="memory", allowed_origins=(LMS,)), store=store)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        yield http


@pytest.mark.parametrize(
    ("origin", "host", "same"),
    [
        ("http://testserver", "testserver", True),
        ("https://app.example:8443", "app.example:8443", True),
        ("HTTP://App.Example", "app.example", True),
        ("http://testserver:8000", "testserver", False),
        ("https://evil.example", "testserver", False),
        ("null", "null", False),
    ],
)
def test_same_origin_is_the_host_the_request_was_sent_to(origin: str, host: str, same: bool) -> None:
    assert is_same_origin(origin, host) is same


async def test_a_write_from_a_foreign_origin_is_refused(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    sid = (await client.post("/api/sessions")).json()["id"]
    writes = [
        ("POST", "/api/sessions", None),
        ("POST", f"/api/sessions/{sid}/step", None),
        ("POST", f"/api/sessions/{sid}/reset", None),
        ("PATCH", f"/api/sessions/{sid}", {"learning_rate": 0.1}),
        ("DELETE", f"/api/sessions/{sid}", None),
        ("POST", "/api/sheets", {"blanks": 2}),
    ]
    for method, path, body in writes:
        response = await client.request(method, path, json=body, headers=FOREIGN)
        assert response.status_code == 403, (method, path)
        assert response.json() == {
            "detail": "a request from the foreign origin 'https://evil.example' was refused: list it in "
            "BACKPROP_ALLOWED_ORIGINS to let its pages write"
        }
    assert (await client.get(f"/api/sessions/{sid}")).json()["step"] == 0
    assert store.count() == 1


@pytest.mark.parametrize("origin", ["null", "http://testserver.evil.example", "http://testserver:81"])
async def test_lookalikes_are_foreign(client: httpx.AsyncClient, origin: str) -> None:
    assert (await client.post("/api/sessions", headers={"Origin": origin})).status_code == 403


async def test_reads_requests_without_origin_and_same_origin_writes_pass(client: httpx.AsyncClient) -> None:
    sid = (await client.post("/api/sessions")).json()["id"]  # a script: no Origin
    assert (await client.get(f"/api/sessions/{sid}", headers=FOREIGN)).status_code == 200
    same = await client.post(f"/api/sessions/{sid}/step", headers={"Origin": "http://testserver"})
    assert same.status_code == 200
    assert "access-control-allow-origin" not in same.headers


async def test_an_allowed_origin_writes_and_reads_by_cors(allowing: httpx.AsyncClient) -> None:
    created = await allowing.post("/api/sessions", headers={"Origin": LMS})
    assert created.status_code == 201
    assert created.headers["access-control-allow-origin"] == LMS
    assert "location" in created.headers["access-control-expose-headers"].lower()
    assert (await allowing.post("/api/sessions", headers=FOREIGN)).status_code == 403


async def test_a_preflight_from_an_allowed_origin_lets_the_key_header_through(
    allowing: httpx.AsyncClient,
) -> None:
    response = await allowing.options(
        "/api/sessions",
        headers={
            "Origin": LMS,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, idempotency-key",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == LMS
    assert "idempotency-key" in response.headers["access-control-allow-headers"].lower()
    refused = await allowing.options(
        "/api/sessions", headers={**FOREIGN, "Access-Control-Request-Method": "POST"}
    )
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
