"""The application object and the backprop-viz command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app import main
from app.pages import COOKIE
from app.settings import Settings
from app.store import MemoryStore


def test_uvicorn_finds_a_module_level_app() -> None:
    assert isinstance(main.app, FastAPI)
    assert isinstance(main.create_app(), FastAPI)


def test_the_command_passes_host_and_port_to_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr("uvicorn.run", lambda target, host, port: calls.append((target, host, port)))
    main.cli(["--host", "0.0.0.0", "--port", "8123"])
    main.cli([])
    assert calls == [("app.main:app", "0.0.0.0", 8123), ("app.main:app", "127.0.0.1", 8000)]


def test_the_command_explains_itself(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main.cli(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "--host" in out and "--port" in out


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
