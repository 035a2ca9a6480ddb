"""The application object and the backprop-viz command."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from app import main


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
