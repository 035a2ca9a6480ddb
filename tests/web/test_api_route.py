"""A JSON body that is not UTF-8 is a 422 that says so, on every route that reads one (FastAPI
alone answered an undocumented 400), and changes nothing."""

from __future__ import annotations

import httpx
import pytest

from app.store import MemoryStore

pytestmark = pytest.mark.anyio

#: Valid JSON but for one byte that is no UTF-8 (Latin-1 "é").
LATIN1 = b'{"preset": "caf\xe9"}'


@pytest.mark.parametrize(
    "path", ["/api/sessions", "/api/sessions/{sid}/train", "/api/sheets", "/api/sessions/{sid}/check"]
)
async def test_a_body_that_is_not_utf8_is_a_422_saying_so(
    client: httpx.AsyncClient, store: MemoryStore, path: str
) -> None:
    sid = (await client.post("/api/sessions")).json()["id"]
    response = await client.post(
        path.format(sid=sid), content=LATIN1, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json() == {
        "detail": "the body is not UTF-8 text (JSON must be UTF-8)",
        "errors": [{"loc": ["body"], "msg": "the body is not UTF-8 text (JSON must be UTF-8)"}],
        "error_count": 1,
    }
    assert store.count() == 1
    assert (await client.get(f"/api/sessions/{sid}")).json()["step"] == 0


async def test_an_import_that_is_not_utf8_is_a_422_too(client: httpx.AsyncClient, store: MemoryStore) -> None:
    response = await client.post(
        "/api/sessions/import", content=LATIN1, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "the body is not UTF-8 text"
    assert store.count() == 0


async def test_utf8_text_passes(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/sessions", content='{"preset": "café"}'.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 422  # UTF-8, so it is read: an unknown preset, named
    assert response.json()["detail"] == "preset: Input should be 'article', 'mazur' or 'xor'"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "it is nested too deeply"),
        (b'{"seed": 1' + b"0" * 5000 + b"}", "Exceeds the limit (4300 digits) for integer string conversion"),
    ],
)
async def test_json_the_parser_gives_up_on_is_a_422_saying_why(
    client: httpx.AsyncClient, store: MemoryStore, body: bytes, why: str
) -> None:
    response = await client.post("/api/sessions", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"].startswith(f"the body cannot be read as JSON: {why}")
    assert store.count() == 0
