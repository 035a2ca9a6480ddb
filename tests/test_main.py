"""The application object: create_app and what it mounts."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app import main
from app.settings import Settings
from app.store import MemoryStore
from app.web.deps import COOKIE


def test_uvicorn_finds_a_module_level_app() -> None:
    assert isinstance(main.app, FastAPI)
    assert isinstance(main.create_app(), FastAPI)


@pytest.mark.anyio
async def test_without_the_front_end_packages_vendor_urls_answer_404_and_the_page_works(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # As after a checkout without `npm ci`: no folder for any front-end package.
    monkeypatch.setattr(main, "VENDOR", {"htmx": tmp_path / "htmx", "swagger-ui": tmp_path / "swagger-ui"})
    app = main.create_app(Settings(store="memory"), store=MemoryStore(ttl=3600.0, max_sessions=10))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        assert (await http.get("/vendor/htmx/htmx.min.js")).status_code == 404
        assert (await http.get("/vendor/swagger-ui/swagger-ui-bundle.js")).status_code == 404
        page = await http.get("/")
        assert page.status_code == 200
        # Without JavaScript every control is a form: one posted step comes back to the page.
        stepped = await http.post("/page/step", headers={"Origin": "http://testserver"})
        assert (stepped.status_code, stepped.headers["location"]) == (303, "/")
        state = (await http.get(f"/api/sessions/{http.cookies[COOKIE]}")).json()
        assert state["step"] == 1


class UnreachableStore(MemoryStore):
    """A store whose backend does not answer (a Redis host down, say)."""

    def ping(self) -> None:
        raise ConnectionRefusedError("[Errno 111] Connection refused")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("store", "status", "body"),
    [
        (MemoryStore(ttl=60.0, max_sessions=10), 200, {"status": "ok"}),
        (
            UnreachableStore(ttl=60.0, max_sessions=10),
            503,
            {
                "status": "unavailable",
                "detail": "the session store is not reachable: "
                "ConnectionRefusedError: [Errno 111] Connection refused",
            },
        ),
    ],
)
async def test_readyz_answers_whether_the_store_does_and_healthz_does_not_ask(
    store: MemoryStore, status: int, body: dict[str, str]
) -> None:
    app = main.create_app(Settings(store="memory"), store=store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        ready = await http.get("/readyz")
        assert (ready.status_code, ready.json()) == (status, body)
        alive = await http.get("/healthz")
        assert (alive.status_code, alive.json()) == (200, {"status": "ok"})


@pytest.mark.anyio
async def test_readyz_is_503_when_the_sqlite_file_cannot_be_opened(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file where the data folder should be")
    app = main.create_app(Settings(store="sqlite", data_dir=tmp_path / "data"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        ready = await http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["detail"].startswith("the session store is not reachable: FileExistsError: ")
        assert (await http.get("/healthz")).status_code == 200
